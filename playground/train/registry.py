"""The process-wide registry of runs: starts, stops and caps them; survives page reloads.

Streamlit sessions come and go (reconnects clear session-scoped caches), threads do not: keeping
runs here lets a page find its run again and guarantees every thread has an owner that can stop it.
"""
from __future__ import annotations

import os
import threading

from playground.config import RunConfig
from playground.errors import PlaygroundError
from playground.train.engine import Run
from playground.train.worker import ProcessRun, WorkerPool, start_together


class Registry:
    """processes=True (the app): each run trains in a warm worker process (see worker.py);
    processes=False: in a thread of this process (tests, or where processes cannot start)."""

    def __init__(self, max_active: int = 6, keep: int = 200, processes: bool = True):
        self.max_active = max_active      # runs training at once; 2 cores, 1 thread each (GUIDE)
        self.keep = keep                  # finished runs kept for viewing, oldest dropped first
        self.pool = WorkerPool(max_active) if processes else None
        self._lock = threading.Lock()
        self._runs: dict[str, Run] = {}
        self._groups: dict[str, list[str]] = {}   # comparison id -> its runs' ids, in variant order

    def warm(self, n: int = 2) -> None:
        """Start n worker processes in the background, so the first Starts do not wait for them."""
        if self.pool is not None:
            threading.Thread(target=self.pool.warm, args=(n,), daemon=True, name="warm-workers").start()

    def _new_run(self, config: RunConfig, publish_every: float, owner: str | None) -> Run:
        run = ProcessRun(config, self.pool, publish_every) if self.pool else Run(config, publish_every=publish_every)
        run.owner = owner
        run.prepare()                             # raises PlaygroundError before anything starts
        return run

    def _take_slots(self, n: int, group: bool) -> list:
        """Under self._lock: refuse past max_active; for processes, acquire n workers (all or none)."""
        active = sum(r.alive for r in self._runs.values())
        if active + n > self.max_active and group:
            raise PlaygroundError(f"{n} variants need {n} training slots, but {active} of {self.max_active} "
                                  f"are busy; stop some runs first")
        if active + n > self.max_active:
            raise PlaygroundError(f"{active} runs are already training (the limit is {self.max_active}); "
                                  f"stop one before starting another")
        workers = []
        try:
            for _ in range(n if self.pool else 0):
                workers.append(self.pool.acquire())
        except PlaygroundError:
            for w in workers:
                self.pool.release(w, healthy=True)
            raise
        return workers

    def start(self, config: RunConfig, publish_every: float = 0.1, owner: str | None = None) -> Run:
        """Check the config (raises PlaygroundError before anything starts), then train it."""
        run = self._new_run(config, publish_every, owner)
        with self._lock:                          # slot check, worker and hand-off: one step
            workers = self._take_slots(1, group=False)
            if self.pool:
                run.start(worker=workers[0])
            else:
                run.start()
            self._runs[run.id] = run
            self._trim()
        return run

    def start_group(self, configs: list[RunConfig], publish_every: float = 0.1, owner: str | None = None) -> str:
        """Start every config at once (a comparison), or none: returns the group id."""
        runs = [self._new_run(cfg, publish_every, owner) for cfg in configs]   # check all before starting any
        gid = "cmp-" + runs[0].id
        with self._lock:
            workers = self._take_slots(len(runs), group=True)
            if self.pool is not None:
                start_together(runs, workers)
            else:
                for run in runs:
                    run.start()
            for run in runs:
                self._runs[run.id] = run
            self._groups[gid] = [r.id for r in runs]
            self._trim()
        return gid

    def group(self, gid: str | None) -> list[Run]:
        with self._lock:
            return [self._runs[i] for i in self._groups.get(gid, []) if i in self._runs] if gid else []

    def _trim(self) -> None:
        """Drop the oldest ended runs past `keep`, and comparisons none of whose runs are left."""
        done = [rid for rid, r in self._runs.items() if not r.alive]
        for rid in done[: max(0, len(self._runs) - self.keep)]:
            del self._runs[rid]
        self._groups = {g: ids for g, ids in self._groups.items() if any(i in self._runs for i in ids)}

    def get(self, run_id: str | None) -> Run | None:
        with self._lock:
            return self._runs.get(run_id) if run_id else None

    def runs(self, owner: str | None = None) -> list[Run]:
        """Kept runs, newest first: all of them, or those `owner` started."""
        with self._lock:
            return [r for r in reversed(self._runs.values()) if owner is None or r.owner == owner]

    def stop(self, run_id: str) -> None:
        run = self.get(run_id)
        if run is not None:
            run.stop()

    def stop_all(self, wait: float = 5.0) -> None:
        for run in self.runs():
            run.stop()
        for run in self.runs():
            run.join(wait)


REGISTRY = Registry(max_active=int(os.environ.get("PLAYGROUND_MAX_RUNS", "6")),
                    processes=os.environ.get("PLAYGROUND_PROCESSES", "1") != "0")
