"""Filters & feature maps: what a CNN's kernels look like at any epoch, and what each layer makes of one input."""
import streamlit as st

from playground.inspect import conv_layer_numbers
from playground.train import REGISTRY
from ui.filters import feature_maps, filter_panel, input_panel, kernels, maps
from ui.scrubber import epoch_scrubber, from_snapshot

st.title("Filters & feature maps")
st.caption("The run shown in the sidebar, at any epoch: its convolution filters, and every layer's output for one "
           "input. Computed from that epoch's weight snapshot.")
run_id = st.session_state.get("run_id")
run = REGISTRY.get(run_id)
if run is None:
    st.info("No run yet: train a CNN on **Build & Train** (MNIST with the Small CNN preset), or pick one in the "
            "sidebar.")
    st.stop()
if run.data.kind != "image":
    st.info(f"**{run.name}** learns from 2-D points: filters and feature maps belong to image data. Pick an image "
            f"run in the sidebar, or train one (MNIST with the Small CNN preset).")
    st.stop()
snap = epoch_scrubber(run_id)
if snap is None:
    st.info(f"**{run.name}** has no weight snapshot yet: the first (the initial weights) is written as it starts.")
    st.stop()

convs = conv_layer_numbers(run.config.layers)
if convs:
    a, b = st.columns([1, 2], vertical_alignment="bottom")
    layer = a.selectbox("Conv2d layer", convs, format_func=lambda i: f"layer {i}", key="filters_layer")
    shared = b.toggle("One colour scale for the whole layer", value=True, key="filters_shared",
                      help="On: compare filters with each other. Off: each filter scaled to its own largest weight, "
                           "to see the shape of a weak one")
    filter_panel(*from_snapshot(kernels, run_id, snap.epoch, snap.step, layer), shared)
else:
    st.info("This network has no Conv2d layer, so no filters; the layers' outputs below still show.")

st.subheader("One input through the network", divider="gray")
n = len(run.data.X_val)
sample = st.number_input(f"Validation example (0 to {n - 1})", 0, n - 1, 0, key="filters_sample")
arrays, s = from_snapshot(maps, run_id, snap.epoch, snap.step, int(sample))
input_panel(arrays, s)
feature_maps(arrays, s)
with st.expander("What to look for", icon=":material/school:"):
    st.markdown(
        "- **Scrub from epoch 0.** The initial filters are noise; after training, first-layer filters on "
        "digits look like small edge and stroke detectors: a red band beside a blue one responds to a "
        "change of brightness in that direction.\n"
        "- **A filter is a template.** A convolution slides it over the input and sums the element-wise "
        "products plus the bias, so a map is bright where the input looks like the filter.\n"
        "- **Deeper maps are smaller and more abstract.** Each pooling halves the size; later layers "
        "combine earlier maps, and their output is hard to read as a picture.\n"
        "- **Output size** of a Conv2d or pooling layer: H_out = floor((H + 2p - k) / s) + 1.\n"
        "- **Dead filters** (all white in the shared scale) never change: with ReLU, a filter whose "
        "output is always negative gets no gradient.")
