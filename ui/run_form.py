"""The run form's state: widget defaults, widgets <-> RunConfig, presets, config upload."""
from __future__ import annotations

import json

import streamlit as st
import yaml

from playground.config import DataConfig, RunConfig, parse_mapping
from playground.data import DATASETS, load_dataset
from playground.errors import ConfigError, PlaygroundError
from playground.models import preset_layers
from playground.train import REGISTRY
from ui.augment import AUG_FORM, augment_form, augment_spec
from ui.layer_editor import parsed_specs, set_layers
from ui.state import keep, me

LRS = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
BATCHES = [1, 2, 4, 8, 10, 16, 32, 64, 128, 256, 512, 1024]
DECAYS = [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1]
INITS = {"default": "PyTorch default", "xavier": "Xavier (Glorot)", "he": "He (Kaiming)", "normal": "N(0, 1)",
         "ones": "every weight 1 (no symmetry breaking)"}


FORM = {"data_name": "spiral", "noise": 0.1, "n_samples": 500, "val_pct": 20, "max_train": 0, "data_dir": "data",
        "download": False, "preset": "MLP", "optim": "adam", "lr": 0.03, "batch_size": 10, "epochs": 100,
        "weight_decay": 0.0, "momentum": 0.9, "init": "default", "amp": False, "schedule": "constant",
        "sched_gamma": 0.5, "sched_step": 10, "warmup_epochs": 1.0, "standardize": True, "function": "sine",
        "seq_len": 8, "vocab": 10, "task": "auto", "loss": "auto", "label_smoothing": 0.0, "class_weights": "none",
        "kl_weight": 1.0, "l1": 0.0, "clip_norm": 0.0, "patience": 0, **AUG_FORM}
DRAFTED = (*FORM, "seed", "settings_kind", "net_kind", "net_edited")     # what a draft keeps, with the layers


def init_form() -> None:
    """Defaults for every form widget (kept across page visits) and a starting network."""
    keep(FORM)
    if "layers" not in st.session_state:
        set_layers(preset_layers("MLP", "points", 2), "points")


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
    layers = [l for l in draft.get("layers", []) if l.get("type") in LAYERS]
    s["layers"] = [{"id": i + 1, "type": l["type"], "args": str(l.get("args", ""))} for i, l in enumerate(layers)]
    s["_layer_seq"] = len(s["layers"])
    s.setdefault("net_kind", DATASETS[s.get("data_name", "spiral")].kind)
    s.setdefault("net_edited", True)
    s["_draft_saved"] = draft


def save_draft() -> None:
    """Keep what the form holds now, for this browser, in the run store (only when it changed)."""
    s = st.session_state
    draft = {k: s[k] for k in DRAFTED if k in s}
    draft["layers"] = [{"type": l["type"], "args": l["args"]} for l in s.get("layers", [])]
    if draft != s.get("_draft_saved"):
        REGISTRY.store.save_draft(me(), "build", draft)
        s["_draft_saved"] = draft


def data_config() -> dict:
    s = st.session_state
    return {"name": s.data_name, "noise": s.noise, "n_samples": s.n_samples, "val_fraction": s.val_pct / 100,
            "max_train": s.max_train, "data_dir": s.data_dir, "download": s.download, "standardize": s.standardize,
            "function": s.function, "seq_len": s.seq_len, "vocab": s.vocab,
            "augment": augment_spec(s) if DATASETS[s.data_name].kind == "image" else {}}


def load_preset() -> None:
    spec = DATASETS[st.session_state.data_name]
    try:
        n_classes = load_dataset(DataConfig.from_dict(data_config())).num_classes
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
    if s.get("settings_kind", "points") == kind:
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
    s, d, o = st.session_state, cfg.data, cfg.optim
    s.update(data_name=d.name, noise=d.noise, n_samples=d.n_samples, val_pct=round(d.val_fraction * 100),
             max_train=d.max_train, data_dir=d.data_dir, download=d.download, optim=o.name, lr=o.lr,
             momentum=o.momentum, weight_decay=o.weight_decay, batch_size=cfg.batch_size, epochs=cfg.epochs,
             init=cfg.init, seed=cfg.seed, settings_kind=DATASETS[d.name].kind, schedule=cfg.schedule.name,
             sched_gamma=cfg.schedule.gamma, sched_step=cfg.schedule.step_epochs,
             warmup_epochs=cfg.schedule.warmup_epochs, standardize=d.standardize, function=d.function,
             seq_len=d.seq_len, vocab=d.vocab, task=cfg.task, loss=cfg.loss.name,
             label_smoothing=cfg.loss.label_smoothing, class_weights=cfg.loss.class_weights,
             kl_weight=cfg.loss.kl_weight, l1=cfg.l1, clip_norm=cfg.clip_norm, patience=cfg.patience,
             **augment_form(d.augment))
    for key, options in (("batch_size", BATCHES), ("weight_decay", DECAYS)):
        if s[key] not in options:           # the sliders offer fixed steps: take the nearest one
            s[key] = min(options, key=lambda v: abs(v - s[key]))
    set_layers(cfg.layers, DATASETS[d.name].kind)
    st.session_state.net_edited = True
    s.preset = matching_preset(cfg.layers, DATASETS[d.name].kind)     # None: the box says the network is the config's


def matching_preset(layers: list[dict], kind: str) -> str | None:
    """The preset that makes exactly these layers for data of kind, or None when none does (a loaded
    transformer is no "Small CNN", whatever the box said before)."""
    from playground.models import PRESETS, layer_args_text

    last = layers[-1] if layers else {}
    classes = last.get("out_features")                  # every preset ends in Linear(out_features=classes)
    if last.get("type") != "Linear" or not isinstance(classes, int):
        return None
    wanted = [(l["type"], layer_args_text(l)) for l in layers]
    return next((name for name in PRESETS
                 if wanted == [(l["type"], layer_args_text(l)) for l in preset_layers(name, kind, classes)]), None)


def _examples() -> dict:
    """{title: (path, what its opening comment says)} for the configs in examples/."""
    from pathlib import Path

    out = {}
    for path in sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.y*ml")):
        text = path.read_text(encoding="utf-8")
        about = " ".join(l.lstrip("# ").strip() for l in text.splitlines() if l.startswith("#"))
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
    loss = LossConfig(name=s.loss, label_smoothing=s.label_smoothing, class_weights=s.class_weights,
                      kl_weight=s.kl_weight)
    return make_task(RunConfig(task=s.task, loss=loss), data)


def build_config() -> RunConfig:
    s = st.session_state
    return RunConfig.from_dict({
        "data": data_config(), "layers": parsed_specs()[0], "batch_size": s.batch_size, "epochs": s.epochs,
        "optim": {"name": s.optim, "lr": s.lr, "momentum": s.momentum, "weight_decay": s.weight_decay},
        "schedule": {"name": s.schedule, "gamma": s.sched_gamma, "step_epochs": s.sched_step,
                     "warmup_epochs": s.warmup_epochs},
        "init": s.init, "seed": s.seed, "device": s.device, "amp": s.amp, "task": s.task,
        "loss": {"name": s.loss, "label_smoothing": s.label_smoothing, "class_weights": s.class_weights,
                 "kl_weight": s.kl_weight},
        "l1": s.l1, "clip_norm": s.clip_norm, "patience": s.patience})


def start_run() -> None:
    """Start button: train the form's config; a refusal is kept for the page to show, with the
    config it refused (start_error() shows it only while the form still holds that config)."""
    st.session_state.pop("start_error", None)
    config = None
    try:
        config = build_config()
        run = REGISTRY.start(config, owner=me())
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
    while time.monotonic() < end and run.alive and not run.history.progress["step"]:
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
