"""A run's network at an epoch, rebuilt from its stored config and a weight snapshot: what every
inspection view reads (never the model that trains).

    frozen = frozen_model(store, run_id, epoch=7)  # the nearest snapshot at or before epoch 7
"""
from __future__ import annotations

from dataclasses import dataclass

from playground.config import RunConfig
from playground.data import load_dataset
from playground.errors import PlaygroundError
from playground.store import Store, StoreError
from playground.train.checked import checked_rows


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
