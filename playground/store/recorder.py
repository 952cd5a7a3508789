"""The one writer of the training stream in a process: live runs' metrics, snapshots, checkpoints.

Training loops never touch the database or the disk. A run's History hands snapshots and
checkpoints to its sink (a queue here, returns at once); this thread writes them, and every
`interval` seconds writes what each live run's history gained since the last time (new steps,
epoch records, lr marks, status and progress: one transaction for all runs), which is also the
runs' heartbeat. When a run has ended and everything it produced is written, it is let go.

What this costs the server grows with the number of runs, not with their speed: a snapshot wakes
the thread (an inspection view may wait for it) but writes no curves; a run's newest checkpoint is
written at most every `checkpoint_every` seconds (and always when the run ends, or on flush), the
older ones are dropped unwritten (at 100 runs each checkpointing every 2 s, that is 50 files a
second the disk would otherwise take).
"""
from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import weakref

from playground.store.db import ENDED, Store
from playground.store.files import StoreError

log = logging.getLogger(__name__)
CHECKPOINT_EVERY = 10.0      # seconds between a run's checkpoint writes (its newest is kept in memory meanwhile)
_RUNNING: weakref.WeakSet = weakref.WeakSet()      # recorders whose thread has started


def _close_all() -> None:
    """At exit, stop every recorder's thread once it has written what it holds. Registered when this module
    is imported, before any registry registers its own shutdown, so it runs after them (last in, first
    out) and writes the ends of the runs they stopped. A daemon thread still writing while the
    interpreter finalises is ended inside torch's C++ code, which aborts the process ("terminate called
    without an active exception", exit code 134)."""
    for recorder in list(_RUNNING):
        recorder.close(timeout=5.0)


atexit.register(_close_all)


class _Sink:
    """A run's History hands it snapshots, layer statistics and checkpoints: queued for the recorder."""

    def __init__(self, recorder: "Recorder", run_id: str, budget: int, reserve: int):
        self.recorder, self.run_id, self.budget, self.reserve = recorder, run_id, budget, reserve

    def snapshot(self, epoch, step, partial, weights):
        self.recorder.hand("snapshot", self.run_id, (epoch, step, partial, weights, self.budget, self.reserve))

    def stats(self, record):
        self.recorder.hand("stats", self.run_id, record)

    def checkpoint(self, ckpt):
        self.recorder.hand("checkpoint", self.run_id, ckpt)


class Recorder:
    def __init__(self, store: Store, interval: float = 0.5, checkpoint_every: float = CHECKPOINT_EVERY):
        self.store = store
        self.interval = interval
        self.checkpoint_every = checkpoint_every
        self._ckpt: dict[str, dict] = {}            # run id -> its newest checkpoint not yet written
        self._ckpt_at: dict[str, float] = {}        # run id -> when its last checkpoint was written
        self._metrics_at = 0.0                      # when the curves were last written
        self._full = False                          # flush(): write everything now
        self._lock = threading.Lock()
        self._tracked: dict[str, list] = {}          # run id -> [run, cursor]
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._wake = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._passes = 0                             # writing passes completed
        self._thread: threading.Thread | None = None
        self._closed = False

    def hand(self, kind: str, run_id: str, payload) -> None:
        """Queue a snapshot, stats record or checkpoint of a run for writing; returns at once."""
        self._jobs.put((kind, run_id, payload))
        self._wake.set()

    def track(self, run, budget: int, reserve: int = 0) -> None:
        """Record `run` (anything with .id, .history and .alive) until it ends, keeping at most
        `budget` snapshots and room for a checkpoint of `reserve` bytes. Its history's current
        content counts as already stored (a resumed run's history comes from the store)."""
        run.history.sink = _Sink(self, run.id, budget, reserve)
        with self._lock:
            self._tracked[run.id] = [run, run.history.cursor()]
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="store-recorder", daemon=True)
                self._thread.start()
                _RUNNING.add(self)
        self._wake.set()

    def tracking(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._tracked

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything handed over before this call is written, checkpoints included (tests;
        the CLI before it exits): one whole writing pass that started after the call."""
        end = time.monotonic() + timeout
        with self._lock:
            if self._thread is None or self._closed:     # closed: its last flush wrote everything
                return True
            target = self._passes + 2
            while self._passes < target:
                self._full = True
                self._wake.set()
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.05))
        return True

    def close(self, timeout: float = 10.0) -> bool:
        """Write everything handed over so far (at most `timeout` seconds), then stop the thread and
        wait for it (within the same time). True if it was all written."""
        end = time.monotonic() + timeout
        done = self.flush(timeout)
        self._closed = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(max(0.0, end - time.monotonic()))
        return done

    # ------------------------------------------------------------------ the writer thread
    def _loop(self) -> None:
        while not self._closed:
            self._wake.wait(max(0.0, self._metrics_at + self.interval - time.monotonic()))
            self._wake.clear()
            now = time.monotonic()
            with self._lock:
                tracked = list(self._tracked.items())
                forced, self._full = self._full, False
                full = forced or now - self._metrics_at >= self.interval
            # decided before the jobs are written: everything an ended run produced is queued by now
            ended = {rid for rid, (run, _) in tracked if not run.alive and run.history.status in ENDED}
            try:
                self._ckpt.update(self._write_snapshots())
                due = {rid: c for rid, c in self._ckpt.items() if forced or rid in ended or
                       now - self._ckpt_at.get(rid, -1e9) >= self.checkpoint_every} if full else {}
                if full:
                    self._metrics_at = now
                    self._write_metrics(tracked, ended)
                # after the metrics: a checkpoint on disk never runs ahead of the curves stored,
                # whenever the process dies (a resume truncates the curves to its checkpoint)
                self._write_checkpoints(due)
            except Exception:                      # the recorder must outlive any one bad write
                log.exception("run store recorder")
            with self._lock:
                if full:
                    for rid in ended:
                        self._tracked.pop(rid, None)
                        self._ckpt.pop(rid, None)
                        self._ckpt_at.pop(rid, None)
                    self._passes += 1
                self._idle.notify_all()

    def _write_snapshots(self) -> dict[str, dict]:
        """Write the queued snapshots; return the newest queued checkpoint of each run."""
        latest_ckpt: dict[str, dict] = {}
        while True:
            try:
                kind, rid, payload = self._jobs.get_nowait()
            except queue.Empty:
                break
            if kind == "checkpoint":
                latest_ckpt[rid] = payload                        # only the newest one matters
                continue
            if kind == "stats":
                self.store.write_stats(rid, payload)
                continue
            epoch, step, partial, weights, budget, reserve = payload
            try:
                note = self.store.write_snapshot(rid, epoch, step, partial, weights, budget, reserve)
            except StoreError as e:
                note = str(e)
            if note:
                self._note(rid, note)
        return latest_ckpt

    def _write_checkpoints(self, due: dict[str, dict]) -> None:
        for rid, ckpt in due.items():
            self._ckpt.pop(rid, None)
            self._ckpt_at[rid] = time.monotonic()
            try:
                self.store.write_checkpoint(rid, ckpt)
            except (OSError, StoreError) as e:
                self._note(rid, f"the checkpoint at step {ckpt['position']['step']} could not be written ({e}); "
                                f"resume will start from the previous one")

    def _note(self, rid: str, note: str) -> None:
        with self._lock:
            entry = self._tracked.get(rid)
        if entry is not None and entry[0].history.note != note:
            entry[0].history.update(note=note)

    def _write_metrics(self, tracked: list, ended: set) -> None:
        """What every tracked run's history gained since the last pass, in one transaction."""
        writes, cursors = {}, {}
        for rid, (run, cursor) in tracked:
            cursors[rid], writes[rid] = run.history.delta(cursor)
            if rid in ended:
                writes[rid]["fields"]["ended_at"] = time.time()
        self.store.append_metrics(writes)
        for rid, entry in tracked:                 # only once written: a failed pass is tried again whole
            entry[1] = cursors[rid]
