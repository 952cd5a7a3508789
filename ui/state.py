"""Session-state helpers: defaults, and keeping widget values when the user visits another page."""
from __future__ import annotations

import sys
import threading
import time

import streamlit as st

from playground.identity import Who, is_teacher_key, new_token, teacher_key, valid_token


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
    """This browser's token, a secret of 128 random bits: its runs are the ones started with it. Kept
    in the session (Streamlit clears query parameters on every page switch) and written back to the
    address on every run (?me=...), so that a reload, or the address bookmarked, finds the same runs.
    Never shown on a page: other people see the owner's display name. A token in the address that is
    not one (too short to be secret, e.g. ?me=teacher) is replaced by a new one."""
    s = st.session_state
    token = s.get("_me")
    url = st.query_params.get("me")
    if token is None:
        token = s["_me"] = url if valid_token(url) else new_token()
    if url != token:
        st.query_params["me"] = token
    return token


# Tokens signed in as the teacher, for this server's life: a reload of the teacher's address (the
# same ?me= token) stays signed in; the key itself is taken out of the address at once.
_teachers: set[str] = set()
_teachers_lock = threading.Lock()


@st.cache_resource(show_spinner=False)
def announce_teacher_key() -> None:
    """Once per server, in its terminal: the teacher's sign-in link (as Jupyter prints its token)."""
    try:
        key, made = teacher_key()
    except ValueError as e:
        print(f"Training Playground: no teacher sign-in: {e}", file=sys.stderr, flush=True)
        return
    host = st.get_option("browser.serverAddress") or "localhost"
    link = f"http://{host}:{st.get_option('server.port')}/?teacher={key}"
    where = "made for this server's run (set PLAYGROUND_TEACHER_KEY to keep one)" if made else \
        "from PLAYGROUND_TEACHER_KEY"
    print(f"Training Playground: the teacher signs in with this link (the key is {where}; do not show "
          f"it to the class):\n    {link}", file=sys.stderr, flush=True)


def sign_in_from_address() -> None:
    """?teacher=KEY in the address: this browser becomes the teacher if KEY is the server's key. The
    key leaves the address either way (a projected address bar must not show it)."""
    key = st.query_params.get("teacher")
    if key is None:
        return
    del st.query_params["teacher"]
    try:
        right = is_teacher_key(key)
    except ValueError as e:                   # PLAYGROUND_TEACHER_KEY too short: the server says why
        st.session_state["teacher_refused"] = str(e)
        return
    if right:
        with _teachers_lock:
            _teachers.add(me())
        st.session_state.pop("teacher_refused", None)
    else:
        st.session_state["teacher_refused"] = ("That teacher key is not this server's: use the sign-in link the "
                                               "server printed in its terminal when it started.")


def sign_out() -> None:
    with _teachers_lock:
        _teachers.discard(me())


def is_teacher(token: str | None) -> bool:
    """Has this token signed in as the teacher (in this server's life)? The class board draws such a
    browser's runs in a lesson as the teacher's reference, for everyone."""
    with _teachers_lock:
        return token in _teachers


def who() -> Who:
    """This browser as the server's permission checks see it."""
    token = me()
    return Who(token, teacher=token in _teachers)


def may_act(run) -> bool:
    """May this browser stop, resume, rename or delete `run` (its own, or any if it is the teacher)?
    The registry checks the same on every action; this only decides which buttons are enabled."""
    return run is not None and who().may(run.owner)
