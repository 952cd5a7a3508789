"""The LR finder popover: run the range test on the form's run, show it, take the suggestion."""
from __future__ import annotations

import streamlit as st

from playground.viz.curves import lr_finder_chart
from ui.charts import vega
from ui.run_form import forget_stale_lr_finder, run_lr_finder, use_suggestion


def lr_finder_popover() -> None:
    forget_stale_lr_finder()
    with st.popover("LR finder", icon=":material/search:", width="stretch"):
        st.caption("Trains a copy of this run for 100 steps while the learning rate rises from 1e-6 to 10, "
                   "and records the loss at each rate (Smith's range test).")
        st.button("Run the range test", on_click=run_lr_finder, icon=":material/play_arrow:")
        if st.session_state.get("lrf_error"):
            st.error(st.session_state.lrf_error)
        result = st.session_state.get("lrf")
        if result is None:
            return
        vega(lr_finder_chart(result["lr"], result["loss"], result["smoothed"], result["suggestion"]))
        if result["suggestion"] is None:
            st.warning("The loss never fell clearly: no suggestion. Try another optimizer or network.")
            return
        st.markdown(f"Suggested learning rate **{result['suggestion']:.2g}** (red line): where the loss falls "
                    f"fastest, at most a tenth of the rate at its minimum. A starting point, not a guarantee.")
        st.button(f"Use lr = {result['suggestion']:.2g}", on_click=use_suggestion, type="primary")
