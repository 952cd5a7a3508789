"""Attention: where each position of a transformer reads from, per layer and head, at any epoch; the
numbers behind one weight; the rollout; the pattern the task needs, scored per head over training;
and the course notes' experiments as one-click pairs."""
import streamlit as st

from playground.train import REGISTRY
from playground.viz.attention import token_labels
from ui import attention as ui
from ui.scrubber import follow, from_snapshot, scrubbed
from ui.sidebar import require_run

st.title("Attention")
st.caption("The run shown in the sidebar, at any epoch: each attention layer's weights for one sequence, computed "
           "in one forward pass of that epoch's weight snapshot.")
ui.lessons()
run = require_run("No run yet: press a lesson button above, or train a transformer on **Build & Train** (the "
                  "examples 'tiny transformer · reverse', '· max' and '· induction').")
run_id = run.id
if not ui.has_attention(run.config.layers):
    st.info(f"**{run.name}** has no attention layer (SelfAttention or TransformerBlock). Pick a transformer run in "
            f"the sidebar, press a lesson button above, or train the example 'tiny transformer · reverse'.")
    st.stop()
for note in ui.design_notes(run.config.layers, run.data):
    st.warning(note, icon=":material/warning:")
other = st.session_state.get("attn_compare")
if other == run_id or REGISTRY.get(other) is None:
    other = None
lesson = ui.lesson_of(run_id, other)
st.caption(f":material/info: {ui.NOT_WHY}")


@st.fragment
def snapshot_views():
    """Everything that depends on the epoch: a scrub reruns this, not the whole app."""
    snap = scrubbed(run_id, run.name)
    if snap is None:
        return
    if other is not None:
        ui.compare_panel(other, snap.epoch, lesson)
    pick = ui.sequence_source(run.data)
    a, s = from_snapshot(ui.view, run_id, snap.epoch, snap.step, pick.sample, pick.tokens)
    labels = token_labels(a["input"] if s["kind"] == "tokens" else range(s["length"]), s["kind"])
    ui.prediction_table(a, s)
    ui.patches_panel(a)
    # One view at a time (tabs would compute and draw all three on every scrub)
    shown = st.segmented_control("Show", list(ui.SHOW), default="head", format_func=ui.SHOW.get, key="attn_show",
                                 required=True)
    if shown == "head":
        layer, head, row, col = ui.one_head(a, s, labels)
        st.header("The numbers behind one weight", divider="gray")
        ui.cell_panel(run_id, snap, pick, layer, head, row, col, labels)
    elif shown == "all":
        ui.grid_and_rollout(a, s, labels)
    else:
        ui.patterns_panel(run_id, snap, s)
    ui.warm_neighbours(run_id, snap, pick)


snapshot_views()
with st.expander("What to look for", icon=":material/school:"):
    st.markdown(ui.LOOK_FOR)
follow(run_id)
