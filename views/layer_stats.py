"""Layer statistics: each layer's weights, gradients and outputs over training, from the records taken
at every weight snapshot."""
import streamlit as st

from playground.viz.stats import KINDS
from ui import stats as ui
from ui.scrubber import epoch_scrubber
from ui.sidebar import require_run

st.title("Layer statistics")
st.caption("Inside each layer over training: gradient norms (vanishing and exploding gradients), output "
           "distributions, dead ReLUs and saturated sigmoids, the size of each update. Measured at every weight "
           "snapshot on the same fixed batch of training examples.")
ui.lessons()
run = require_run("No run yet: press a lesson button above, or train a network on **Build & Train**.")
run_id = run.id
recs = ui.records(run_id)
if not recs:
    st.info(f"**{run.name}** has no layer statistics yet: they are recorded with each weight snapshot (the first "
            f"when training starts), unless the run was trained with statistics off.")
    ui.follow(run_id)
    st.stop()
snap = epoch_scrubber(run_id)
arrays, s = ui.view_at(run_id, ui.marker(run_id), snap.epoch if snap else recs[-1]["epoch"])
at = int(list(arrays["epochs"]).index(s["epoch"]))
if snap is not None and s["epoch"] != snap.epoch:
    st.caption(f"Statistics from epoch {s['epoch']}, the nearest recorded before epoch {snap.epoch}.")
other = ui.other_run(run_id, s["epoch"])
ui.headline(arrays, s)

tab_g, tab_d, tab_u, tab_l = st.tabs(["Gradients", "Distributions", "Updates and units", "One layer over time"])
with tab_g:
    ui.gradients(arrays, s, at, other)
with tab_d:
    kind = st.segmented_control("Show", list(KINDS), format_func=KINDS.get, default="act", key="stats_kind",
                                required=True)
    st.caption(f"Every layer's {KINDS[kind]} at epoch {s['epoch']}, each on its own axis (read the axes, or the "
               f"standard deviation in each title), as shares of its values ({s['probe']} probe examples).")
    ui.distributions(arrays, s, at, kind)
with tab_u:
    ui.updates(arrays, s)
    ui.units(arrays, s)
with tab_l:
    ui.over_time(arrays, s)
with st.expander("What to look for", icon=":material/school:"):
    st.markdown(ui.NOTE)
ui.follow(run_id)
