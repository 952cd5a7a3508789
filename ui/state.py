"""Session-state helpers: defaults, and keeping widget values when the user visits another page."""
from __future__ import annotations

import streamlit as st


def keep(defaults: dict) -> None:
    """Give each key its default once, and re-assign it on every run.

    Streamlit drops a widget's value when a run does not draw that widget (another page was open);
    writing the value back as plain state keeps it until the page is drawn again.
    """
    for key, value in defaults.items():
        st.session_state[key] = st.session_state.get(key, value)


def rerun_when_ended(key: str, what: str, alive: bool) -> None:
    """In a polling fragment: remember that `what` was alive; on the first poll that finds it
    ended, rerun the whole page once, so polling stops and the page's buttons are redrawn."""
    if alive:
        st.session_state[key] = what
    elif st.session_state.get(key) == what:
        st.session_state[key] = None
        st.rerun()
