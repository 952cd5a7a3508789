"""The Filters & feature maps page's pieces: cached views of a snapshot, the input picker, and their
drawing."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from playground.errors import DataError
from playground.inspect import activations, conv_cell, filters, output_size
from playground.inspect.filters import ranked, unit_scores
from playground.inspect.inputs import MAX_BYTES, canvas_input, image_input, value_range
from playground.viz.filters import (
    feature_grid,
    figure_strip,
    filter_grid,
    input_image,
    map_spec,
    numbers_table,
    partials_spec,
    probs_chart,
    window_image,
)
from ui.charts import clamp_input, take_cell_click, vega
from ui.scrubber import from_snapshot, prefetch, snapshot_model

POOLS = ("MaxPool2d", "AvgPool2d")


@st.cache_data(max_entries=32, show_spinner=False)
def kernels(run_id: str, epoch: int, step: int, layer: int | None) -> tuple[dict, dict]:
    """The layer's filters, and their pictures on one scale and each on its own (composed once per
    snapshot, not at every redraw: a scrub back and forth finds them made)."""
    view = filters(snapshot_model(run_id, epoch, step), layer)
    pictures = {f"grid_{'shared' if shared else 'own'}": filter_grid(view.arrays["weight"], shared)
                for shared in (True, False)}
    return {**view.arrays, **pictures}, view.summary


def _x(custom: np.ndarray | None) -> torch.Tensor | None:
    return None if custom is None else torch.from_numpy(custom)


@st.cache_data(max_entries=32, show_spinner=False)
def maps(run_id: str, epoch: int, step: int, sample: int, custom: np.ndarray | None = None) -> tuple[dict, dict]:
    """Every layer's output for one input, and each map layer's picture (composed once per snapshot)."""
    view = activations(snapshot_model(run_id, epoch, step), sample, x=_x(custom))
    pictures = {f"grid_{name[len('layer_'):]}": feature_grid(out) for name, out in view.arrays.items()
                if name.startswith("layer_") and out.ndim == 3}
    return {**view.arrays, **pictures}, view.summary


@st.cache_data(max_entries=64, show_spinner=False)
def cell(run_id: str, epoch: int, step: int, layer: int, sample: int, channel: int, row: int, col: int,
         custom: np.ndarray | None = None) -> tuple[dict, dict]:
    view = conv_cell(snapshot_model(run_id, epoch, step), layer, sample, channel, row, col, x=_x(custom))
    return view.arrays, view.summary


@st.cache_data(max_entries=16, show_spinner=False)
def scores(run_id: str, epoch: int, step: int, layer: int) -> tuple[np.ndarray, str]:
    """Every validation example's activation of every unit of the layer: one pass, for all its channels."""
    return unit_scores(snapshot_model(run_id, epoch, step), layer)


@st.cache_data(max_entries=32, show_spinner=False)
def top(run_id: str, epoch: int, step: int, layer: int, channel: int, k: int = 9) -> tuple[dict, dict]:
    """top_inputs(frozen, layer, channel, k), ranked from the layer's cached scores; and the examples with
    their captions (example, value, true -> predicted) as one strip of HTML, composed once per snapshot."""
    view = ranked(snapshot_model(run_id, epoch, step), layer, channel, k, "val", *scores(run_id, epoch, step, layer))
    # spaces around the arrow: a caption wraps between words, never inside a class name ("triang le")
    captions = [f"#{t['index']} · {t['activation']:.2f}" + (f" · {t['true']} → {t['predicted']}" if "true" in t else "")
                for t in view.summary["top"]]
    strip = figure_strip([input_image(x, 84) for x in view.arrays["inputs"]], captions,
                         [f"validation example {c}" for c in captions])
    return view.arrays, {**view.summary, "strip": strip}


@st.cache_data(max_entries=32, show_spinner=False)
def sizes(run_id: str, epoch: int, step: int, layer: int) -> dict:
    return output_size(snapshot_model(run_id, epoch, step), layer).summary


@dataclass
class Picked:
    """The input the page shows: a validation example, or the user's own (custom, shaped like the data)."""
    sample: int
    custom: np.ndarray | None
    label: str


# What a set's images show, for the words of the draw and upload inputs: (one, several, centred like
# MNIST's digits, so that cropping and centring a drawing makes it like the training data).
FIGURES = {"digits": ("digit", "digits", True), "mnist_subset": ("digit", "digits", True),
           "mnist": ("digit", "digits", True), "fashion_mnist": ("piece of clothing", "clothes", True),
           "shapes": ("shape", "shapes", False)}


def figure_words(data) -> tuple[str, str, bool]:
    """(one, several, centred) for the run's own images: a shapes run draws shapes, not digits."""
    return FIGURES.get(data.name, ("figure", "images", False))


def input_source(data, key: str = "filters") -> Picked | None:
    """Radio: a validation example, a drawing or an upload; None (with the reason shown) while there
    is no usable input yet. key: the widgets' key prefix (one per page)."""
    shape, n = tuple(data.X_val.shape[1:]), len(data.X_val)
    one, several, centred = figure_words(data)
    src = st.radio("Input", ["validation example", "draw", "upload"], horizontal=True, key=f"{key}_source",
                   help="Draw or upload: the image is made like the training data (channels, size, value range)")
    if src == "validation example":
        sample = st.number_input(f"Validation example (0 to {n - 1})", 0, n - 1, 0, key=f"{key}_sample")
        return Picked(int(sample), None, f"validation example {sample}")
    centre = st.toggle(f"Crop to the {one} and centre it" + (f", as the training {several} are" if centred else ""),
                       value=src == "draw" and centred, key=f"{key}_centre_{src}",
                       help=None if centred else f"The training {several} are not centred: leave it off to keep "
                                                 f"your {one} where you put it")
    try:
        if src == "draw":
            x, notes = _drawing(shape, value_range(data.X_train), centre, key, data)
        else:
            f = st.file_uploader(f"A PNG or JPEG image, up to {MAX_BYTES // 2**20} MB", type=["png", "jpg", "jpeg"],
                                 key=f"{key}_upload", max_upload_size=MAX_BYTES // 2**20)
            if f is None:
                st.info("Upload an image: a light figure on a dark background, like the training data (a mostly light "
                        "image is inverted for you).")
                return None
            x, notes = image_input(f.getvalue(), shape, value_range(data.X_train), f.name, centre)
    except DataError as e:
        if "canvas is empty" in str(e):
            st.info(f"the canvas is empty: draw a {one} on it (a light stroke on the dark square).",
                    icon=":material/info:")
        else:
            st.error(str(e), icon=":material/info:")
        return None
    st.caption("Made like the training data: " + "; ".join(notes or ["already the right size and range"]))
    return Picked(0, x.numpy(), "your drawing" if src == "draw" else "your image")


def _drawing(shape: tuple, lo_hi: tuple[float, float], centre: bool, key: str, data):
    from streamlit_drawable_canvas import st_canvas

    if shape[0] != 1:
        raise DataError(f"drawing makes grey images, and this run's inputs have {shape[0]} channels: upload an "
                        f"image or pick a validation example")
    one = figure_words(data)[0]
    names = [str(c) for c in data.class_names]
    worded = 1 < len(names) <= 6 and all(c.isalpha() for c in names)          # shapes' classes, not digits'
    kinds = f" ({', '.join(names[:-1])} or {names[-1]})" if worded else ""
    st.caption(f"Draw a light {one}{kinds} on the dark square (it is shrunk to the data's size).")
    res = st_canvas(stroke_width=18, stroke_color="#FFFFFF", background_color="#000000", height=224, width=224,
                    drawing_mode="freedraw", return_image_data=True, key=f"{key}_canvas")
    image = None if res is None else res.image_data
    if image is None:
        raise DataError("the canvas is empty")
    return canvas_input(np.asarray(image), shape, lo_hi, centre)


def filter_panel(arrays: dict, s: dict, shared: bool) -> None:
    out_c, in_c, kh, kw = s["shape"]
    layout = "a row per filter, a column per input channel" if in_c > 1 else "a tile per filter"
    st.caption(f"Layer {s['layer']} (Conv2d): {out_c} filters of {in_c}x{kh}x{kw} · {layout} · red positive, blue "
               f"negative, white zero · "
               + (f"one scale for the layer (|w| up to {s['abs_max']:.3g})" if shared
                  else "each filter on its own scale"))
    img = arrays["grid_shared" if shared else "grid_own"]
    st.image(img, width=min(img.shape[1], 900), clamp=True,
             alt=f"layer {s['layer']}'s {out_c} filters of {in_c}x{kh}x{kw} weights as coloured tiles, red positive, "
                 f"blue negative (largest |w| {s['abs_max']:.3g})")


def input_panel(arrays: dict, s: dict, label: str | None = None) -> None:
    left, right = st.columns([1, 2])
    with left:
        what = (label or f"validation example {s['sample']}") + (f" · true class {s['true']}" if "true" in s else "")
        st.image(input_image(arrays["input"]), width=168, caption=what, alt=f"the input image: {what}")
    if "probs" not in arrays:                                   # an autoencoder: its output is drawn below
        right.caption(f"A {s['task']} run: the network's output is the last map below")
        return
    with right:
        if "true" in s:
            verdict = "right" if s["predicted"] == s["true"] else "wrong"
            st.caption(f"Predicted **{s['predicted']}** ({s['confidence']:.0%}, {verdict}); orange: the true class")
        else:
            st.caption(f"Predicted **{s['predicted']}** ({s['confidence']:.0%}); your input has no true class")
        vega(probs_chart(arrays["probs"], s["class_names"], s.get("true")))


def feature_maps(arrays: dict, s: dict) -> None:
    for layer in s["layers"]:
        out = arrays[f"layer_{layer['index']:02d}"]
        shape = "x".join(map(str, layer["shape"]))
        if out.ndim != 3:
            continue                                          # flattened: no map to draw
        st.caption(f"Layer {layer['index']} · {layer['type']} · {shape} (channels x height x width) · each map "
                   f"on its own grey scale, black lowest; all black: zero everywhere")
        img = arrays[f"grid_{layer['index']:02d}"]
        st.image(img, width=min(img.shape[1], 900), clamp=True,
                 alt=f"layer {layer['index']} ({layer['type']}): {out.shape[0]} feature maps of {out.shape[1]}x"
                     f"{out.shape[2]}, grey, brightest where the output is highest")


def conv_explainer(run_id: str, snap, convs: list[int], pick: Picked, outputs: dict) -> int:
    """Click an output cell of a Conv2d layer's map: its window on the input, the kernel, the
    products and their sum plus the bias, checked against F.conv2d. Returns the layer shown."""
    a, b = st.columns(2)
    layer = a.selectbox("Conv2d layer", convs, format_func=lambda i: f"layer {i}", key="conv_layer")
    c_out, h, w = outputs[f"layer_{layer:02d}"].shape
    clamp_input("conv_channel", c_out - 1)
    channel = int(b.number_input(f"Output channel (filter), 0 to {c_out - 1}", 0, c_out - 1, key="conv_channel"))
    take_cell_click("conv_map", "conv", h, w)
    left, right = st.columns([3, 2])
    with right:
        row = int(st.number_input(f"Row (0 to {h - 1})", 0, h - 1, key="conv_row"))
        col = int(st.number_input(f"Column (0 to {w - 1})", 0, w - 1, key="conv_col"))
        st.caption("Click a cell of the map, or type its row and column.")
    with left:
        st.vega_lite_chart(spec=map_spec(outputs[f"layer_{layer:02d}"][channel], row, col), on_select="rerun",
                           selection_mode="cell", key="conv_map")
    arrays, s = from_snapshot(cell, run_id, snap.epoch, snap.step, layer, pick.sample, channel, row, col, pick.custom)
    first, n_in = s["input_channels"][0], arrays["window"].shape[0]
    if n_in > 1:
        biggest = first + int(np.abs(arrays["partial"]).argmax())
        if not first <= st.session_state.get("conv_in_channel", -1) < first + n_in:
            st.session_state["conv_in_channel"] = biggest
        k = int(st.number_input(f"Input channel to look at ({first} to {first + n_in - 1}; the biggest |partial "
                                f"sum| is {biggest})", first, first + n_in - 1, key="conv_in_channel")) - first
    else:
        k = 0
    pic, grids = st.columns([1, 3])
    pic.image(window_image(arrays["input"][first + k], s["padding"], s["window_top"], s["window_left"],
                           s["window_span"]),
              caption=f"{pick.label}, what layer {layer} receives (channel {first + k}): the window in orange, "
                      f"padding pale blue",
              alt=f"channel {first + k} of layer {layer}'s input with the window of the chosen cell marked")
    with grids:
        g1, g2, g3 = st.columns(3)
        g1.html(numbers_table(arrays["window"][k], "window (input)", False, arrays["padding"]))
        g2.html(numbers_table(arrays["kernel"][k], "kernel (weights)"))
        g3.html(numbers_table(arrays["products"][k], f"products: sum {arrays['partial'][k]:.3f}"))
    if n_in > 1:
        st.caption(f"The kernel has {n_in} input channels: each gives a sum of products (bars); the cell adds all "
                   f"{n_in} sums and the bias.")
        vega(partials_spec(arrays["partial"], first))
    (st.success if s["matches"] else st.error)(s["equation"], icon=":material/calculate:")
    return layer


def size_panel(run_id: str, snap, types: list[str], default: int | None) -> None:
    """H_out = floor((H + 2p − k) / s) + 1 with a Conv2d or pooling layer's own numbers."""
    choices = [i + 1 for i, t in enumerate(types) if t == "Conv2d" or t in POOLS]
    if not choices:
        return
    if default in choices and st.session_state.get("_size_follows") != default:   # follow the explainer's layer
        st.session_state["_size_follows"] = st.session_state["size_layer"] = default
    if st.session_state.get("size_layer") not in choices:
        st.session_state["size_layer"] = choices[0]
    layer = st.selectbox("Layer", choices, format_func=lambda i: f"layer {i} · {types[i - 1]}", key="size_layer",
                         help="Follows the Conv2d layer chosen above; pick a pooling layer to see why maps shrink")
    s = from_snapshot(sizes, run_id, snap.epoch, snap.step, layer)
    st.markdown(f"Layer {layer} ({s['type']}): input {'x'.join(map(str, s['in_shape']))} → output "
                f"{'x'.join(map(str, s['out_shape']))} (channels x height x width)")
    st.code("\n".join(f"{r['dim']}_out = {r['formula']}" for r in s["rows"]), language=None)
    r = s["rows"][0]
    st.caption(f"p = padding ({r['padding'][0]}), k = kernel size ({r['kernel']}), s = stride ({r['stride']})"
               + (f", d = dilation ({r['dilation']})" if r["dilation"] != 1 else "")
               + "; floor: a window that would hang past the edge is dropped.")


def top_panel(run_id: str, snap, types: list[str], default: int) -> None:
    """The validation examples that excite one filter (or unit) most, with their labels and predictions."""
    a, b = st.columns(2)
    layer = a.selectbox("Layer", list(range(1, len(types) + 1)), index=default - 1,
                        format_func=lambda i: f"layer {i} · {types[i - 1]}", key="top_layer")
    out = from_snapshot(maps, run_id, snap.epoch, snap.step, 0)[0][f"layer_{layer:02d}"]
    units, kind = (out.shape[0], "filter (channel)") if out.ndim == 3 else (out.size, "unit")
    clamp_input("top_channel", units - 1)
    channel = int(b.number_input(f"{kind.capitalize()}, 0 to {units - 1}", 0, units - 1, key="top_channel"))
    _, s = from_snapshot(top, run_id, snap.epoch, snap.step, layer, channel)
    st.caption(f"The {s['k']} validation examples that excite it most, by {s['measure']} (layer {layer}, "
               f"{s['type']}); its mean over the split is {s['mean']:.3g}. Caption: example, value, true → predicted.")
    st.html(s["strip"])


def warm_neighbours(run_id: str, snap, filter_layer: int | None, pick: Picked | None, size_layer: int | None) -> None:
    """The next and previous snapshots' views, with the page's current settings, computed in the
    background (ui.scrubber.prefetch): a scrub or a play step to them is then drawn from the cache."""
    s = st.session_state
    conv = (s.get("conv_layer"), s.get("conv_channel", 0), s.get("conv_row", 0), s.get("conv_col", 0))
    top_at = (s.get("top_layer"), s.get("top_channel", 0))

    def work(n) -> None:
        if filter_layer is not None:
            kernels(run_id, n.epoch, n.step, filter_layer)
        if pick is not None:
            maps(run_id, n.epoch, n.step, pick.sample, pick.custom)
            if conv[0] is not None:
                cell(run_id, n.epoch, n.step, conv[0], pick.sample, int(conv[1]), int(conv[2]), int(conv[3]),
                     pick.custom)
        if size_layer is not None:
            sizes(run_id, n.epoch, n.step, size_layer)
        if top_at[0] is not None:
            maps(run_id, n.epoch, n.step, 0)
            top(run_id, n.epoch, n.step, top_at[0], int(top_at[1]))
    prefetch(run_id, snap, work)
