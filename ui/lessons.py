"""Lesson pairs: two example configs that differ in one thing, trained together by one button and
shown side by side (the first as the run shown, the second as the page's "Compare with")."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from playground.config import load_config
from playground.errors import PlaygroundError
from playground.train import REGISTRY
from ui.state import who

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"


def start_pair(title: str, files: tuple[str, str], compare_key: str, error_key: str) -> None:
    """Button callback: train the two configs at once; show the first, compare with the second. A
    config that cannot start puts its reason under error_key for the page to show."""
    st.session_state.pop(error_key, None)
    try:
        configs = [load_config(EXAMPLES_DIR / f) for f in files]
        gid = REGISTRY.start_group(configs, owner=who())
    except PlaygroundError as e:
        st.session_state[error_key] = f"{title}: {e}"
        return
    first, second = REGISTRY.group(gid)
    st.session_state.run_id = first.id
    st.session_state[compare_key] = st.session_state[f"_kept.{compare_key}"] = second.id   # see ui.state.keep


def lesson_buttons(lessons: dict, compare_key: str, error_key: str, caption: str, key: str) -> None:
    """An expander with one button per lesson pair (folded once a pair is being compared)."""
    with st.expander("Lessons: train a pair and compare", icon=":material/school:",
                     expanded=not st.session_state.get(compare_key)):
        st.caption(caption)
        cols = st.columns(len(lessons))
        for col, (title, files) in zip(cols, lessons.items()):
            col.button(title, key=f"{key}_{title}", on_click=start_pair, args=(title, files, compare_key, error_key),
                       width="stretch")
    if st.session_state.get(error_key):
        st.error(st.session_state[error_key])
