"""Session-state helpers: defaults, and keeping widget values when the user visits another page."""
from __future__ import annotations

import re
import threading
import time
import uuid

import streamlit as st

TOKEN = re.compile(r"[A-Za-z0-9_-]{4,32}")


def keep(defaults: dict) -> None:
    """Give each widget key its default once, and keep its value across pages.

    Streamlit drops a widget's value when a run does not draw that widget (another page was open),
    and a polling fragment of the page one just left can drop it too, even after the value was
    written back as plain state (seen in a browser: Build & Train's data set fell back to the
    default after visiting Compare while a run trained). So every value also lives under a shadow
    key that is never a widget's: a value that is there is backed up, a value that was dropped is
    put back from its backup.
    """
    s = st.session_state
    for key, value in defaults.items():
        shadow = f"_kept.{key}"
        if key in s:
            s[shadow] = s[key]
        s[key] = s.get(shadow, value)


# Live panels redraw twice a second; with more browsers watching than that, every one of them less
# often, so that one server's pages keep answering (each redraw holds Python's lock for tens of
# milliseconds: 10 students at 2 Hz kept a page waiting over 1 s on 2 cores, measured by scripts/load.py).
POLL_S = 0.5
WATCHERS_AT_FULL_RATE = 4
_watching: dict[str, float] = {}          # browser session -> when it last polled
_watching_lock = threading.Lock()


def _watch() -> int:
    """Note that this session polls now; how many sessions polled within the last 5 s."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    now = time.monotonic()
    with _watching_lock:
        _watching[ctx.session_id if ctx else "-"] = now
        for sid in [s for s, t in _watching.items() if now - t > 5.0]:
            del _watching[sid]
        return len(_watching)


def poll_every(alive: bool) -> float | None:
    """A polling fragment's run_every: None once nothing it shows is alive, else 0.5 s, longer
    (up to 2 s) while more than WATCHERS_AT_FULL_RATE browsers watch live runs on this server."""
    if not alive:
        return None
    return round(min(2.0, POLL_S * max(1.0, _watch() / WATCHERS_AT_FULL_RATE)), 2)


def rerun_when_ended(key: str, what: str, alive: bool) -> None:
    """In a polling fragment: remember that `what` was alive; on the first poll that finds it
    ended, rerun the whole page once, so polling stops and the page's buttons are redrawn."""
    if alive:
        _watch()
        st.session_state[key] = what
    elif st.session_state.get(key) == what:
        st.session_state[key] = None
        st.rerun()


def me() -> str:
    """This browser's token: its runs are the ones started with it. Kept in the session (Streamlit
    clears query parameters on every page switch) and written back to the address on every run
    (?me=...), so that a reload, or the address bookmarked, finds the same runs; other students'
    runs on the same server stay theirs. A teacher may pick one: ?me=teacher."""
    s = st.session_state
    token = s.get("_me")
    url = st.query_params.get("me")
    if token is None:
        token = s["_me"] = url if url and TOKEN.fullmatch(url) else uuid.uuid4().hex[:8]
    if url != token:
        st.query_params["me"] = token
    return token


def mine(run) -> bool:
    return run is not None and run.owner == me()
