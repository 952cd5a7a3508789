"""The Filters & feature maps page's pieces: cached views of a snapshot, and their drawing."""
from __future__ import annotations

import streamlit as st

from playground.inspect import activations, filters
from playground.viz.filters import feature_grid, filter_grid, input_image, probs_chart
from ui.charts import vega
from ui.scrubber import snapshot_model


@st.cache_data(max_entries=32, show_spinner=False)
def kernels(run_id: str, epoch: int, step: int, layer: int | None) -> tuple[dict, dict]:
    view = filters(snapshot_model(run_id, epoch, step), layer)
    return view.arrays, view.summary


@st.cache_data(max_entries=32, show_spinner=False)
def maps(run_id: str, epoch: int, step: int, sample: int) -> tuple[dict, dict]:
    view = activations(snapshot_model(run_id, epoch, step), sample)
    return view.arrays, view.summary


def filter_panel(arrays: dict, s: dict, shared: bool) -> None:
    out_c, in_c, kh, kw = s["shape"]
    layout = "a row per filter, a column per input channel" if in_c > 1 else "a tile per filter"
    st.caption(f"Layer {s['layer']} (Conv2d): {out_c} filters of {in_c}x{kh}x{kw} · {layout} · red positive, blue "
               f"negative, white zero · "
               + (f"one scale for the layer (|w| up to {s['abs_max']:.3g})" if shared else "each filter on its own scale"))
    img = filter_grid(arrays["weight"], shared)
    st.image(img, width=min(img.shape[1], 900), clamp=True)


def input_panel(arrays: dict, s: dict) -> None:
    left, right = st.columns([1, 2])
    with left:
        st.image(input_image(arrays["input"]), width=168, caption=f"validation example {s['sample']}"
                 + (f" · true class {s['true']}" if "true" in s else ""))
    if "probs" not in arrays:                                   # an autoencoder: its output is drawn below
        right.caption(f"A {s['task']} run: the network's output is the last map below")
        return
    with right:
        verdict = "right" if s["predicted"] == s["true"] else "wrong"
        st.caption(f"Predicted **{s['predicted']}** ({s['confidence']:.0%}, {verdict}); orange: the true class")
        vega(probs_chart(arrays["probs"], s["class_names"], s["true"]))


def feature_maps(arrays: dict, s: dict) -> None:
    for layer in s["layers"]:
        out = arrays[f"layer_{layer['index']:02d}"]
        shape = "x".join(map(str, layer["shape"]))
        if out.ndim != 3:
            continue                                          # flattened: no map to draw
        st.caption(f"Layer {layer['index']} · {layer['type']} · {shape} (channels x height x width) · each map "
                   f"on its own grey scale, black lowest; all black: zero everywhere")
        img = feature_grid(out)
        st.image(img, width=min(img.shape[1], 900), clamp=True)
