"""Drawing the figure builders' output: Vega-Lite specs (dicts with named datasets) and Plotly."""
from __future__ import annotations

import streamlit as st


def vega(spec: dict, key: str | None = None) -> None:
    """A Vega-Lite spec from playground.viz, full width. Streamlit takes the named datasets out of
    the spec it is given, so it gets a copy."""
    st.vega_lite_chart(spec={**spec, "datasets": dict(spec.get("datasets", {}))}, width="stretch", key=key)


def clamp_input(key: str, hi: int) -> None:
    """Keep a number input's stored value inside 0..hi (the layer or channel changed under it)."""
    if key in st.session_state:
        st.session_state[key] = min(max(int(st.session_state[key]), 0), hi)


def take_cell_click(chart: str, prefix: str, h: int, w: int) -> None:
    """A click on a heatmap (its "cell" selection, kept under the chart's key) sets the number inputs
    <prefix>_row and <prefix>_col, once per click: they stay free to change until the next click."""
    event = st.session_state.get(chart) or {}
    points = (event.get("selection") or {}).get("cell") or []
    if points and isinstance(points[0], dict) and "row" in points[0]:
        clicked = (int(points[0]["row"]), int(points[0]["col"]))
        if clicked != st.session_state.get(f"_{prefix}_clicked"):
            st.session_state[f"_{prefix}_clicked"] = clicked
            st.session_state[f"{prefix}_row"], st.session_state[f"{prefix}_col"] = clicked
    clamp_input(f"{prefix}_row", h - 1)
    clamp_input(f"{prefix}_col", w - 1)
