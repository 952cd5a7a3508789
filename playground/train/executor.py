"""Where runs train, behind one interface, and the handle pages hold.

Three things that used to live in one class are apart here:
- what a run does: the training loop, `trainer.Trainer` (its `train_job()` is what every executor runs);
- where it executes: an `Executor` (a thread of this process, a warm local worker process, or an
  actor on a Ray cluster, see worker.py and cluster.py);
- what pages hold: a `RunHandle`, with the run's config, data and task (for the views), its History
  (curves, status, the latest weights) and stop / join / alive, whoever trains it.

Every executor streams the run's history into the handle's History (in place, or as messages, see
stream.py), so the registry, the run store's recorder, the pages and the CLI never know which one
trains. Snapshots and checkpoints arrive the same way and reach the store through the history's sink.
"""
from __future__ import annotations

import threading
import time
import uuid

import torch

from playground.config import RunConfig
from playground.store import policy
from playground.train.checked import CheckedRun, check, check_device, default_name
from playground.train.history import History
from playground.train.trainer import Trainer, result_of


class Job:
    """An executor's record of one run it was handed: `target` is what trains it (an engine Run,
    a worker process, an actor); `done` is set once everything the run sent has been applied."""

    place = ""                           # where it trains, when that is worth saying (a cluster node)

    def __init__(self, target=None):
        self.target = target
        self.done = threading.Event()
        self.ready = threading.Event()       # prepared and waiting for go() (a race starting together)


class RunHandle:
    """A run as pages see it, wherever it trains: the RunView surface (runs.py), as a stored run has."""

    def __init__(self, config: RunConfig, executor: "Executor", run_id: str | None = None,
                 publish_every: float = 0.1, history: History | None = None):
        self.config = config
        self.executor = executor
        self.id = run_id or uuid.uuid4().hex[:8]
        self.name = config.name or default_name(config)
        self.history = history or History()
        self.owner: str | None = None          # who started it (a browser's token), for pickers and Stop
        self.group: str | None = None          # the comparison it races in, if any
        self.lesson: str | None = None         # the lesson it was started in, if any
        self.publish_every = publish_every
        self.snapshot_budget = policy.BUDGET
        self.checkpoint_bytes = 0
        self.checked: CheckedRun | None = None    # the config checked against its data (prepare())
        self.device = None
        self.checkpoint: dict | None = None    # to resume from, until the executor has handed it over
        self.job: Job | None = None
        self.interrupting = False              # the server is shutting down: a stop now is an interruption
        self.waiting = False                   # in the registry's line for a training slot, not handed off yet
        self.cancel = None                     # while waiting: takes it out of the line (stop() calls it)

    def prepare(self, checkpoint: dict | None = None) -> None:
        """Check the config and load the data here, once, so errors reach the page at once (raises
        PlaygroundError); the executor builds what it needs to train (see Executor.prepare)."""
        self.checked = check(self.config)
        self.device = self.executor.device_for(self.config)
        self.checkpoint = checkpoint
        self.executor.prepare(self)

    @property
    def data(self):
        return self.checked.data if self.checked is not None else None

    @property
    def task(self):
        return self.checked.task if self.checked is not None else None

    @property
    def rows(self):
        return self.checked.rows if self.checked is not None else None

    @property
    def where(self) -> str:
        """Where it trains, when that is worth saying ("node 3f2a91c0 (10.0.0.5)"), else ""."""
        return self.job.place if self.job is not None else ""

    @property
    def training(self) -> bool:
        """Handed to its executor and not ended: it holds a training slot."""
        return self.job is not None and not self.job.done.is_set()

    @property
    def alive(self) -> bool:
        """Training, or waiting in line to train."""
        return self.waiting or self.training

    def stop(self) -> None:
        """Ask the run to stop after its current step (or, waiting in line, leave it); returns at once."""
        cancel = self.cancel
        if self.waiting and cancel is not None and cancel(self):
            return
        if self.training:                      # (handed off just now, if it was waiting a moment ago)
            self.executor.stop(self)

    def join(self, timeout: float | None = None) -> bool:
        end = None if timeout is None else time.monotonic() + timeout
        while self.waiting:                    # in line: until it is handed off (or leaves the line)
            if end is not None and time.monotonic() >= end:
                return False
            time.sleep(0.02)
        if self.job is None:
            return True
        return self.job.done.wait(None if end is None else max(0.0, end - time.monotonic()))

    def settle(self, lost: bool = False) -> bool:
        """Executors call this as the run ends, before its job is done. A run the server's shutdown
        stopped (interrupting) was interrupted, not stopped by its user: its status says so, and that
        it resumes from where it stopped (it took a checkpoint there). lost: it ended without
        reporting (its process was killed when it did not stop in time). True if the status was set."""
        h = self.history
        if not self.interrupting or (not lost and h.status != "stopped"):
            return False
        if lost:
            h.update(status="interrupted", message="interrupted: the server was shut down and the run did not stop "
                                                   "in time; it can resume from its last checkpoint, if it took one")
            return True
        last = h.epochs[-1] if h.epochs else None
        where = "" if last is None else (f" in epoch {last['epoch']} (step {last['step']})" if last.get("partial")
                                          else f" after epoch {last['epoch']} (step {last['step']})")
        h.update(status="interrupted", message=f"interrupted{where}: the server was shut down; it can resume from "
                                               f"there (it took a checkpoint as it stopped)")
        return True

    def weights(self) -> dict | None:
        return self.history.weights()

    def result(self) -> dict:
        return result_of(self.history.snapshot(), self.task)


class Executor:
    """Where runs train. A run is first prepared (prepare: build what training needs, raise on a
    bad config), then the registry reserves room for it (reserve: all or none, raises when there is
    none), records it, and launches it (launch). The executor then keeps the handle's history
    current and sets its job's `done` once the run has ended and everything it sent is applied."""

    kind = "thread"
    limit: int | None = None                   # runs training at once; None: no limit here (a cluster queues)
    survives_server = False                    # its runs train on when this server exits (a cluster's do)

    def device_for(self, config: RunConfig) -> torch.device:
        return check_device(config)

    def devices(self) -> list[str]:
        """The devices a run may ask for (besides auto), for the sidebar."""
        from playground.device import available_devices

        return available_devices()

    def prepare(self, handle: RunHandle) -> None:
        pass

    def reserve(self, n: int) -> list:
        return [None] * n

    def release(self, slots: list) -> None:
        pass

    def launch(self, handles: list[RunHandle], slots: list, together: bool = False) -> None:
        raise NotImplementedError

    def stop(self, handle: RunHandle) -> None:
        raise NotImplementedError

    def warm(self, n: int = 1, together: bool = False) -> None:
        pass

    def shutdown(self, handles: list[RunHandle], grace: float) -> None:
        """The server is exiting: stop every run at once (each takes a checkpoint where it stops), and
        wait for all of them together, at most `grace` seconds in all."""
        for h in handles:
            h.stop()
        end = time.monotonic() + grace
        for h in handles:
            h.join(max(0.0, end - time.monotonic()))

    def reattach(self) -> list[tuple[str, object]]:
        """Runs that still train, started by an earlier server: [(run id, what trains it)]."""
        return []

    def adopt(self, handle: RunHandle, target) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class ThreadExecutor(Executor):
    """Each run trains in a daemon thread of this process (tests, the CLI's single run). The network
    is built when the run is prepared, so that its errors raise at Start."""

    kind = "thread"

    def __init__(self, limit: int | None = None):
        self.limit = limit
        self._trainers: dict[str, Trainer] = {}      # run id -> its Trainer, from prepare() until it ends

    def prepare(self, handle: RunHandle) -> None:
        trainer = Trainer(handle.checked, handle.id, history=handle.history, publish_every=handle.publish_every)
        trainer.build(handle.checkpoint)
        handle.checkpoint = None
        handle.device = trainer.device
        self._trainers[handle.id] = trainer

    def trainer(self, handle: RunHandle) -> Trainer | None:
        """The Trainer of a run prepared here and not yet ended (the bench reads its probe's time)."""
        return self._trainers.get(handle.id)

    def launch(self, handles, slots, together=False):
        for h in handles:
            trainer = self._trainers[h.id]
            trainer.snapshot_budget = h.snapshot_budget
            h.job = job = Job(trainer)

            def train(trainer=trainer, job=job, h=h):
                try:
                    trainer.train_job()
                finally:
                    h.settle()
                    job.done.set()
                    self._trainers.pop(h.id, None)
            threading.Thread(target=train, name=f"run-{h.id}", daemon=True).start()

    def stop(self, handle):
        handle.job.target.stop()
