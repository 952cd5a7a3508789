"""Build & Train: pick data, assemble a network, choose the optimizer, train it live."""
import numpy as np
import streamlit as st

from playground.config import DataConfig, RunConfig
from playground.data import DATASETS, load_dataset
from playground.errors import PlaygroundError
from playground.device import available_devices
from playground.models import PRESETS, preset_layers, summarize_partial
from playground.models.build import shape_text
from playground.train import REGISTRY
from playground.train.optim import LABELS, RULES
from ui.layer_editor import layer_editor, parsed_specs, set_layers
from ui.live import live_panel
from ui.state import keep

LRS = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
BATCHES = [1, 2, 4, 8, 10, 16, 32, 64, 128, 256, 512, 1024]
DECAYS = [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1]
INITS = {"default": "PyTorch default", "xavier": "Xavier (Glorot)", "he": "He (Kaiming)", "normal": "N(0, 1)"}

st.title("Build & Train")
st.caption("Pick the data, assemble a network layer by layer, choose how it learns, and watch it train.")
keep({"data_name": "spiral", "noise": 0.1, "n_samples": 500, "val_pct": 20, "max_train": 0, "data_dir": "data",
      "download": False, "preset": "MLP", "optim": "adam", "lr": 0.03, "batch_size": 10, "epochs": 100,
      "weight_decay": 0.0, "momentum": 0.9, "init": "default", "amp": False})
if "layers" not in st.session_state:
    set_layers(preset_layers("MLP", "points", 2), "points")


def data_config() -> dict:
    s = st.session_state
    return {"name": s.data_name, "noise": s.noise, "n_samples": s.n_samples, "val_fraction": s.val_pct / 100,
            "max_train": s.max_train, "data_dir": s.data_dir, "download": s.download}


def load_preset() -> None:
    spec = DATASETS[st.session_state.data_name]
    try:
        n_classes = load_dataset(DataConfig.from_dict(data_config())).num_classes
    except PlaygroundError:
        n_classes = 10
    set_layers(preset_layers(st.session_state.preset, spec.kind, n_classes), spec.kind)


# Settings that train well per kind of data (TensorFlow Playground's for the 2-D toys).
SUGGESTED = {"points": {"lr": 0.03, "batch_size": 10, "epochs": 100},
             "image": {"lr": 0.003, "batch_size": 64, "epochs": 5}}


def data_changed() -> None:
    """Switching between points and images: suggest settings that fit the new kind of data, and
    load the fitting preset unless the user has edited the network."""
    kind = DATASETS[st.session_state.data_name].kind
    if st.session_state.get("settings_kind", "points") == kind:
        return
    st.session_state.settings_kind = kind
    st.session_state.update(SUGGESTED[kind])
    note = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in SUGGESTED[kind].items())
    if st.session_state.net_kind != kind and not st.session_state.net_edited:
        st.session_state.preset = "MLP" if kind == "points" else "Small CNN"
        load_preset()
        note += f", the {st.session_state.preset} preset"
    st.toast(f"Settings for {'2-D points' if kind == 'points' else 'images'}: {note}")


col_data, col_net, col_train = st.columns([1.1, 2.6, 1.1], gap="medium")

with col_data:
    st.subheader("1 · Data")
    st.selectbox("Data set", list(DATASETS), key="data_name", format_func=lambda n: DATASETS[n].title,
                 on_change=data_changed)
    spec = DATASETS[st.session_state.data_name]
    st.caption(spec.about)
    if spec.kind == "points":
        st.slider("Noise", 0.0, 0.5, step=0.05, key="noise")
        st.slider("Points", 100, 2000, step=100, key="n_samples")
    else:
        st.number_input("Max training samples (0 = all)", 0, 100_000, step=500, key="max_train")
    st.slider("Validation %", 10, 50, step=5, key="val_pct")
    if not spec.offline:
        st.text_input("Data folder", key="data_dir")
        st.checkbox("Download if missing (needs internet)", key="download")
    data, data_error = None, None
    try:
        data = load_dataset(DataConfig.from_dict(data_config()), int(st.session_state.seed))
    except PlaygroundError as e:
        data_error = str(e)
        st.error(data_error)
    if data is not None:
        st.caption(f"input **{shape_text(data.input_shape)}** · **{data.num_classes}** classes · "
                   f"{len(data.X_train):,} train / {len(data.X_val):,} validation")
        if data.kind == "image":
            imgs = data.X_train[:8].numpy().transpose(0, 2, 3, 1)
            st.image([np.clip(i if i.shape[2] == 3 else i[:, :, 0], 0, 1) for i in imgs], width=42,
                     caption=[data.class_names[int(k)] for k in data.y_train[:8]])

with col_net:
    st.subheader("2 · Network")
    a, b = st.columns([3, 1], vertical_alignment="bottom")
    a.selectbox("Preset", list(PRESETS), key="preset", help="\n".join(f"- **{k}**: {v}" for k, v in PRESETS.items()))
    b.button("Load preset", on_click=load_preset, width="stretch")
    specs, parse_errors = parsed_specs()
    rows, net_error, bad_row = [], None, None
    if parse_errors:
        bad_row, net_error = next(iter(parse_errors.items()))
    elif data is not None:
        rows, net_error, bad_row = summarize_partial(specs, data.input_shape, data.num_classes)
    layer_editor({r.index - 1: r for r in rows}, bad_row)
    if net_error:
        st.error(f"**This network cannot train on this data.** {net_error}")
    elif data is not None:
        st.caption(f"**{sum(r.params for r in rows):,} parameters** in {len(rows)} layers → "
                   f"{data.num_classes} class scores")

with col_train:
    st.subheader("3 · Training")
    st.selectbox("Optimizer", list(LABELS), key="optim", format_func=LABELS.get)
    st.caption(f"`{RULES[st.session_state.optim]}`")
    st.select_slider("Learning rate", LRS, key="lr", format_func=lambda v: f"{v:g}")
    if st.session_state.optim in ("momentum", "nesterov"):
        st.slider("Momentum", 0.0, 0.99, step=0.01, key="momentum")
    st.select_slider("Batch size", BATCHES, key="batch_size")
    st.number_input("Epochs", 1, 2000, key="epochs")
    st.select_slider("Weight decay", DECAYS, key="weight_decay", format_func=lambda v: f"{v:g}")
    st.selectbox("Initialisation", list(INITS), key="init", format_func=INITS.get)
    no_cuda = "cuda" not in available_devices() or st.session_state.device not in ("cuda", "auto")
    if no_cuda:
        st.session_state.amp = False
    st.toggle("Mixed precision", key="amp", disabled=no_cuda, help="bf16/fp16 autocast; CUDA only")


def build_config() -> RunConfig:
    s = st.session_state
    return RunConfig.from_dict({
        "data": data_config(), "layers": parsed_specs()[0], "batch_size": s.batch_size, "epochs": s.epochs,
        "optim": {"name": s.optim, "lr": s.lr, "momentum": s.momentum, "weight_decay": s.weight_decay},
        "init": s.init, "seed": s.seed, "device": s.device, "amp": s.amp})


def start() -> None:
    st.session_state.pop("start_error", None)
    try:
        run = REGISTRY.start(build_config())
        st.session_state.run_id = run.id
    except PlaygroundError as e:
        st.session_state.start_error = str(e)


current = REGISTRY.get(st.session_state.get("run_id"))
running = current is not None and current.alive
c1, c2, c3, _ = st.columns([1, 1, 1.3, 3])
c1.button("Start training", icon=":material/play_arrow:", type="primary", on_click=start, disabled=bool(net_error or data_error),
          width="stretch")
c2.button("Stop", icon=":material/stop:", on_click=lambda: current.stop(), disabled=not running, width="stretch")
if not (net_error or data_error):
    c3.download_button("Config (JSON)", build_config().to_json(), "run.json", "application/json",
                       icon=":material/download:", help="Train it headless: python -m playground train run.json")
if st.session_state.get("start_error"):
    st.error(st.session_state.start_error)
live_panel(st.session_state.get("run_id"))
