"""The run store: runs, their metrics and weight snapshots, kept across restarts.

    store = default_store()                        # PLAYGROUND_HOME, default runs/ beside the app
    store.list(owner)                              # RunRow per run, newest first
    store.load_weights(run_id, epoch=7)            # a snapshot's weights (playground.train.frozen rebuilds the model)

The store keeps what runs produced; it knows nothing of models or training (nothing here imports
playground.train).
"""
from __future__ import annotations

import threading

from playground.config import store_home
from playground.store.db import ENDED, LIVE, RunRow, Snapshot, Store, network_text
from playground.store.files import StoreError

_default: Store | None = None
_lock = threading.Lock()


def default_store() -> Store:
    """The process's store at PLAYGROUND_HOME (default runs/ beside app.py), opened on first use."""
    global _default
    with _lock:
        home = store_home().resolve()
        if _default is None or _default.home != home:
            _default = Store(home)
        return _default


__all__ = ["ENDED", "LIVE", "RunRow", "Snapshot", "Store", "StoreError", "default_store", "network_text",
           "store_home"]
