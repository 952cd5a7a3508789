"""What a user can do to a run after starting it, from any page: stop, resume, train more, rename,
delete. Each is a button callback; a refusal is kept in session state for the page to show."""
from __future__ import annotations

import streamlit as st

from playground.errors import PlaygroundError
from playground.train import REGISTRY
from ui.run_form import first_point
from ui.state import may_act, who

RESUMABLE = ("stopped", "interrupted", "lost")
EXTENDABLE = ("stopped", "interrupted", "lost", "finished")


def _act(fn, *args, **kwargs) -> bool:
    st.session_state.pop("action_error", None)
    try:
        fn(*args, **kwargs)
        return True
    except PlaygroundError as e:
        st.session_state.action_error = str(e)
        return False


def resume(run_id: str, more_key: str | None = None) -> None:
    """Resume to the planned end, or (more_key: the widget holding N) train N more epochs."""
    more = int(st.session_state[more_key]) if more_key else None
    if _act(REGISTRY.resume, run_id, more_epochs=more, who=who()):
        st.session_state.run_id = run_id
        first_point(REGISTRY.get(run_id))


def rename(run_id: str, key: str) -> None:
    _act(REGISTRY.rename, run_id, st.session_state[key], who=who())


def stop(run_id: str) -> None:
    _act(REGISTRY.stop, run_id, who=who())


def delete(run_id: str) -> None:
    if _act(REGISTRY.delete, run_id, who=who()) and st.session_state.get("run_id") == run_id:
        st.session_state.pop("run_id", None)


def show_error() -> None:
    if st.session_state.get("action_error"):
        st.error(st.session_state.action_error)


def resume_controls(run, cols) -> None:
    """'Resume' and 'Train more' for one's own stopped, interrupted or finished run, in two columns."""
    status = run.history.status
    own = may_act(run) and not run.alive
    cols[0].button("Resume", icon=":material/resume:", key=f"resume_{run.id}", on_click=resume, args=(run.id,),
                   disabled=not (own and status in RESUMABLE), width="stretch",
                   help="Continue from the last checkpoint to the planned epochs, with the same numbers as if it "
                        "had never stopped")
    with cols[1].popover("Train more", icon=":material/add_circle:", disabled=not (own and status in EXTENDABLE),
                         width="stretch"):
        st.number_input("More epochs", value=10, step=1, key=f"more_{run.id}",   # no bounds: resume checks them
                        help="at least 1")
        st.button("Train them", key=f"more_go_{run.id}", type="primary", on_click=resume,
                  args=(run.id, f"more_{run.id}"))
        if run.config.schedule.name in ("cosine", "onecycle"):
            st.caption(f"The {run.config.schedule.name} schedule is planned over the whole run: training more "
                       f"re-plans it over the new total, so the learning rate jumps back up.")
