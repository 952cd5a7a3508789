"""A run's metrics: written by its Trainer (or, for a run trained elsewhere, by the messages it
streams: stream.py), read by pages through consistent snapshots."""
from __future__ import annotations

import threading
import time

MAX_STEP_POINTS = 20_000   # per-step losses kept; older ones are averaged in pairs past this


class History:
    """Bounded, lock-protected metrics of one run.

    steps:   per-step training loss as parallel lists (step number, loss); when it grows past
             MAX_STEP_POINTS, neighbouring pairs are averaged, so memory stays bounded on long runs.
    epochs:  one dict per finished epoch: epoch, train_loss, train_acc, val_loss, val_acc, lr,
             time_s (wall clock since start), samples (seen so far); "partial": True on an epoch a
             Stop cut short.
    progress, status, message, note, boundary (latest decision-boundary grid for 2-D data).

    Weight snapshots and checkpoints pass through add_snapshot / add_checkpoint: the history keeps
    the latest weights, and hands both to its `sink` (the run store's recorder) when it has one.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.version = 0                  # bumped on every write, so pollers can skip redraws
        self.step_x: list[int] = []
        self.step_loss: list[float] = []
        self.step_gen = 0                 # bumped when the step series is compacted (a copy must be rewritten)
        self.epochs: list[dict] = []
        self.marks: list[tuple] = []      # (step, samples, time_s, lr) at every publish: x-axes, lr curve
        self.mark_gen = 0
        self.progress = {"epoch": 0, "epochs": 0, "step": 0, "steps": 0, "samples": 0,
                         "samples_per_s": 0.0, "elapsed_s": 0.0, "eta_s": None}
        self.status = "pending"           # pending, queued, starting, running, finished, stopped, diverged, failed
        self.message = ""
        self.note = ""                    # a remark beside the status, e.g. why snapshots stopped
        self.diverged_at: int | None = None
        self.boundary: dict | None = None
        self.started_at = time.time()
        self.sink = None                  # receives snapshot(...) and checkpoint(...) calls, if set
        self._weights: dict | None = None

    def add_steps(self, first_step: int, losses: list[float]) -> None:
        with self._lock:
            self.step_x.extend(range(first_step, first_step + len(losses)))
            self.step_loss.extend(losses)
            if len(self.step_x) > MAX_STEP_POINTS:
                n = len(self.step_x) // 2 * 2
                self.step_x = self.step_x[1:n:2] + self.step_x[n:]
                self.step_loss = ([(a + b) / 2 for a, b in zip(self.step_loss[0:n:2], self.step_loss[1:n:2])]
                                  + self.step_loss[n:])
                self.step_gen += 1
            self.version += 1

    def update(self, **fields) -> None:
        """Set progress (a dict merged in), status, message, note, diverged_at, boundary."""
        with self._lock:
            if "progress" in fields:
                self.progress = {**self.progress, **fields.pop("progress")}
            for k, v in fields.items():
                setattr(self, k, v)
            self.version += 1

    def add_mark(self, mark: tuple) -> None:
        self.add_marks([mark])

    def add_marks(self, marks: list[tuple]) -> None:
        with self._lock:
            for mark in marks:
                self.marks.append(mark)
                if len(self.marks) > MAX_STEP_POINTS:
                    self.marks = self.marks[::2]
                    self.mark_gen += 1
            self.version += 1

    def add_epoch(self, record: dict) -> None:
        """One epoch's record; a copy is kept and never changed after (snapshots share it)."""
        self.add_epochs([record])

    def add_epochs(self, records: list[dict]) -> None:
        with self._lock:
            self.epochs.extend(dict(r) for r in records)
            self.version += 1

    def add_snapshot(self, epoch: int, step: int, partial: bool, weights: dict) -> None:
        """The model's weights (CPU tensors) at the end of `epoch` (partial: where a Stop cut it short)."""
        with self._lock:
            self._weights = weights
            self.version += 1
        if self.sink is not None:
            self.sink.snapshot(epoch, step, partial, weights)

    def add_stats(self, record: dict) -> None:
        """Layer statistics at a snapshot (playground.train.probe): only the sink keeps them."""
        if self.sink is not None:
            self.sink.stats(record)

    def add_checkpoint(self, ckpt: dict) -> None:
        """Everything a resume needs (see Run.checkpoint)."""
        with self._lock:
            self._weights = ckpt["model"]
        if self.sink is not None:
            self.sink.checkpoint(ckpt)

    def weights(self) -> dict | None:
        with self._lock:
            return self._weights

    def snapshot(self) -> dict:
        """A consistent copy that the caller may keep and modify; the epoch records in it are shared,
        read-only (a live page takes one twice a second: copying thousands of records was most of it)."""
        with self._lock:
            return {
                "version": self.version, "status": self.status, "message": self.message, "note": self.note,
                "diverged_at": self.diverged_at, "progress": dict(self.progress),
                "step_x": list(self.step_x), "step_loss": list(self.step_loss),
                "epochs": list(self.epochs), "boundary": self.boundary, "marks": list(self.marks),
                "started_at": self.started_at,
            }

    # ------------------------------------------------------------------ for the run store
    def cursor(self) -> dict:
        """Where a copy of this history stands: pass it to delta() to get what came since."""
        with self._lock:
            return self._cursor(*self._epoch_totals(self.epochs, 0, None))

    def _acc_key(self) -> str:
        return "val_token_acc" if self.epochs and "val_token_acc" in self.epochs[0] else "val_acc"

    def _epoch_totals(self, records: list[dict], done: int, best: float | None) -> tuple[int, float | None]:
        """(complete epochs, best validation accuracy), carried on from done and best over records."""
        key = self._acc_key()
        for e in records:
            done += not e.get("partial")
            if e.get(key) is not None:
                best = e[key] if best is None else max(best, e[key])
        return done, best

    def _cursor(self, done: int, best: float | None) -> dict:
        return {"step_gen": self.step_gen, "steps": len(self.step_x), "mark_gen": self.mark_gen,
                "marks": len(self.marks), "epochs": len(self.epochs), "version": self.version,
                "epochs_done": done, "best_val_acc": best}

    def delta(self, cursor: dict) -> tuple[dict, dict]:
        """(new cursor, what changed since cursor): new steps/marks/epochs, or a whole series again
        (replace_steps / replace_marks) where it was compacted meanwhile, and the current fields. Its
        cost grows with what is new, not with the run's length (a pass per 0.5 s over every live run)."""
        with self._lock:
            out = {"replace_steps": cursor["step_gen"] != self.step_gen,
                   "replace_marks": cursor["mark_gen"] != self.mark_gen}
            s0 = 0 if out["replace_steps"] else cursor["steps"]
            m0 = 0 if out["replace_marks"] else cursor["marks"]
            out["step_x"], out["step_loss"] = self.step_x[s0:], self.step_loss[s0:]
            out["marks"] = self.marks[m0:]
            out["epochs"] = self.epochs[cursor["epochs"]:]
            done, best = self._epoch_totals(out["epochs"], cursor["epochs_done"], cursor["best_val_acc"])
            last = self.epochs[-1] if self.epochs else {}
            out["fields"] = {"status": self.status, "message": self.message, "note": self.note,
                             "progress": dict(self.progress), "diverged_at": self.diverged_at,
                             "epochs_done": done, "best_val_acc": best,
                             "final_val_acc": last.get(self._acc_key()), "final_val_loss": last.get("val_loss")}
            new = self._cursor(done, best)
        return new, out

    @classmethod
    def restore(cls, metrics: dict, status: str, message: str = "", note: str = "", progress: dict | None = None,
                diverged_at: int | None = None, started_at: float | None = None) -> "History":
        """A history filled from the store (store.metrics()), e.g. to show a stored run or resume it."""
        h = cls()
        h.step_x, h.step_loss = list(metrics["step_x"]), list(metrics["step_loss"])
        h.epochs, h.marks = list(metrics["epochs"]), [tuple(m) for m in metrics["marks"]]
        h.status, h.message, h.note, h.diverged_at = status, message, note, diverged_at
        h.progress.update(progress or {})
        if started_at is not None:
            h.started_at = started_at
        return h
