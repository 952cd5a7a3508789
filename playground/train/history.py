"""A run's metrics: written by the training thread, read by pages through consistent snapshots."""
from __future__ import annotations

import copy
import threading
import time

MAX_STEP_POINTS = 20_000   # per-step losses kept; older ones are averaged in pairs past this


class History:
    """Bounded, lock-protected metrics of one run.

    steps:   per-step training loss as parallel lists (step number, loss); when it grows past
             MAX_STEP_POINTS, neighbouring pairs are averaged, so memory stays bounded on long runs.
    epochs:  one dict per finished epoch: epoch, train_loss, train_acc, val_loss, val_acc, lr,
             time_s (wall clock since start), samples (seen so far).
    progress, status, message, boundary (latest decision-boundary grid for 2-D data).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.version = 0                  # bumped on every write, so pollers can skip redraws
        self.step_x: list[int] = []
        self.step_loss: list[float] = []
        self.epochs: list[dict] = []
        self.marks: list[tuple] = []      # (step, samples, time_s, lr) at every publish: x-axes, lr curve
        self.progress = {"epoch": 0, "epochs": 0, "step": 0, "steps": 0, "samples": 0,
                         "samples_per_s": 0.0, "elapsed_s": 0.0, "eta_s": None}
        self.status = "pending"           # pending, starting, running, finished, stopped, diverged, failed
        self.message = ""
        self.diverged_at: int | None = None
        self.boundary: dict | None = None
        self.started_at = time.time()

    def add_steps(self, first_step: int, losses: list[float]) -> None:
        with self._lock:
            self.step_x.extend(range(first_step, first_step + len(losses)))
            self.step_loss.extend(losses)
            if len(self.step_x) > MAX_STEP_POINTS:
                n = len(self.step_x) // 2 * 2
                self.step_x = self.step_x[1:n:2] + self.step_x[n:]
                self.step_loss = ([(a + b) / 2 for a, b in zip(self.step_loss[0:n:2], self.step_loss[1:n:2])]
                                  + self.step_loss[n:])
            self.version += 1

    def update(self, **fields) -> None:
        """Set progress (a dict merged in), status, message, diverged_at, boundary."""
        with self._lock:
            if "progress" in fields:
                self.progress = {**self.progress, **fields.pop("progress")}
            for k, v in fields.items():
                setattr(self, k, v)
            self.version += 1

    def add_mark(self, mark: tuple) -> None:
        with self._lock:
            self.marks.append(mark)
            if len(self.marks) > MAX_STEP_POINTS:
                self.marks = self.marks[::2]
            self.version += 1

    def add_epoch(self, record: dict) -> None:
        with self._lock:
            self.epochs.append(record)
            self.version += 1

    def snapshot(self) -> dict:
        """A consistent copy that the caller may keep and modify."""
        with self._lock:
            return {
                "version": self.version, "status": self.status, "message": self.message,
                "diverged_at": self.diverged_at, "progress": dict(self.progress),
                "step_x": list(self.step_x), "step_loss": list(self.step_loss),
                "epochs": copy.deepcopy(self.epochs), "boundary": self.boundary, "marks": list(self.marks),
                "started_at": self.started_at,
            }
