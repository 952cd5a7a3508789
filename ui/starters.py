"""Starter buttons an inspection page offers: each trains one of examples/ and shows it on the page
while it trains, so a class can go from nothing to the view in one click."""
from __future__ import annotations

import streamlit as st

from playground.config import load_config
from playground.errors import PlaygroundError
from playground.train import REGISTRY
from ui.lessons import EXAMPLES_DIR
from ui.state import who


def start(file: str, key: str) -> None:
    """Button callback: train the example config and show it (the sidebar's run)."""
    st.session_state.pop(f"{key}_error", None)
    try:
        run = REGISTRY.start(load_config(EXAMPLES_DIR / file), owner=who())
    except PlaygroundError as e:
        st.session_state[f"{key}_error"] = f"{file}: {e}"
        return
    st.session_state.run_id = run.id


def starters(title: str, caption: str, examples: dict[str, str], key: str, open_: bool) -> None:
    """An expander with one button per example (button title -> file in examples/)."""
    with st.expander(title, icon=":material/school:", expanded=open_):
        st.caption(caption)
        cols = st.columns(len(examples))
        for col, (name, file) in zip(cols, examples.items()):
            col.button(name, key=f"{key}_start_{file}", on_click=start, args=(file, key), width="stretch")
    if st.session_state.get(f"{key}_error"):
        st.error(st.session_state[f"{key}_error"])
