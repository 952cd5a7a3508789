"""A run is a serialisable config: data, layers, optimizer, schedule, seed, device.

Configs round-trip through plain dicts (JSON or YAML files, the page's widgets, the CLI). Unknown
keys and bad values raise ConfigError with the field, the value and the fix.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playground.errors import ConfigError


def store_home() -> Path:
    """The folder of the run store and the uploaded data sets: PLAYGROUND_HOME, default runs/ beside the app."""
    return Path(os.environ.get("PLAYGROUND_HOME") or Path(__file__).resolve().parents[1] / "runs")

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
INITS = ("default", "xavier", "he", "normal", "ones")
TASKS = ("auto", "classification", "regression", "reconstruction", "sequence")
LOSSES = {                        # per task; the first is the default ("auto")
    "classification": ("cross_entropy", "bce", "hinge", "mse"),
    "regression": ("mse", "mae", "huber", "logcosh"),
    "reconstruction": ("mse", "bce"),
    "sequence": ("cross_entropy",),
}
SCHEDULES = ("constant", "step", "exponential", "cosine", "onecycle", "warmup")
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_SEED = 2**31 - 1              # the app's range; numpy's RandomState takes < 2**32, and the engine also uses seed+2
MAX_EPOCHS = 100_000              # more would hold a shared server for days
MAX_BATCH_SIZE = 1_000_000
EVAL_BATCH = 1024                 # samples per no-grad forward pass when a split is evaluated
GRID = 70                         # 2-D data: the decision boundary is predicted on a GRID x GRID lattice
MAX_SEQ_LEN = 256                 # token sequence sets: attention is quadratic in the length
MAX_VOCAB = 1_000
MAX_POINTS = 1_000_000            # 2-D toys: the shapes show with 500 to 5,000 points
AUGMENTS = {                      # image augmentation: name -> (largest strength, what the strength is)
    "flip": (1.0, "probability of a horizontal flip"),
    "rotate": (180.0, "largest rotation in degrees, either way"),
    "crop": (0.9, "largest share of the area a random resized crop cuts away"),
    "shift": (0.5, "largest shift as a share of the width and height (zero padding)"),
    "jitter": (1.0, "largest change of brightness and contrast (and saturation in colour), as a factor 1 +/- s"),
    "noise": (1.0, "standard deviation of added Gaussian noise"),
    "erase": (1.0, "probability of erasing a random rectangle"),
}


@dataclass
class DataConfig:
    name: str = "spiral"          # a key of playground.data.DATASETS
    n_samples: int = 500          # 2-D toys: points generated (train + validation)
    noise: float = 0.1            # 2-D toys: noise level, 0 (clean) to 0.5 (very noisy)
    val_fraction: float = 0.2     # share of the samples held out for validation
    max_train: int = 0            # image, table and sequence sets: cap on training samples, 0 = all
    data_dir: str = "data"        # torchvision sets: folder holding (or receiving) the files
    download: bool = False        # torchvision sets: fetch missing files from the internet
    standardize: bool = True      # tables and regression sets: scale each input to mean 0, std 1 (fit on train)
    function: str = "sine"        # 1-D curve fit: one of playground.data.regression.FUNCTIONS
    seq_len: int = 8              # token sequence sets: tokens per sequence
    vocab: int = 10               # token sequence sets: distinct token values
    augment: dict = field(default_factory=dict)  # image sets: {transform: strength} of AUGMENTS applied on the
                                  # fly to training batches, e.g. {rotate: 15, flip: 0.5}; empty = off
    upload: str = ""              # name "upload": the uploaded set's id (`python -m playground data list`)
    path: str = ""                # names "csv", "folder": a CSV/TSV file, a folder of class folders (the CLI only)
    target: str = ""              # uploaded and CSV tables: the column to predict
    target_task: str = ""         # "classification", "regression", or "" (proposed from the target's values)
    features: list = field(default_factory=list)   # tables: the input columns; empty = every column but the target
    missing: str = "drop"         # tables: rows with a missing input are dropped, or ("mean") filled with the mean
    image_size: int = 28          # your own images: each resized to this many pixels a side
    colour: bool = False          # your own images: colour (3 channels) or grey (1)

    @classmethod
    def from_dict(cls, d: dict) -> "DataConfig":
        cfg = _fill(cls, d or {}, "data")
        cfg.validate()
        return cfg

    def validate(self) -> None:
        _check_finite(self, "data")
        _check(0 < self.val_fraction < 1,
               f"data.val_fraction: must be between 0 and 1 (exclusive), got {self.val_fraction}")
        _check(0 <= self.noise <= 1, f"data.noise: must be between 0 and 1, got {self.noise}")
        _check(self.n_samples >= 20, f"data.n_samples: need at least 20 points, got {self.n_samples}")
        _check(self.n_samples <= MAX_POINTS, f"data.n_samples: at most {MAX_POINTS:,} points, got {self.n_samples:,}; "
                                             f"the 2-D sets show their shape with 500 to 5,000 points")
        _check(self.max_train >= 0, f"data.max_train: must be 0 (all) or more, got {self.max_train}")
        _check(2 <= self.seq_len <= MAX_SEQ_LEN, f"data.seq_len: must be from 2 to {MAX_SEQ_LEN}, got {self.seq_len}")
        _check(2 <= self.vocab <= MAX_VOCAB, f"data.vocab: must be from 2 to {MAX_VOCAB}, got {self.vocab}")
        self._check_augment()
        _check(self.target_task in ("", "classification", "regression"),
               f"data.target_task: 'classification', 'regression' or '' (proposed from the target), got "
               f"'{self.target_task}'")
        _check(self.missing in ("drop", "mean"),
               f"data.missing: 'drop' (rows with a missing input) or 'mean' (the column's training mean), got "
               f"'{self.missing}'")
        _check(8 <= self.image_size <= 128, f"data.image_size: from 8 to 128 pixels a side, got {self.image_size}")
        if self.features is None:
            self.features = []
        _check(isinstance(self.features, list) and all(isinstance(f, str) for f in self.features),
               f"data.features: a list of column names, got {self.features!r}")

    def _check_augment(self) -> None:
        if self.augment is None:                            # `augment:` left empty in a YAML file
            self.augment = {}
        _check(isinstance(self.augment, dict), f"data.augment: must be a mapping of transform to strength, got "
                                               f"{self.augment!r}; e.g. {{rotate: 15, flip: 0.5}}, or {{}} for none")
        for name, value in self.augment.items():
            _check(name in AUGMENTS, f"data.augment: unknown transform '{name}'; pick from {', '.join(AUGMENTS)}")
            top, what = AUGMENTS[name]
            _check(not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value),
                   f"data.augment.{name}: expected a number ({what}), got {value!r}; e.g. {top / 2:g}")
            _check(0 <= value <= top, f"data.augment.{name}: the {what} must be from 0 to {top:g}, got {value:g}")


@dataclass
class OptimConfig:
    name: str = "adam"            # one of OPTIMIZERS; "momentum" is SGD with momentum
    lr: float = 0.01              # learning rate
    momentum: float = 0.9         # momentum / nesterov (PyTorch form: v = mu*v + g)
    weight_decay: float = 0.0     # L2 penalty (decoupled for adamw)
    beta1: float = 0.9            # adam / adamw
    beta2: float = 0.999          # adam / adamw
    eps: float = 1e-8             # adam / adamw / rmsprop / adagrad
    alpha: float = 0.99           # rmsprop smoothing (PyTorch's default; Keras' rho is 0.9)


@dataclass
class ScheduleConfig:
    name: str = "constant"        # one of SCHEDULES; the learning rate changes every optimizer step
    gamma: float = 0.5            # step: factor every step_epochs; exponential: factor per epoch
    step_epochs: int = 10         # step: epochs between two decays
    warmup_epochs: float = 1.0    # warmup: epochs of linear warm-up from 1% of the learning rate


@dataclass
class LossConfig:
    name: str = "auto"            # auto = the task's usual loss; else one of LOSSES[task]
    label_smoothing: float = 0.0  # cross-entropy: share of the target spread over the other classes
    class_weights: str = "none"   # classification: "none", "balanced" (n / (classes x count)) or "1, 2, 1"
    kl_weight: float = 1.0        # variational autoencoders: weight of the KL term (beta)
    huber_delta: float = 1.0      # huber: where the loss turns from quadratic to linear


@dataclass
class RunConfig:
    name: str = ""                # label shown in run pickers
    data: DataConfig = field(default_factory=DataConfig)
    layers: list = field(default_factory=list)  # [{"type": "Linear", "out_features": 16}, ...]
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    task: str = "auto"            # one of TASKS; auto = the data set's own task
    loss: LossConfig = field(default_factory=LossConfig)
    l1: float = 0.0               # L1 penalty: l1 x sum of |weight| added to the loss (L2 is optim.weight_decay)
    clip_norm: float = 0.0        # clip the gradient's total norm to this before each step; 0 = off
    patience: int = 0             # early stopping: stop after this many epochs without a lower validation
                                  # loss and restore the best weights; 0 = off
    batch_size: int = 32          # samples per optimizer step
    epochs: int = 20              # passes over the training set
    init: str = "default"         # weight initialisation: one of INITS
    seed: int = 0                 # drives data, initial weights, data order and dropout
    device: str = "auto"          # one of DEVICES; auto = cuda, then mps, then cpu
    amp: bool = False             # mixed precision (CUDA only)
    threads: int = 1              # torch intra-op threads: 2 spin at barriers beside any busy process (4x slower)
    stats: bool = True            # record layer statistics (weights, gradients, outputs) at each snapshot

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        if not isinstance(d, dict):
            raise ConfigError(f"a run config must be a mapping of fields, got {type(d).__name__}")
        d = dict(d)
        data = _fill(DataConfig, d.pop("data", {}) or {}, "data")
        optim = _fill(OptimConfig, d.pop("optim", {}) or {}, "optim")
        schedule = _fill(ScheduleConfig, d.pop("schedule", {}) or {}, "schedule")
        loss = d.pop("loss", {}) or {}
        if isinstance(loss, str):                           # `loss: mse` is short for `loss: {name: mse}`
            loss = {"name": loss}
        loss = _fill(LossConfig, loss, "loss")
        cfg = _fill(cls, d, "run", data=data, optim=optim, schedule=schedule, loss=loss)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        _check_finite(self.optim, "optim")
        _check_finite(self.schedule, "schedule")
        _check_finite(self.loss, "loss")
        _check_finite(self, "run")
        _check(self.task in TASKS, f"task: unknown task '{self.task}'; pick one of {', '.join(TASKS)}")
        known = sorted({n for names in LOSSES.values() for n in names})
        _check(self.loss.name == "auto" or self.loss.name in known,
               f"loss.name: unknown loss '{self.loss.name}'; pick one of auto, {', '.join(known)}")
        _check(0 <= self.loss.label_smoothing < 1,
               f"loss.label_smoothing: must be from 0 up to (not including) 1, got {self.loss.label_smoothing}")
        _check(self.loss.kl_weight >= 0, f"loss.kl_weight: must be 0 or more, got {self.loss.kl_weight}")
        _check(self.loss.huber_delta > 0, f"loss.huber_delta: must be above 0, got {self.loss.huber_delta}")
        parse_class_weights(self.loss.class_weights)
        _check(self.l1 >= 0, f"l1: must be 0 or more, got {self.l1}")
        _check(self.clip_norm >= 0, f"clip_norm: must be 0 (off) or more, got {self.clip_norm}")
        _check(self.patience >= 0, f"patience: must be 0 (off) or more epochs, got {self.patience}")
        _check(self.optim.name in OPTIMIZERS,
               f"optim.name: unknown optimizer '{self.optim.name}'; pick one of {', '.join(OPTIMIZERS)}")
        _check(self.schedule.name in SCHEDULES, f"schedule.name: unknown schedule '{self.schedule.name}'; "
                                                f"pick one of {', '.join(SCHEDULES)}")
        _check(0 < self.schedule.gamma <= 1, f"schedule.gamma: must be in (0, 1], got {self.schedule.gamma}")
        _check(self.schedule.step_epochs >= 1,
               f"schedule.step_epochs: must be at least 1, got {self.schedule.step_epochs}")
        _check(self.schedule.warmup_epochs > 0,
               f"schedule.warmup_epochs: must be above 0, got {self.schedule.warmup_epochs}")
        _check(self.init in INITS, f"init: unknown initialisation '{self.init}'; pick one of {', '.join(INITS)}")
        _check(self.device in DEVICES, f"device: unknown device '{self.device}'; pick one of {', '.join(DEVICES)}")
        _check(self.optim.lr > 0, f"optim.lr: the learning rate must be above 0, got {self.optim.lr}")
        _check(self.batch_size >= 1, f"batch_size: must be at least 1, got {self.batch_size}")
        _check(self.batch_size <= MAX_BATCH_SIZE, f"batch_size: must be at most {MAX_BATCH_SIZE:,}, got "
                                                  f"{self.batch_size:,}; a batch the size of the training set "
                                                  f"already takes every sample")
        _check(self.epochs >= 1, f"epochs: must be at least 1, got {self.epochs}")
        _check(self.epochs <= MAX_EPOCHS, f"epochs: must be at most {MAX_EPOCHS:,}, got {self.epochs:,}; "
                                          f"a run that long would hold a shared server for days")
        _check(0 <= self.seed <= MAX_SEED, f"seed: must be from 0 to {MAX_SEED:,} (2**31 - 1), got {self.seed}; "
                                           f"any seed in that range works, e.g. 0")
        o = self.optim
        _check(0 <= o.momentum < 1, f"optim.momentum: must be from 0 up to (not including) 1, got {o.momentum}")
        _check(o.name != "nesterov" or o.momentum > 0,
               "optim.momentum: Nesterov needs a momentum above 0 (e.g. 0.9); with 0 use plain SGD")
        _check(0 <= o.beta1 < 1 and 0 <= o.beta2 < 1,
               f"optim.beta1/beta2: must be from 0 up to (not including) 1, got {o.beta1}, {o.beta2}")
        _check(o.eps > 0, f"optim.eps: must be above 0, got {o.eps}")
        _check(0 <= o.alpha < 1, f"optim.alpha: must be from 0 up to (not including) 1, got {o.alpha}")
        _check(self.optim.weight_decay >= 0, f"optim.weight_decay: must be 0 or more, got {self.optim.weight_decay}")
        self.data.validate()
        _check(self.threads >= 1, f"threads: must be at least 1, got {self.threads}")
        cores = os.cpu_count()
        _check(cores is None or self.threads <= cores, f"threads: must be at most {cores} (this machine's CPU cores), "
                                                       f"got {self.threads}; 1 is best when other runs share them")
        _check(isinstance(self.layers, list) and all(isinstance(x, dict) and "type" in x for x in self.layers),
               "layers: must be a list of mappings, each with a 'type' (e.g. {type: Linear, out_features: 16})")
        _check(len(self.layers) > 0, "layers: the network is empty; add at least one layer (e.g. Linear)")


def parse_class_weights(text: str):
    """"none" -> None, "balanced" -> "balanced", "1, 2, 1" -> [1.0, 2.0, 1.0]; raises ConfigError."""
    t = str(text).strip().lower()
    if t in ("", "none"):
        return None
    if t == "balanced":
        return "balanced"
    try:
        w = [float(v) for v in t.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        w = []
    if not w or not all(math.isfinite(v) and v >= 0 for v in w) or not any(w):
        raise ConfigError(f"loss.class_weights: cannot read '{text}'; write none, balanced, or one weight "
                          f"of 0 or more per class, e.g. 1, 2, 1")
    return w


def _check(ok: bool, msg: str) -> None:
    if not ok:
        raise ConfigError(msg)


def _check_finite(section, where: str) -> None:
    """Every float field of a section must be a finite number: inf passes `lr > 0`, and nan fails every
    comparison, so range checks alone let them through or explain them badly."""
    for f in dataclasses.fields(section):
        if not isinstance(f.default, float):
            continue
        v = getattr(section, f.name)
        name = f.name if where == "run" else f"{where}.{f.name}"
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{name}: expected a number, got {v!r}; e.g. {f.default:g} (the default)")
        _check(math.isfinite(v), f"{name}: must be a finite number, got {v}; "
                                 f"e.g. {f.default:g} (the default)")


def _fill(klass, values: dict, where: str, **fixed):
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: must be a mapping of fields, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(klass)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}; known fields: {', '.join(fields)}")
    kwargs = dict(fixed)
    for name, value in values.items():
        default = fields[name].default
        kwargs[name] = _coerce(value, default, f"{where}.{name}" if where != "run" else name)
    return klass(**kwargs)


def _coerce(value: Any, default: Any, where: str) -> Any:
    """Coerce JSON/YAML scalars to the type of the field's default (1 -> 1.0, "1e-3" -> 0.001)."""
    if default is dataclasses.MISSING or isinstance(default, list) or value is None and default is None:
        return value
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(default, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, str):
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {type(default).__name__}, got {value!r}") from None
    return value


def load_config(path: str | Path) -> RunConfig:
    """Read a JSON or YAML run config file."""
    return RunConfig.from_dict(read_mapping(path))


def read_mapping(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file '{path}' not found; give the path of a .json or .yaml file (see examples/)")
    try:
        text = path.read_text(encoding="utf-8")
    except ValueError as e:                                 # UnicodeDecodeError
        kind = path.suffix.lstrip(".").upper() or "JSON"
        raise ConfigError(f"config file '{path}' is not valid {kind}: {e}") from None
    return parse_mapping(text, path.name, f"config file '{path}'")


def parse_mapping(text: str, name: str, label: str) -> dict:
    """A config file's text as read by its name's suffix: YAML for .yaml/.yml, JSON otherwise. A
    syntax error raises ConfigError that begins with `label` and says where (JSON: line and column)."""
    import yaml

    yaml_file = Path(name).suffix.lower() in (".yaml", ".yml")
    try:
        return yaml.safe_load(text) if yaml_file else json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{label} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except yaml.YAMLError as e:                             # "YAML" or "YML", as the file is named
        raise ConfigError(f"{label} is not valid {Path(name).suffix.lstrip('.').upper()}: {e}") from None
