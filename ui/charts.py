"""Drawing the figure builders' output: Vega-Lite specs (dicts with named datasets) and Plotly."""
from __future__ import annotations

import streamlit as st


def vega(spec: dict, key: str | None = None, words: str = "") -> None:
    """A Vega-Lite spec from playground.viz, full width, with its text alternative: the spec's own
    description or one made from its axis titles (a live chart's description does not change, so
    Vega redraws it in place). words: the chart in words with its numbers, printed under it for a
    screen reader and for the back of a room. Streamlit takes the named datasets out of the spec it
    is given, so it gets a copy."""
    about = spec.get("description") or described(spec)
    st.vega_lite_chart(spec={**without_empty_layers(spec), "datasets": dict(spec.get("datasets", {})),
                             "description": about}, width="stretch", key=key)
    if words:
        st.caption(words)


def without_empty_layers(spec: dict) -> dict:
    """spec without the layers whose named dataset is empty (a rule not drawn yet): they draw nothing,
    and Vega would leave an unlabelled graphic for a screen reader."""
    if "layer" not in spec:
        return spec
    data = spec.get("datasets", {})

    def empty(layer: dict) -> bool:
        name = layer.get("data", {}).get("name")
        return name in data and len(data[name]) == 0 and "params" not in layer

    kept = [layer for layer in spec["layer"] if not empty(layer)]
    return {**spec, "layer": kept or spec["layer"][:1]}


def described(spec: dict) -> str:
    """'chart: y title against x title', from the first encoding that names its axes."""
    for part in [spec, *spec.get("layer", []), *spec.get("hconcat", []), *spec.get("vconcat", [])]:
        enc = part.get("encoding", {})
        x, y = (enc.get(k, {}).get("title") or enc.get(k, {}).get("field") for k in ("x", "y"))
        if x and y:
            return f"chart: {y} against {x}"
    return "chart"


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
