"""Runs: every stored run, yours or everyone's; overlay their curves, resume, rename, export."""
import streamlit as st

from playground.train import REGISTRY
from ui.run_actions import show_error
from ui.runs import details, differences, overlay, runs_frame, runs_table
from ui.state import me

st.title("Runs")
st.caption("Every run kept on this server. Select runs to overlay their curves; select one to resume, rename, "
           "delete or export it.")
if st.session_state.pop("goto_build", False):
    st.switch_page("views/build_train.py")

everyone = st.session_state.get("all_runs", False)
rows = REGISTRY.listing(None if everyone else me())
if not rows:
    st.info("No runs yet" + ("" if everyone else " from this browser") + ": train one on **Build & Train** or "
            "**Compare**, or from the command line (python -m playground train CONFIG).")
    st.stop()
st.caption(f"{len(rows)} run(s){' on this server' if everyone else ' from this browser'} · the store holds "
           f"{REGISTRY.store.usage() / 1e6:,.1f} MB · *Everyone's runs* in the sidebar "
           f"switches between yours and the whole class's")
picked = runs_table(runs_frame(rows, everyone))
show_error()
if not picked:
    st.info("Select one or more rows (the boxes on the left) to compare their curves.")
    st.stop()
overlay(picked)
if len(picked) == 2:
    differences(*picked)
else:
    st.caption("Select exactly two runs to see what differs between their configs.")
details(picked[0])
