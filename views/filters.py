"""Filters & feature maps: what a CNN's kernels look like at any epoch, what each layer makes of one input
(a validation example, a drawing or an upload), one convolution cell by hand, and what makes a filter fire."""
import streamlit as st

from playground.inspect import conv_layer_numbers
from ui.filters import (
    conv_explainer,
    feature_maps,
    filter_panel,
    input_panel,
    input_source,
    kernels,
    maps,
    size_panel,
    top_panel,
    warm_neighbours,
)
from ui.run_form import KIND_WORDS
from ui.scrubber import HEAVY_GAP, follow, from_snapshot, scrubbed
from ui.sidebar import require_run

st.title("Filters & feature maps")
st.caption("The run shown in the sidebar, at any epoch: its convolution filters, every layer's output for one "
           "input, and the arithmetic inside one convolution. Computed from that epoch's weight snapshot.")
run = require_run("No run yet: train a CNN on **Build & Train** (MNIST with the Small CNN preset), or pick one in "
                  "the sidebar.")
run_id = run.id
if run.data.kind != "image":
    st.info(f"**{run.name}** learns from {KIND_WORDS.get(run.data.kind, run.data.kind)}: filters and feature maps "
            f"belong to image data. Pick an image run in the sidebar, or train one (MNIST with the Small CNN preset)."
            + (" What a sequence model attends to is on **Attention**." if run.data.kind == "tokens" else ""))
    st.stop()
@st.fragment
def snapshot_views():
    """Everything that depends on the epoch: a scrub reruns this, not the whole app."""
    snap = scrubbed(run_id, run.name)
    if snap is None:
        return

    types = [spec["type"] for spec in run.config.layers]
    convs = conv_layer_numbers(run.config.layers)
    if convs:
        a, b = st.columns([1, 2], vertical_alignment="bottom")
        layer = a.selectbox("Conv2d layer", convs, format_func=lambda i: f"layer {i}", key="filters_layer")
        shared = b.toggle("One colour scale for the whole layer", value=True, key="filters_shared",
                          help="On: compare filters with each other. Off: each filter scaled to its own largest "
                               "weight, to see the shape of a weak one")
        filter_panel(*from_snapshot(kernels, run_id, snap.epoch, snap.step, layer), shared)
    else:
        st.info("This network has no Conv2d layer, so no filters; the layers' outputs below still show.")

    st.header("One input through the network", divider="gray")
    pick = input_source(run.data)
    shown = None
    if pick is not None:
        arrays, s = from_snapshot(maps, run_id, snap.epoch, snap.step, pick.sample, pick.custom)
        input_panel(arrays, s, pick.label)
        feature_maps(arrays, s)
        if convs:
            st.header("Inside one convolution: click an output cell", divider="gray")
            shown = conv_explainer(run_id, snap, convs, pick, arrays)

    st.header("Output size", divider="gray")
    size_panel(run_id, snap, types, shown)
    st.header("What makes a filter fire", divider="gray")
    top_panel(run_id, snap, types, convs[0] if convs else 1)
    warm_neighbours(run_id, snap, layer if convs else None, pick, st.session_state.get("size_layer"))



snapshot_views()
with st.expander("What to look for", icon=":material/school:"):
    st.markdown(
        "- **Scrub from epoch 0.** The initial filters are noise; after training, first-layer filters on "
        "digits look like small edge and stroke detectors: a red band beside a blue one responds to a "
        "change of brightness in that direction.\n"
        "- **A filter is a template.** A convolution slides it over the input and sums the element-wise "
        "products plus the bias, so a map is bright where the input looks like the filter.\n"
        "- **Click a bright cell, then a dark one.** In the bright one the window holds strokes where the "
        "kernel is red, so the products are mostly positive; in the dark one they cancel or turn negative, "
        "and a ReLU after the layer sets the cell to zero. The sum shown is the number PyTorch computed.\n"
        "- **Edges and padding.** A corner cell's window hangs over the padding: those inputs are zeros, so "
        "only part of the kernel counts there.\n"
        "- **Deeper maps are smaller and more abstract.** Each pooling halves the size; later layers "
        "combine earlier maps (one kernel slice per input channel, the partial sums), and their output is "
        "hard to read as a picture.\n"
        "- **Output size** of a Conv2d or pooling layer: H_out = floor((H + 2p - k) / s) + 1. Padding 1 with "
        "a 3x3 kernel keeps the size; stride 2 halves it.\n"
        "- **Your own input.** Draw one (a digit, a shape: what the run learnt from): if the prediction is wrong, "
        "look at which layer's maps differ from a validation example of that class. Thin, off-centre or "
        "dark-on-light figures look unlike the training data; the page crops, centres and inverts to help.\n"
        "- **What makes a filter fire.** The top examples of a first-layer filter share a stroke direction; "
        "a deeper filter's share a larger part (a loop, a crossing). Its mean over the split tells you whether "
        "the filter is rare or everywhere.\n"
        "- **Dead filters** (all white in the shared scale) never change: with ReLU, a filter whose "
        "output is always negative gets no gradient.")
follow(run_id, gap=HEAVY_GAP)
