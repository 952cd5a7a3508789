"""The network editor: one row per layer (type, arguments, output shape, parameters, move, remove)."""
from __future__ import annotations

import streamlit as st

from playground.errors import PlaygroundError
from playground.models import LAYERS, layer_args_text, parse_layer_args
from playground.models.build import shape_text


def set_layers(specs: list[dict], kind: str) -> None:
    """Replace the edited network with specs (from a preset or a config file) made for data of kind."""
    st.session_state["layers"] = [{"id": _new_id(), "type": s["type"], "args": layer_args_text(s)} for s in specs]
    st.session_state["net_kind"] = kind
    st.session_state["net_edited"] = False


def _edited() -> None:
    st.session_state["net_edited"] = True


def _new_id() -> int:
    st.session_state["_layer_seq"] = st.session_state.get("_layer_seq", 0) + 1
    return st.session_state["_layer_seq"]


def _move(i: int, delta: int) -> None:
    layers = st.session_state["layers"]
    j = i + delta
    if 0 <= j < len(layers):
        layers[i], layers[j] = layers[j], layers[i]
        _edited()


def _remove(i: int) -> None:
    del st.session_state["layers"][i]
    _edited()


def _type_changed(layer: dict) -> None:
    kind = st.session_state[f"ltype_{layer['id']}"]
    if kind == layer["type"]:         # Streamlit may report a change that is none (seen under load, when a
        return                        # click interrupted the first draw): the arguments must not be reset
    layer["type"] = kind
    layer["args"] = layer_args_text({"type": layer["type"]})
    st.session_state[f"largs_{layer['id']}"] = layer["args"]
    _edited()


def _args_changed(layer: dict) -> None:
    layer["args"] = st.session_state[f"largs_{layer['id']}"]
    _edited()


def _add() -> None:
    kind = st.session_state["new_layer_type"]
    st.session_state["layers"].append({"id": _new_id(), "type": kind, "args": layer_args_text({"type": kind})})
    _edited()


def parsed_specs() -> tuple[list[dict], dict[int, str]]:
    """(specs, errors by row index) from the edited rows."""
    specs, errors = [], {}
    for i, layer in enumerate(st.session_state["layers"]):
        try:
            specs.append(parse_layer_args(layer["type"], layer["args"], i + 1))
        except PlaygroundError as e:
            errors[i] = str(e)
    return specs, errors


# Each layer takes two lines: its type, output shape and parameter count, then its arguments and the
# move/remove buttons. On one line the type box got a seventh of the Network column, which cut the
# longer names ("MaxPo", "Flatte"; PositionalEncoding needs ~190 px) and wrapped the "params" header.
LINE_1 = [0.3, 3.0, 1.3, 1.1]         # #, type, output, params
LINE_2 = [0.3, 3.0, 2.4]              # (under #), arguments, buttons


def layer_editor(rows_by_index: dict, bad_row: int | None) -> None:
    """Draw the rows. rows_by_index: LayerRow by 0-based index (shape/params), as far as they go."""
    layers = st.session_state["layers"]
    head = st.columns(LINE_1, gap="xsmall", vertical_alignment="bottom")
    for col, text in zip(head, ["\\#", "layer, and its arguments under it", "output", "params"]):   # "#": a heading
        col.caption(text)
    for i, layer in enumerate(layers):
        lid = layer["id"]
        st.session_state.setdefault(f"ltype_{lid}", layer["type"])
        st.session_state.setdefault(f"largs_{lid}", layer["args"])
        with st.container(gap="xsmall"):
            c = st.columns(LINE_1, gap="xsmall", vertical_alignment="center")
            d = st.columns(LINE_2, gap="xsmall", vertical_alignment="center")
        c[0].markdown(f"**{i + 1}**")
        # the layer's own values are also the widgets' defaults: a browser that draws a row from a later
        # run than the one that seeded its state (a loaded server) shows and sends these, never "" or
        # the first type (a refused Start with the last Linear fallen back to 16 outputs, under load.py)
        c[1].selectbox("type", list(LAYERS), index=list(LAYERS).index(layer["type"]), key=f"ltype_{lid}",
                       label_visibility="collapsed", on_change=_type_changed, args=(layer,))
        d[1].text_input("arguments", value=layer["args"], key=f"largs_{lid}", label_visibility="collapsed",
                        on_change=_args_changed, args=(layer,), disabled=not LAYERS[layer["type"]],
                        placeholder="no arguments", help="PyTorch's argument names; in_features/in_channels "
                        "are inferred when left out")
        row = rows_by_index.get(i)
        if row is not None:
            c[2].markdown(f"`{shape_text(row.out_shape, units=False)}`")
            c[3].markdown(f"{row.params:,}")
        elif i == bad_row:
            c[2].markdown(":red[**✗ refused**]")
        buttons = d[2].container(horizontal=True, gap="xsmall")
        # the labels are their names for a screen reader; the page shows only the icons (ui/sidebar.A11Y_CSS)
        buttons.button(f"Move layer {i + 1} up", icon=":material/arrow_upward:", key=f"up_{lid}", on_click=_move,
                       args=(i, -1), disabled=i == 0, help="move up")
        buttons.button(f"Move layer {i + 1} down", icon=":material/arrow_downward:", key=f"down_{lid}",
                       on_click=_move, args=(i, 1), disabled=i == len(layers) - 1, help="move down")
        buttons.button(f"Remove layer {i + 1}", icon=":material/close:", key=f"del_{lid}", on_click=_remove,
                       args=(i,), help="remove this layer")
    a, b = st.columns([2, 1], vertical_alignment="bottom")
    a.selectbox("New layer", list(LAYERS), key="new_layer_type")
    b.button("Add layer", icon=":material/add:", on_click=_add, width="stretch")
