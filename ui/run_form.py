"""The run form's state: widget defaults, widgets <-> RunConfig, presets, config upload."""
from __future__ import annotations

import json
from typing import Callable, NamedTuple

import streamlit as st
import yaml

from playground.config import DataConfig, RunConfig, parse_mapping
from playground.data import DATASETS, load_dataset
from playground.errors import ConfigError, PlaygroundError
from playground.models import preset_layers
from playground.train import REGISTRY
from ui.augment import AUG_FORM, augment_form, augment_spec
from ui.layer_editor import parsed_specs, set_layers
from ui.state import keep, me, who

LRS = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
BATCHES = [1, 2, 4, 8, 10, 16, 32, 64, 128, 256, 512, 1024]
DECAYS = [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1]
INITS = {"default": "PyTorch default", "xavier": "Xavier (Glorot)", "he": "He (Kaiming)", "normal": "N(0, 1)",
         "ones": "every weight 1 (no symmetry breaking)"}


# The form's starting values. The classroom's first lesson is TensorFlow Playground's spiral, at its
# settings (batch 10, 100 epochs, learning rate 0.03: SUGGESTED["points"] below), with the MLP preset.
# They differ from RunConfig's own defaults (batch 32, 20 epochs, lr 0.01) on purpose: those fill the
# fields a config file leaves out, and examples and saved configs rely on them as they are.
START_PRESET = "MLP"
FORM_START = RunConfig.from_dict({"layers": preset_layers(START_PRESET, "points", 2), "optim": {"lr": 0.03},
                                  "batch_size": 10, "epochs": 100})


def _same(value):
    return value


def _nearest(options: list[float]):
    """A config's value for a slider with fixed steps: the nearest step."""
    return lambda value: min(options, key=lambda v: abs(v - value))


class Field(NamedTuple):
    """Where a widget's value lives in a run config, and how it converts between the two."""
    path: tuple[str, ...]                  # keys into RunConfig.to_dict(), e.g. ("optim", "lr")
    to_widget: Callable = _same            # config value -> the widget's value
    to_config: Callable = _same            # the widget's value -> config value


# Widget key -> its place in a RunConfig: the one mapping that the form's defaults, the draft, a loaded
# config (examples, uploads) and the config the form builds all read. A tuple of keys is a group of
# widgets that together make one field (their value: a dict by key). Layers are the editor's (layer_editor).
FIELDS: dict[str | tuple[str, ...], Field] = {
    "data_name": Field(("data", "name")),
    "noise": Field(("data", "noise")),
    "n_samples": Field(("data", "n_samples")),
    "val_pct": Field(("data", "val_fraction"), lambda f: round(f * 100), lambda pct: pct / 100),
    "max_train": Field(("data", "max_train")),
    "data_dir": Field(("data", "data_dir")),
    "download": Field(("data", "download")),
    "standardize": Field(("data", "standardize")),
    "function": Field(("data", "function")),
    "seq_len": Field(("data", "seq_len")),
    "vocab": Field(("data", "vocab")),
    "upload": Field(("data", "upload")),           # your own table (ui/own_data.py)
    "target": Field(("data", "target")),
    "target_task": Field(("data", "target_task")),
    "features": Field(("data", "features"), list, list),
    "missing": Field(("data", "missing")),
    "image_size": Field(("data", "image_size")),
    "colour": Field(("data", "colour")),
    tuple(AUG_FORM): Field(("data", "augment"), augment_form, augment_spec),
    "optim": Field(("optim", "name")),
    "lr": Field(("optim", "lr")),
    "momentum": Field(("optim", "momentum")),
    "weight_decay": Field(("optim", "weight_decay"), _nearest(DECAYS)),
    "schedule": Field(("schedule", "name")),
    "sched_gamma": Field(("schedule", "gamma")),
    "sched_step": Field(("schedule", "step_epochs")),
    "warmup_epochs": Field(("schedule", "warmup_epochs")),
    "batch_size": Field(("batch_size",), _nearest(BATCHES)),
    "epochs": Field(("epochs",)),
    "init": Field(("init",)),
    "task": Field(("task",)),
    "loss": Field(("loss", "name")),
    "label_smoothing": Field(("loss", "label_smoothing")),
    "class_weights": Field(("loss", "class_weights")),
    "kl_weight": Field(("loss", "kl_weight")),
    "l1": Field(("l1",)),
    "clip_norm": Field(("clip_norm",)),
    "patience": Field(("patience",)),
    "amp": Field(("amp",)),
    "seed": Field(("seed",)),              # seed and device: widgets of the sidebar, fields of the config
    "device": Field(("device",)),
}
# This server's hardware, not the lesson's: a loaded config leaves the device and mixed precision as
# they are (a config written on a GPU machine would ask for CUDA here), and a draft keeps no device.
NOT_LOADED = ("device", "amp")
NOT_DRAFTED = ("device",)


# The page's sliders' ranges. A config may hold a value past them (the CLI trains it as it is): the
# page loads it at the range's nearest end and says so, rather than failing to draw the slider.
RANGES = {"noise": (0.0, 0.5), "val_pct": (10, 50), "label_smoothing": (0.0, 0.3), "kl_weight": (0.0, 4.0),
          "sched_gamma": (0.05, 1.0), "momentum": (0.0, 0.99)}


def points_range(kind: str) -> tuple[int, int]:
    return (20 if kind == "curve" else 100, 2000)


def _in_range(values: dict, kind: str) -> list[str]:
    """Clamp slider values into the page's ranges (in place); what was moved, in words."""
    moved = []
    for key, (low, high) in {**RANGES, "n_samples": points_range(kind)}.items():
        v = values.get(key)
        if key == "n_samples" and kind not in ("points", "curve"):
            continue                                     # a number box there, with no range
        if isinstance(v, (int, float)) and not low <= v <= high:
            values[key] = type(v)(min(max(v, low), high))
            moved.append(f"{key} {v:g} → {values[key]:g}")
    return moved


def form_values(cfg: RunConfig, skip: tuple[str, ...] = ()) -> dict:
    """{widget key: value} that show cfg in the form (every field but those keyed in skip)."""
    d, out = cfg.to_dict(), {}
    for key, field in FIELDS.items():
        if key in skip:
            continue
        value = d
        for part in field.path:
            value = value[part]
        value = field.to_widget(value)
        out.update(value if isinstance(key, tuple) else {key: value})
    return out


def config_dict(s) -> dict:
    """The run config (as a dict, less its layers) that the widget values in s (a mapping) make."""
    out: dict = {}
    for key, field in FIELDS.items():
        value = {k: s[k] for k in key} if isinstance(key, tuple) else s[key]
        *parents, last = field.path
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = field.to_config(value)
    if DATASETS[out["data"]["name"]].kind != "image":
        out["data"]["augment"] = {}     # the expander is for images only: its ticks wait there for image data
    return out


# Every widget's starting value: the config's fields from FORM_START; the preset, and the strength a
# transform gets when ticked, are the form's own.
FORM = {"preset": START_PRESET, **AUG_FORM, **form_values(FORM_START)}
DRAFTED = (*(k for k in FORM if k not in NOT_DRAFTED), "settings_kind", "net_kind", "net_edited")  # and layers


def init_form() -> None:
    """Defaults for every form widget (kept across page visits) and a starting network."""
    keep(FORM)
    if "layers" not in st.session_state:
        set_layers(FORM_START.layers, DATASETS[FORM_START.data.name].kind)


def restore_draft() -> None:
    """Once per session, before any widget is drawn: a new session (a reload, another day) starts
    from what this browser was last editing on Build & Train, if anything."""
    s = st.session_state
    if s.get("_draft_checked"):
        return
    s["_draft_checked"] = True
    draft = REGISTRY.store.load_draft(me(), "build")
    if not draft or "layers" in s:
        return
    from playground.models import LAYERS, PRESETS
    from playground.train.optim import LABELS, SCHEDULE_LABELS

    allowed = {"data_name": DATASETS, "optim": LABELS, "schedule": SCHEDULE_LABELS, "init": INITS,
               "batch_size": BATCHES, "weight_decay": DECAYS, "preset": [*PRESETS, None]}   # None: a loaded config's
    for key in DRAFTED:                  # a value this version no longer offers keeps its default
        if key in draft and (key not in allowed or draft[key] in allowed[key]):
            s[key] = draft[key]
    layers = [layer for layer in draft.get("layers", []) if layer.get("type") in LAYERS]
    s["layers"] = [{"id": i + 1, "type": layer["type"], "args": str(layer.get("args", ""))}
                   for i, layer in enumerate(layers)]
    s["_layer_seq"] = len(s["layers"])
    s.setdefault("net_kind", DATASETS[s.get("data_name", FORM["data_name"])].kind)
    s.setdefault("net_edited", True)
    s["_draft_saved"] = draft


def save_draft() -> None:
    """Keep what the form holds now, for this browser, in the run store (only when it changed)."""
    s = st.session_state
    draft = {k: s[k] for k in DRAFTED if k in s}
    draft["layers"] = [{"type": layer["type"], "args": layer["args"]} for layer in s.get("layers", [])]
    if draft != s.get("_draft_saved"):
        REGISTRY.store.save_draft(me(), "build", draft)
        s["_draft_saved"] = draft


def data_config() -> dict:
    return config_dict(st.session_state)["data"]


def load_preset() -> None:
    spec = DATASETS[st.session_state.data_name]
    try:
        data = load_dataset(DataConfig.from_dict(data_config()))
        # outputs: one per class, or per target column of a regression set
        n_classes = data.num_classes if data.task != "regression" else max(1, data.y_train.shape[-1])
    except PlaygroundError:
        n_classes = 10
    set_layers(preset_layers(st.session_state.preset, spec.kind, n_classes), spec.kind)


# Settings that train well per kind of data (TensorFlow Playground's for the 2-D toys).
SUGGESTED = {"points": {"lr": 0.03, "batch_size": 10, "epochs": 100},
             "curve": {"lr": 0.01, "batch_size": 10, "epochs": 300},
             "table": {"lr": 0.003, "batch_size": 32, "epochs": 30},
             "image": {"lr": 0.003, "batch_size": 64, "epochs": 5},
             "tokens": {"lr": 0.003, "batch_size": 128, "epochs": 20, "n_samples": 4000}}
KIND_WORDS = {"points": "2-D points", "curve": "1-D curves", "table": "tables", "image": "images",
              "tokens": "token sequences"}


def data_changed() -> None:
    """Switching between points and images: suggest settings that fit the new kind of data, and
    load the fitting preset unless the user has edited the network."""
    s = st.session_state
    if s.get("_data_was") == s.data_name:   # a change that is none (Streamlit reports them under load)
        return
    s["_data_was"] = s.data_name
    s.loss = "auto"                         # losses belong to a task; "auto" is every task's usual one
    if s.task != "reconstruction" or DATASETS[s.data_name].kind == "tokens":
        s.task = "auto"
    kind = DATASETS[s.data_name].kind
    if s.get("settings_kind", DATASETS[FORM_START.data.name].kind) == kind:     # none yet: FORM_START's
        return
    s.settings_kind = kind
    s.update(SUGGESTED[kind])
    note = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in SUGGESTED[kind].items())
    if s.net_kind != kind and not s.net_edited and kind in ("points", "image", "table"):
        s.preset = "Small CNN" if kind == "image" else "MLP"
        load_preset()
        note += f", the {s.preset} preset"
    elif s.net_kind != kind and kind in ("tokens", "curve"):
        note += "; load an example that fits (Examples, above the form)"
    st.toast(f"Settings for {KIND_WORDS[kind]}: {note}")


def read_config_text(name: str, text: str) -> RunConfig:
    """A run config from a file's text: JSON for a .json file (its own syntax errors, with line and
    column), YAML for .yaml/.yml. Raises ConfigError naming the file."""
    raw = parse_mapping(text, name, f"'{name}'")
    try:
        return RunConfig.from_dict(raw)
    except PlaygroundError as e:
        raise ConfigError(f"'{name}' is not a run config the playground can read: {e}") from None


def config_uploaded() -> None:
    """Put an uploaded run config (JSON/YAML, e.g. from 'Config (JSON)') into the widgets."""
    upload = st.session_state.config_upload
    if upload is None:
        return
    try:
        cfg = read_config_text(upload.name, upload.getvalue().decode("utf-8", "replace"))
    except ConfigError as e:
        st.session_state.upload_error = str(e)
        return
    st.session_state.upload_error = None
    apply_config(cfg)


def apply_config(cfg: RunConfig) -> None:
    """Put a run config into the Build & Train widgets (a callback: before they are drawn)."""
    s, kind = st.session_state, DATASETS[cfg.data.name].kind
    values = form_values(cfg, skip=NOT_LOADED)
    if moved := _in_range(values, kind):
        s.load_note = (f"The page's sliders cannot show {', '.join(moved)} (past their range): the form holds the "
                       f"nearest value. The CLI trains the config as it is: python -m playground train FILE")
    s.update(values, settings_kind=kind)
    set_layers(cfg.layers, kind)
    s.net_edited = True
    s.preset = matching_preset(cfg.layers, kind)     # None: the box says the network is the config's


def matching_preset(layers: list[dict], kind: str) -> str | None:
    """The preset that makes exactly these layers for data of kind, or None when none does (a loaded
    transformer is no "Small CNN", whatever the box said before)."""
    from playground.models import PRESETS, layer_args_text

    last = layers[-1] if layers else {}
    classes = last.get("out_features")                  # every preset ends in Linear(out_features=classes)
    if last.get("type") != "Linear" or not isinstance(classes, int):
        return None
    wanted = [(spec["type"], layer_args_text(spec)) for spec in layers]
    return next((name for name in PRESETS
                 if wanted == [(s["type"], layer_args_text(s)) for s in preset_layers(name, kind, classes)]), None)


def _examples() -> dict:
    """{title: (path, what its opening comment says)} for the configs in examples/."""
    from pathlib import Path

    out = {}
    for path in sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.y*ml")):
        text = path.read_text(encoding="utf-8")
        about = " ".join(line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#"))
        out[(yaml.safe_load(text) or {}).get("name") or path.stem] = (path, about)
    return out


EXAMPLES = _examples()


def load_example() -> None:
    """Load example button: the whole config of the chosen example into the form."""
    from playground.config import load_config

    try:
        apply_config(load_config(EXAMPLES[st.session_state.example][0]))
        st.session_state.upload_error = None
    except PlaygroundError as e:
        st.session_state.upload_error = f"example '{st.session_state.example}' cannot be loaded: {e}"


def make_form_task(data):
    """The task the form's settings train on data (raises PlaygroundError: e.g. a loss of another task)."""
    from playground.config import LOSSES, LossConfig
    from playground.train.tasks import make_task, task_of

    s = st.session_state
    name = task_of(RunConfig(task=s.task), data)
    if s.loss not in ("auto", *LOSSES[name]):        # e.g. hinge, then the task became reconstruction
        s.loss = "auto"
    return make_task(RunConfig(task=s.task, loss=LossConfig(**config_dict(s)["loss"])), data)


def build_config() -> RunConfig:
    return RunConfig.from_dict({**config_dict(st.session_state), "layers": parsed_specs()[0]})


def start_run() -> None:
    """Start button: train the form's config; a refusal is kept for the page to show, with the
    config it refused (start_error() shows it only while the form still holds that config)."""
    st.session_state.pop("start_error", None)
    config = None
    try:
        config = build_config()
        lesson_id = st.session_state.get("lesson_id")
        run = REGISTRY.start(config, owner=who(), lesson=REGISTRY.lesson(lesson_id) if lesson_id else None)
        st.session_state.run_id = run.id
        first_point(run)
    except PlaygroundError as e:
        st.session_state.start_error = (config.to_json() if config else None, str(e))


def start_error(config_json: str | None) -> str | None:
    """The last Start's refusal, while the form still holds the config it refused; once the user
    changed anything, the old reason no longer describes what the form would start, and is dropped."""
    refused = st.session_state.get("start_error")
    if refused and refused[0] != config_json:
        st.session_state.pop("start_error")
        refused = None
    return refused[1] if refused else None


def first_point(run, wait: float = 0.5) -> None:
    """Give a warm worker the few tens of ms it needs for its first step, so that the page drawn
    after the click already shows it, rather than one poll (and one browser redraw) later."""
    import time

    end = time.monotonic() + wait
    while time.monotonic() < end and getattr(run, "training", False) and not run.history.progress["step"]:
        time.sleep(0.01)


def lr_options() -> list[float]:
    """The learning-rate slider's stops, plus the current value (from a config or the LR finder)."""
    return sorted(set(LRS) | {float(st.session_state.lr)})


def run_lr_finder() -> None:
    from playground.train.lr_finder import find_lr

    for key in ("lrf", "lrf_error"):
        st.session_state.pop(key, None)
    st.session_state.lrf_for = _finder_key()
    try:
        st.session_state.lrf = find_lr(build_config())
    except PlaygroundError as e:
        st.session_state.lrf_error = str(e)


def _finder_key() -> str | None:
    """What the range test depends on: the form's config less its learning rate (the test sweeps the
    rate, and taking its suggestion changes it) and name; None while the form holds no valid config."""
    try:
        d = build_config().to_dict()
    except PlaygroundError:
        return None
    d["optim"].pop("lr", None)
    d.pop("name", None)
    return json.dumps(d, sort_keys=True)


def forget_stale_lr_finder() -> None:
    """The range test's curve, suggestion or refusal belong to the config it ran on: once the form
    holds another (other data, network or optimizer), they no longer describe it and are dropped."""
    s = st.session_state
    if ("lrf" in s or "lrf_error" in s) and s.get("lrf_for") != _finder_key():
        for key in ("lrf", "lrf_error", "lrf_for"):
            s.pop(key, None)


def use_suggestion() -> None:
    st.session_state.lr = float(f"{st.session_state.lrf['suggestion']:.2g}")
