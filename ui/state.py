"""Session-state helpers: defaults, and keeping widget values when the user visits another page."""
from __future__ import annotations

import uuid

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


def me() -> str:
    """This browser's token, kept in the URL (?me=...) so that a reload finds its runs again while
    other students' runs on the same server stay theirs."""
    token = st.query_params.get("me")
    if not token:
        token = st.query_params["me"] = uuid.uuid4().hex[:8]
    return token


def mine(run) -> bool:
    return run is not None and run.owner == me()
