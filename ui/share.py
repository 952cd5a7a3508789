"""Links that hand over a config or a run, never an identity: ?config=ID opens Build & Train with a
config kept in the store under a short id named by its content, ?run=ID shows a run (read-only for
anyone but its owner and the teacher). A student sends "look at mine" to a neighbour with one; the
address's ?me= token (the key to one's runs) is not part of it."""
from __future__ import annotations

import json

import streamlit as st

from playground.config import RunConfig
from playground.errors import PlaygroundError
from playground.train import REGISTRY
from ui.run_form import apply_config
from ui.sidebar import open_run


def open_shared() -> None:
    """Apply ?config=ID or ?run=ID once, then take it out of the address (a reload keeps what the form
    became; the form is this browser's own from then on)."""
    s, q = st.session_state, st.query_params
    if share_id := q.get("config"):
        del q["config"]
        spec = REGISTRY.store.shared(share_id)
        try:
            if spec is None:
                raise PlaygroundError(f"there is no shared config '{share_id}' on this server")
            apply_config(RunConfig.from_dict(spec))
            s.shared_note = ("info", "The shared config is in the form: change it and train your own.")
        except PlaygroundError as e:
            s.shared_note = ("warning", f"The link's config could not be opened: {e}.")
    if run_id := q.get("run"):
        del q["run"]
        if REGISTRY.get(run_id) is None:
            s.shared_note = ("warning", f"There is no run '{run_id}' on this server (deleted, or the link is cut "
                                        f"short).")
        else:
            open_run(run_id)                                      # another's run, in everyone's list


def shared_note() -> None:
    if note := st.session_state.pop("shared_note", None):
        kind, text = note
        (st.warning if kind == "warning" else st.info)(text, icon=":material/link:")


def share_popover(config_json: str | None, run_id: str | None, col) -> None:
    """'Share': links to the form's config and to the run shown, to paste to a neighbour."""
    with col.popover("Share", icon=":material/share:", width="stretch"):
        st.caption("Paste after this server's address (e.g. http://…:8501/). A link carries a config or a run, "
                   "never your identity: whoever opens it trains their own copy.")
        if config_json is not None:
            st.markdown("**This form's config**")
            st.code(f"?config={REGISTRY.store.share(json.loads(config_json))}", language=None)
        if run_id is not None:
            st.markdown("**The run shown** (others can look, not act)")
            st.code(f"?run={run_id}", language=None)
