"""Build & Train: pick data, assemble a network, choose the optimizer, train it live."""
import json

import numpy as np
import streamlit as st

from playground.config import LOSSES, MAX_EPOCHS, MAX_SEQ_LEN, MAX_VOCAB, DataConfig
from playground.data import APP_HIDDEN, DATASETS, load_dataset
from playground.data.regression import FUNCTIONS
from playground.errors import PlaygroundError
from playground.models import PRESETS, summarize_partial
from playground.models.build import shape_text
from playground.train import REGISTRY
from playground.train.optim import LABELS, RULES, SCHEDULE_LABELS
from playground.train.tasks import LOSS_LABELS, output_text
from ui.augment import augment_panel
from ui.layer_editor import layer_editor, parsed_specs
from ui.lesson import control, current_lesson, lesson_error, lesson_header, locked, save_lesson_panel
from ui.live import live_panel
from ui.lr_tools import lr_finder_popover
from ui.own_data import CONFIG_MB, card, image_card, own_images, own_points, own_table
from ui.run_actions import resume_controls, show_error, stop
from ui.run_form import (
    BATCHES,
    DECAYS,
    EXAMPLES,
    INITS,
    RANGES,
    build_config,
    config_uploaded,
    data_changed,
    data_config,
    load_example,
    load_preset,
    lr_options,
    make_form_task,
    points_range,
    save_draft,
    start_error,
    start_run,
)
from ui.share import share_popover, shared_note
from ui.sidebar import shown_run
from ui.state import may_act


def named_config(config_json: str, shown) -> str:
    """The form's config to download. While the form holds the config of the run shown in the sidebar,
    it carries that run's name as it is now (renamed on Runs: the new name), as Runs' own download does."""
    cfg = json.loads(config_json)
    if shown is not None and {**shown.config.to_dict(), "name": ""} == {**cfg, "name": ""}:
        cfg["name"] = shown.name
    return json.dumps(cfg, indent=2)


st.title("Build & Train")
st.caption("Pick the data, assemble a network layer by layer, choose how it learns, and watch it train.")
lesson = current_lesson()                   # ?lesson=ID: its config, instructions and locks
lesson_error()
shared_note()
if note := st.session_state.pop("load_note", None):          # a loaded config past a slider's range
    st.warning(note, icon=":material/tune:")
if lesson is not None:
    lesson_header(lesson)
fixed = bool(lesson and lesson.fixed())     # loading a whole config would undo the lesson's locks

a, b, c = st.columns([3, 1, 2], vertical_alignment="bottom")
a.selectbox("Example", list(EXAMPLES), key="example", index=None, placeholder="Start from an example…",
            disabled=fixed, help="\n".join(f"- **{k}**: {v[1]}" for k, v in EXAMPLES.items()))
b.button("Load example", on_click=load_example, disabled=fixed or not st.session_state.get("example"),
         width="stretch")
if st.session_state.get("example"):
    c.caption(EXAMPLES[st.session_state.example][1])
with st.expander("Load a config file", icon=":material/upload_file:"):
    st.file_uploader(f"A run config (.json or .yaml, up to {CONFIG_MB} MB), e.g. one downloaded with 'Config "
                     f"(JSON)' or from examples/", max_upload_size=CONFIG_MB,   # the limit the widget itself says
                     type=["json", "yaml", "yml"], key="config_upload", on_change=config_uploaded, disabled=fixed)
    if st.session_state.get("upload_error"):
        st.error(st.session_state.upload_error)

# The number inputs below carry no min or max: a browser refuses to send a typed value outside them
# (the field turns red and the server keeps the old one, which Start would then train). Unbounded,
# the value arrives, and the config's own check names it and keeps Start disabled.
col_data, col_net, col_train = st.columns([1.1, 2.6, 1.1], gap="medium")

with col_data:
    st.header("1 · Data")
    control(st.selectbox, "Data set", [n for n in DATASETS if n not in APP_HIDDEN], key="data_name", lesson=lesson,
            format_func=lambda n: DATASETS[n].title, on_change=data_changed)
    spec = DATASETS[st.session_state.data_name]
    st.caption(spec.about)
    if "upload" in spec.knobs:
        {"image": own_images, "points": own_points}.get(spec.kind, own_table)(lesson)
    if "function" in spec.knobs:
        control(st.selectbox, "Function", list(FUNCTIONS), key="function", lesson=lesson,
                format_func=lambda f: FUNCTIONS[f][0])
    if "noise" in spec.knobs:
        control(st.slider, "Noise", *RANGES["noise"], step=0.05, key="noise", lesson=lesson)
        control(st.slider, "Points", *points_range(spec.kind),
                step=20 if spec.kind == "curve" else 100,
                key="n_samples", lesson=lesson)
    elif "seq_len" in spec.knobs:
        control(st.number_input, "Sequence length", key="seq_len", lesson=lesson, step=1, help=f"2 to {MAX_SEQ_LEN}")
        control(st.number_input, "Vocabulary (distinct tokens)", key="vocab", lesson=lesson, step=1,
                help=f"2 to {MAX_VOCAB}")
        control(st.number_input, "Sequences", step=500, key="n_samples", lesson=lesson,
                help="these tasks train well from about 4,000 sequences")
    elif "max_train" in spec.knobs:
        control(st.number_input, "Max training samples (0 = all)", step=500, key="max_train", lesson=lesson)
    if "standardize" in spec.knobs:
        control(st.toggle, "Standardise inputs", key="standardize", lesson=lesson,
                help="scale each input column to mean 0 and standard deviation 1, with statistics from the "
                     "training split only; switch it off to see what unscaled inputs do to training")
    if spec.kind in ("image", "points", "table", "curve"):
        control(st.radio, "Task", ["auto", "reconstruction"], key="task", lesson=lesson, horizontal=True,
                format_func=lambda t: ("predict the chosen column" if "target" in spec.knobs else spec.task)
                if t == "auto" else "reconstruct the input (autoencoder)",
                help="what the network learns: the data set's own task, or to reproduce its input through a "
                     "bottleneck (an autoencoder; put a Latent layer at the bottleneck)")
    control(st.slider, "Validation %", *RANGES["val_pct"], step=5, key="val_pct", lesson=lesson)
    if not spec.offline:
        control(st.text_input, "Data folder", key="data_dir", lesson=lesson)
        control(st.checkbox, "Download if missing (needs internet)", key="download", lesson=lesson)
    data, data_error = None, None
    try:
        if "upload" in spec.knobs and not st.session_state.upload:
            data_error = "upload a table first"        # own_table() says how, above
        else:
            data = load_dataset(DataConfig.from_dict(data_config()), int(st.session_state.seed))
    except PlaygroundError as e:
        data_error = str(e)
        st.error(data_error)
    if data is not None:
        st.caption((f"input **{data.input_shape[0]} tokens** (ids 0-{data.vocab - 1}) · " if data.vocab else
                    f"input **{shape_text(data.input_shape)}** · ")
                   + (f"**{data.num_classes}** classes · " if data.task != "regression" else "")
                   + f"{len(data.X_train):,} train / {len(data.X_val):,} validation")
        if data.kind == "image" and data.name != "upload_images":       # your images: samples per class below
            imgs = data.X_train[:8].numpy().transpose(0, 2, 3, 1)
            names = [data.class_names[int(k)] for k in data.y_train[:8]]
            st.image([np.clip(i if i.shape[2] == 3 else i[:, :, 0], 0, 1) for i in imgs], width=42,
                     alt=[f"a training image of class {n}" for n in names])
            st.caption("Left to right: " + ", ".join(names))
        if data.name == "upload":
            card(data)
        elif data.name == "upload_images":
            image_card(data)

with col_net:
    st.header("2 · Network")
    a, b = st.columns([3, 1], vertical_alignment="bottom")
    net_fixed = bool(lesson and "network" in lesson.fixed())
    a.selectbox("Preset", list(PRESETS), key="preset", placeholder="(loaded config)", disabled=net_fixed,
                help="\n".join(f"- **{k}**: {v}" for k, v in PRESETS.items()))
    b.button("Load preset", on_click=load_preset, width="stretch",
             disabled=net_fixed or st.session_state.preset is None)
    specs, parse_errors = parsed_specs()
    rows, net_error, bad_row = [], None, None
    if parse_errors:
        bad_row, net_error = next(iter(parse_errors.items()))
    elif data is not None:
        rows, net_error, bad_row = summarize_partial(specs, data.input_shape, None, vocab=data.vocab)
    task = None
    if data is not None and not parse_errors:
        try:
            task = make_form_task(data)
            if not net_error:
                task.check_output(rows)
        except PlaygroundError as e:
            net_error = net_error or str(e)
    if lesson is not None and "network" in lesson.hidden:
        st.info("The lesson keeps the network hidden: train it as it is.", icon=":material/visibility_off:")
    elif net_fixed:
        st.caption(":material/lock: The lesson sets the network:")
        st.dataframe([{"#": r.index, "layer": r.type, "arguments": r.args, "output": shape_text(r.out_shape),
                       "params": r.params} for r in rows], hide_index=True, width="stretch")
    else:
        layer_editor({r.index - 1: r for r in rows}, bad_row)
    if net_error:
        st.error(f"**This network cannot train on this data.** {net_error}")
    elif data is not None and task is not None:
        st.caption(f"**{sum(r.params for r in rows):,} parameters** in {len(rows)} layers → {output_text(task)}")

with col_train:
    st.header("3 · Training")
    task_name = task.name if task is not None else spec.task
    control(st.selectbox, f"Loss ({task_name})", ["auto", *LOSSES[task_name]], key="loss", lesson=lesson,
            format_func=lambda n: f"auto: {LOSS_LABELS[LOSSES[task_name][0]].split(' (')[0]}" if n == "auto"
            else LOSS_LABELS[n])
    if task_name == "classification":
        if st.session_state.loss in ("auto", "cross_entropy"):
            control(st.slider, "Label smoothing", *RANGES["label_smoothing"], step=0.05, key="label_smoothing",
                    lesson=lesson)
        control(st.text_input, "Class weights", key="class_weights", lesson=lesson,
                help="none, balanced, or one weight per class: 1, 2, 1")
    variational = any(layer.get("type") == "Latent" and layer.get("variational") for layer in specs)
    if task_name == "reconstruction" and variational:
        control(st.slider, "KL weight (beta)", *RANGES["kl_weight"], step=0.1, key="kl_weight", lesson=lesson)
    control(st.selectbox, "Optimizer", list(LABELS), key="optim", lesson=lesson, format_func=LABELS.get)
    st.caption(f"`{RULES[st.session_state.optim]}`")
    control(st.select_slider, "Learning rate", lr_options(), key="lr", lesson=lesson, format_func=lambda v: f"{v:g}")
    lr_finder_popover()
    control(st.selectbox, "Schedule", list(SCHEDULE_LABELS), key="schedule", lesson=lesson,
            format_func=SCHEDULE_LABELS.get)
    if st.session_state.schedule in ("step", "exponential"):
        control(st.slider, "Decay factor (gamma)", *RANGES["sched_gamma"], step=0.05, key="sched_gamma", lesson=lesson,
                help="step: multiply the rate by this every N epochs; exponential: per epoch")
    if st.session_state.schedule == "step":
        control(st.number_input, "Decay every N epochs", step=1, key="sched_step", lesson=lesson)
    if st.session_state.schedule == "warmup":
        control(st.number_input, "Warm-up epochs", step=0.5, key="warmup_epochs", lesson=lesson,
                help="above 0; fractions of an epoch work")
    if st.session_state.optim in ("momentum", "nesterov"):
        control(st.slider, "Momentum", *RANGES["momentum"], step=0.01, key="momentum", lesson=lesson)
    control(st.select_slider, "Batch size", BATCHES, key="batch_size", lesson=lesson)
    control(st.number_input, "Epochs", step=1, key="epochs", lesson=lesson, help=f"1 to {MAX_EPOCHS:,}")
    control(st.select_slider, "Weight decay", DECAYS, key="weight_decay", lesson=lesson, format_func=lambda v: f"{v:g}")
    control(st.selectbox, "Initialisation", list(INITS), key="init", lesson=lesson, format_func=INITS.get)
    cuda_ok = ("cuda",) if REGISTRY.executor.kind == "ray" else ("cuda", "auto")   # on a cluster, auto is a CPU
    no_cuda = "cuda" not in REGISTRY.executor.devices() or st.session_state.device not in cuda_ok
    if no_cuda:
        st.session_state.amp = False
    control(st.toggle, "Mixed precision", key="amp", lesson=lesson, disabled=no_cuda,
            help="bf16/fp16 autocast; CUDA only")
    with st.expander("Regularisation and stopping"):
        control(st.select_slider, "L1 penalty", [0.0, 1e-5, 1e-4, 1e-3, 1e-2], key="l1", lesson=lesson,
                format_func=lambda v: f"{v:g}",
                help="adds l1 x sum |w| over the weights to the loss (L2 is the weight decay above)")
        control(st.select_slider, "Clip gradient norm", [0.0, 0.1, 0.5, 1.0, 5.0], key="clip_norm", lesson=lesson,
                format_func=lambda v: "off" if v == 0 else f"{v:g}",
                help="rescale the gradient whenever its total norm exceeds this, before each step")
        control(st.number_input, "Early stopping patience (epochs, 0 = off)", step=1, key="patience", lesson=lesson,
                help="stop when the validation loss has not improved for this many epochs, and restore "
                     "the weights of the best epoch")

if data is not None and data.kind == "image":
    if not locked("data_name", lesson):
        augment_panel(data, int(st.session_state.seed))
    elif "data" not in lesson.hidden:
        st.caption(":material/lock: The lesson sets the data, its augmentation included.")

config_error = None
if not (net_error or data_error):
    try:
        config_json = build_config().to_json()
    except PlaygroundError as e:                 # e.g. Nesterov with momentum 0
        config_error = str(e)
current = shown_run()
running = current is not None and current.alive and may_act(current)   # one's own runs (the teacher: any)
c1, c2, c3, c4, c5, c6 = st.columns([1.5, 0.9, 1.1, 1.4, 1.5, 1.0])   # "Start training" whole at 1280 px
c1.button("Start training", icon=":material/play_arrow:", type="primary", on_click=start_run,
          disabled=bool(net_error or data_error or config_error), width="stretch")
c2.button("Stop", icon=":material/stop:", on_click=stop, args=(current.id if current else "",), disabled=not running,
          width="stretch")
if current is not None:
    resume_controls(current, (c3, c4))
if not (net_error or data_error or config_error):
    c5.download_button("Config (JSON)", named_config(config_json, current), "run.json", "application/json",
                       icon=":material/download:", help="Train it headless: python -m playground train run.json")
share_popover(None if (net_error or data_error or config_error) else config_json,
              current.id if current is not None else None, c6)
if config_error:
    st.error(config_error)
if refused := start_error(None if (net_error or data_error or config_error) else config_json):
    st.error(refused)
show_error()
save_lesson_panel(lesson)
save_draft()
live_panel(st.session_state.get("run_id"), data, task, float(st.session_state.lr))
