"""Explain: why the network gave its answer for one input (Grad-CAM, saliency, Integrated Gradients,
SmoothGrad, occlusion, SHAP) at any epoch, the same map over training, and the checks that say
whether a map can be trusted; for a table, SHAP's waterfall, beeswarm and bar."""
import streamlit as st

from playground.inspect import conv_layer_numbers
from playground.inspect.explain import CAMS, METHODS
from ui import explain as ui
from ui.filters import input_source
from ui.plane import plane_panel
from ui.scrubber import HEAVY_GAP, follow, scrubbed
from ui.sidebar import require_run, shown_run

st.title("Explain")
st.caption("The run shown in the sidebar, at any epoch: which parts of an input raised the network's score for a "
           "class, by several methods side by side, and how far each can be trusted. Computed with captum on that "
           "epoch's weight snapshot.")
run = shown_run()
why = None if run is None else ui.explainable(run)
ui.starters(open_=run is None or why is not None)
run = require_run("No run yet: press a button above, or train a classifier of images or tables on **Build & Train**.",
                  run=run)
if why:
    st.info(why + " Press a button above, or pick another run in the sidebar.")
    st.stop()
run_id = run.id
image = run.data.kind == "image"
convs = conv_layer_numbers(run.config.layers) if image else []


@st.fragment
def snapshot_views():
    """Everything that depends on the epoch: a scrub reruns this, not the whole app."""
    snap = scrubbed(run_id, run.name)
    if snap is None:
        return
    reg = run.task.name == "regression"
    names = [str(c) for c in (run.data.target_names or ["prediction"] if reg else run.data.class_names)]
    if not image:
        ui.table_panels(run_id, snap, names, reg)
        plane_panel(run_id, snap, run.data)
        st.header("One row, by several methods", divider="gray")
    pick = input_source(run.data, "exp") if image else None
    sample = pick.sample if pick else int(st.session_state.get("exp_table_row", 0))
    custom = pick.custom if pick else None
    if image and pick is None:
        return
    opts = ui.option_widgets(convs, image)
    allowed = ui.IMAGE_METHODS if image else ui.TABLE_METHODS
    first = [m for m in ui.DEFAULT_METHODS if m in allowed and (convs or m not in CAMS)] if image else allowed[:3]
    if any(m not in allowed for m in st.session_state.get("exp_methods", [])):
        st.session_state.pop("exp_methods")
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    methods = c1.multiselect("Methods, side by side", allowed, default=first, key="exp_methods",
                             format_func=METHODS.get, max_selections=6,
                             help="The CAM methods need a Conv2d layer; all the others work on any network")
    a, s, _ = ui.explained(run_id, snap.epoch, snap.step, "saliency", sample, custom, None, opts)
    with c2:
        target = None if reg else ui.target_choice(names)
    if reg:
        st.markdown(f"The network predicts **{s['predicted']}** for {names[0]}"
                    + (f"; the true value is **{s['true']}**." if s.get("true") else "."))
    else:
        st.markdown(f"The network says **{s['predicted']}** with p = {s['confidence']:.2f}"
                    + (f"; the true class is **{s['true']}**." if s.get("true") else "."))
    if not methods:
        st.info("Pick one or more methods above.")
        return
    ui.maps_row(run_id, snap, methods, sample, custom, target, opts)
    if image:
        if st.toggle("SHAP for every class", key="exp_classes",
                     help="GradientShap for each class on one colour scale, as shap draws images (a second or so)"):
            ui.class_panels(run_id, snap, sample, custom, opts, names)
        st.header("The same input over training", divider="gray")
        c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
        method = c1.selectbox("Method", methods, key="exp_over_method", format_func=METHODS.get)
        shared = c2.toggle("One colour scale for all epochs", key="exp_over_shared")
        ui.over_training_strip(run_id, method, sample, custom, target, opts, shared)
    st.header("Can these maps be trusted?", divider="gray")
    c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
    method = c1.selectbox("Check the method", methods, key="exp_trust_method", format_func=METHODS.get)
    if c2.button("Run the trust checks", key="exp_trust", icon=":material/fact_check:") or \
            st.session_state.get("exp_trusted") == (run_id, snap.epoch, method, opts):
        st.session_state["exp_trusted"] = (run_id, snap.epoch, method, opts)
        ui.trust_panel(run_id, snap, method, opts)
    else:
        st.caption("Completeness, model randomisation" + (", the pointing game and deletion/insertion" if image else "")
                   + ": a few seconds, on this epoch's snapshot.")


snapshot_views()
with st.expander("What to look for", icon=":material/school:"):
    st.markdown(ui.LOOK_FOR)
follow(run_id, gap=HEAVY_GAP)
