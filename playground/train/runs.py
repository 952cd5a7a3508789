"""What a page may read of a run, whatever holds it: a live RunHandle (executor.py) or a StoredRun
read back from the store (registry.py). Pages and the CLI use only these names."""
from __future__ import annotations

from typing import Protocol

from playground.config import RunConfig
from playground.data import Dataset
from playground.train.history import History
from playground.train.tasks import Task


class RunView(Protocol):
    id: str
    name: str
    owner: str | None            # who started it (a browser's token; the CLI's --owner)
    group: str | None            # the comparison it races in, if any
    config: RunConfig
    data: Dataset
    task: Task
    history: History             # curves, status, message, progress, the latest weights
    where: str                   # the cluster node it trains on, when that is worth saying; else ""

    @property
    def alive(self) -> bool: ...

    def stop(self) -> None: ...

    def join(self, timeout: float | None = None) -> bool: ...

    def weights(self) -> dict | None: ...


FIELDS = ("id", "name", "owner", "group", "config", "data", "task", "history", "where", "alive")
METHODS = ("stop", "join", "weights")
