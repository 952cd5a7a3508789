"""The epoch scrubber every inspection view shares: pick a snapshot of the run shown."""
from __future__ import annotations

import streamlit as st

from playground.errors import PlaygroundError
from playground.store import Frozen, Snapshot, StoreError, frozen_model
from playground.train import REGISTRY


def snapshot_label(s: Snapshot) -> str:
    return f"epoch {s.epoch}" + (" (initial weights)" if s.epoch == 0 else "") + (" (cut short)" if s.partial else "")


def epoch_scrubber(run_id: str, key: str = "scrub") -> Snapshot | None:
    """A slider over the run's weight snapshots (None when it has none yet). It stays where the user
    put it, and follows the newest snapshot while it was on the newest (a run still training)."""
    snaps = REGISTRY.store.snapshots(run_id)
    if not snaps:
        return None
    by_epoch = {s.epoch: s for s in snaps}                  # a cut-short final epoch replaces its full one
    epochs = sorted(by_epoch)
    k, newest = f"{key}_{run_id}", f"_{key}_newest_{run_id}"
    s = st.session_state
    if s.get(k) not in by_epoch or s.get(k) == s.get(newest):
        s[k] = epochs[-1]
    s[newest] = epochs[-1]
    if len(epochs) == 1:
        st.caption(f"Weights of {snapshot_label(by_epoch[epochs[0]])}: the only snapshot so far")
        return by_epoch[epochs[0]]
    epoch = st.select_slider("Epoch", epochs, key=k, format_func=lambda e: snapshot_label(by_epoch[e]),
                             help="The run's weight snapshots: every epoch of a short run; for a long one, "
                                  "dense early and thinner later. The view is computed from the snapshot, "
                                  "never from the model that trains")
    return by_epoch[epoch]


@st.cache_resource(max_entries=8, show_spinner=False)
def snapshot_model(run_id: str, epoch: int, step: int) -> Frozen:
    """The run's model rebuilt from its snapshot at epoch, read once and shared by every view of that
    snapshot, in every session (eval mode, never trained; step tells a resumed run's newer snapshot
    of the same epoch apart)."""
    return frozen_model(REGISTRY.store, run_id, epoch)


def from_snapshot(fn, *args):
    """fn(*args) (a cached view of a snapshot); a snapshot that cannot be shown (a damaged file,
    weights gone NaN) stops the page with the reason instead of a traceback."""
    try:
        return fn(*args)
    except PlaygroundError as e:
        hint = " The other snapshots of this run still load: pick another epoch." if isinstance(e, StoreError) else ""
        st.error(f"{e}.{hint}" if not str(e).endswith(".") else f"{e}{hint}", icon=":material/error:")
        st.stop()
