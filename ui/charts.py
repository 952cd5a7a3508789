"""Drawing the figure builders' output: Vega-Lite specs (dicts with named datasets) and Plotly."""
from __future__ import annotations

import streamlit as st


def vega(spec: dict, key: str | None = None) -> None:
    """A Vega-Lite spec from playground.viz, full width. Streamlit takes the named datasets out of
    the spec it is given, so it gets a copy."""
    st.vega_lite_chart(spec={**spec, "datasets": dict(spec.get("datasets", {}))}, width="stretch", key=key)
