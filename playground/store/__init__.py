"""The run store: runs, their metrics and weight snapshots, kept across restarts.

    store = default_store()                        # PLAYGROUND_HOME, default runs/ beside the app
    store.list(owner)                              # RunRow per run, newest first
    frozen = frozen_model(store, run_id, epoch=7)  # a model rebuilt from the snapshot, for inspectors
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from playground.store.db import ENDED, LIVE, RunRow, Snapshot, Store, network_text
from playground.store.files import StoreError

ROOT = Path(__file__).resolve().parents[2]
_default: Store | None = None
_lock = threading.Lock()


def store_home() -> Path:
    return Path(os.environ.get("PLAYGROUND_HOME") or ROOT / "runs")


def default_store() -> Store:
    """The process's store at PLAYGROUND_HOME (default runs/ beside app.py), opened on first use."""
    global _default
    with _lock:
        home = store_home().resolve()
        if _default is None or _default.home != home:
            _default = Store(home)
        return _default


@dataclass
class Frozen:
    """A model rebuilt from a snapshot: never the model that trains. In eval mode, on `device`."""
    model: object                # torch.nn.Module
    config: object               # RunConfig
    data: object                 # Dataset
    epoch: int                   # the snapshot's epoch (0 = the initial weights)
    step: int
    partial: bool                # taken where a Stop cut the epoch short
    task: object = None          # the run's Task (playground.train.tasks): what its outputs mean


def frozen_model(store: Store, run_id: str, epoch: int | None = None, device: str = "cpu") -> Frozen:
    """The run's model at `epoch` (the nearest earlier snapshot if that epoch has none; None = the
    latest), rebuilt from its config and the snapshot's weights. Raises StoreError."""
    from playground.config import RunConfig
    from playground.data import load_dataset
    from playground.errors import PlaygroundError
    from playground.train.engine import checked_rows

    row = store.get(run_id)
    if row is None:
        raise StoreError(f"no stored run '{run_id}'")
    config = RunConfig.from_dict(row.config)
    weights, snap = store.load_weights(run_id, epoch)
    data = load_dataset(config.data, config.seed)
    try:
        task, model, _ = checked_rows(config, data, device=None)
    except PlaygroundError as e:
        raise StoreError(f"run {run_id}'s network cannot be rebuilt by this version of the playground ({e})") from None
    try:
        model.load_state_dict(weights)
    except RuntimeError as e:
        raise StoreError(f"the snapshot of run {run_id} at epoch {snap.epoch} does not fit the run's network "
                         f"({str(e).splitlines()[0]}); the file belongs to another network") from None
    model.to(device).eval()
    return Frozen(model, config, data, snap.epoch, snap.step, snap.partial, task)


__all__ = ["ENDED", "LIVE", "Frozen", "RunRow", "Snapshot", "Store", "StoreError", "default_store", "frozen_model",
           "network_text", "store_home"]
