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

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
INITS = ("default", "xavier", "he", "normal")
SCHEDULES = ("constant", "step", "exponential", "cosine", "onecycle", "warmup")
DEVICES = ("auto", "cpu", "cuda", "mps")
MAX_SEED = 2**31 - 1              # the app's range; numpy's RandomState takes < 2**32, and the engine also uses seed+2
MAX_EPOCHS = 100_000              # more would hold a shared server for days
MAX_BATCH_SIZE = 1_000_000
MAX_POINTS = 1_000_000            # 2-D toys: the shapes show with 500 to 5,000 points


@dataclass
class DataConfig:
    name: str = "spiral"          # a key of playground.data.DATASETS
    n_samples: int = 500          # 2-D toys: points generated (train + validation)
    noise: float = 0.1            # 2-D toys: noise level, 0 (clean) to 0.5 (very noisy)
    val_fraction: float = 0.2     # share of the samples held out for validation
    max_train: int = 0            # image sets: cap on training samples, 0 = all
    data_dir: str = "data"        # torchvision sets: folder holding (or receiving) the files
    download: bool = False        # torchvision sets: fetch missing files from the internet

    @classmethod
    def from_dict(cls, d: dict) -> "DataConfig":
        cfg = _fill(cls, d or {}, "data")
        cfg.validate()
        return cfg

    def validate(self) -> None:
        _check_finite(self, "data")
        _check(0 < self.val_fraction < 1, f"data.val_fraction: must be between 0 and 1 (exclusive), got {self.val_fraction}")
        _check(0 <= self.noise <= 1, f"data.noise: must be between 0 and 1, got {self.noise}")
        _check(self.n_samples >= 20, f"data.n_samples: need at least 20 points, got {self.n_samples}")
        _check(self.n_samples <= MAX_POINTS, f"data.n_samples: at most {MAX_POINTS:,} points, got {self.n_samples:,}; "
                                             f"the 2-D sets show their shape with 500 to 5,000 points")
        _check(self.max_train >= 0, f"data.max_train: must be 0 (all) or more, got {self.max_train}")


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
class RunConfig:
    name: str = ""                # label shown in run pickers
    data: DataConfig = field(default_factory=DataConfig)
    layers: list = field(default_factory=list)  # [{"type": "Linear", "out_features": 16}, ...]
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    batch_size: int = 32          # samples per optimizer step
    epochs: int = 20              # passes over the training set
    init: str = "default"         # weight initialisation: one of INITS
    seed: int = 0                 # drives data, initial weights, data order and dropout
    device: str = "auto"          # one of DEVICES; auto = cuda, then mps, then cpu
    amp: bool = False             # mixed precision (CUDA only)
    threads: int = 1              # torch intra-op threads for this run (see GUIDE: contention)

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
        cfg = _fill(cls, d, "run", data=data, optim=optim, schedule=schedule)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        _check_finite(self.optim, "optim")
        _check_finite(self.schedule, "schedule")
        _check(self.optim.name in OPTIMIZERS, f"optim.name: unknown optimizer '{self.optim.name}'; pick one of {', '.join(OPTIMIZERS)}")
        _check(self.schedule.name in SCHEDULES, f"schedule.name: unknown schedule '{self.schedule.name}'; "
                                                f"pick one of {', '.join(SCHEDULES)}")
        _check(0 < self.schedule.gamma <= 1, f"schedule.gamma: must be in (0, 1], got {self.schedule.gamma}")
        _check(self.schedule.step_epochs >= 1, f"schedule.step_epochs: must be at least 1, got {self.schedule.step_epochs}")
        _check(self.schedule.warmup_epochs > 0, f"schedule.warmup_epochs: must be above 0, got {self.schedule.warmup_epochs}")
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
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{where}.{f.name}: expected a number, got {v!r}; e.g. {f.default:g} (the default)")
        _check(math.isfinite(v), f"{where}.{f.name}: must be a finite number, got {v}; "
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
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() in (".yaml", ".yml"):
            return yaml.safe_load(text)
        return json.loads(text)
    except (ValueError, yaml.YAMLError) as e:               # UnicodeDecodeError is a ValueError
        raise ConfigError(f"config file '{path}' is not valid {path.suffix.lstrip('.').upper() or 'JSON'}: {e}") from None
