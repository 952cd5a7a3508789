"""The process-wide registry of runs: starts, resumes, stops and caps them; finds stored ones.

Streamlit sessions come and go (reconnects clear session-scoped caches), threads and worker
processes do not: keeping live runs here lets a page find its run again and guarantees every run
has an owner that can stop it. Every run is also written to the run store as it trains (one
Recorder thread per process), so after the run ends, or the server restarts, `get()` still finds it.
"""
from __future__ import annotations

import atexit
import functools
import itertools
import logging
import os
import queue
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass

from playground import quick_exit
from playground.config import RunConfig
from playground.errors import PlaygroundError
from playground.identity import Who, public_name
from playground.lessons import Lesson, shipped_lessons
from playground.models.budget import size_text
from playground.store import ENDED, RunRow, Store, StoreError, default_store, policy
from playground.store.recorder import Recorder
from playground.train.checked import default_name
from playground.train.executor import Executor, RunHandle, ThreadExecutor
from playground.train.frozen import frozen_model
from playground.train.history import History
from playground.train.trainer import decision_grid

log = logging.getLogger(__name__)
LINE_POLL_S = 0.1                      # how often the line looks for a free training slot (a run's end wakes it too)
# Seconds a run may take to stop when the server exits (its last step, a validation pass, a
# checkpoint: well under a second for the models here) before its worker is killed.
SHUTDOWN_GRACE_S = 2.0


class StoredRun:
    """A run read back from the store (ended, or trained by another process): the RunView surface
    (runs.py) that pages use, without a model in memory."""

    alive = False
    where = ""                             # a stored run trains nowhere

    def __init__(self, store: Store, row: RunRow):
        self.store, self.row = store, row
        self.id, self.name, self.owner, self.group = row.id, row.name, row.owner, row.group
        self.config = RunConfig.from_dict(row.config)

    @functools.cached_property
    def data(self):
        from playground.data import load_dataset

        return load_dataset(self.config.data, self.config.seed)

    @functools.cached_property
    def task(self):
        from playground.train.tasks import make_task

        return make_task(self.config, self.data)

    @functools.cached_property
    def history(self) -> History:
        r = self.row
        h = History.restore(self.store.metrics(r.id), r.status, r.message, r.note, r.progress, r.diverged_at,
                            r.created_at)
        if self.config.data.name in _points_sets():
            try:                                   # the decision boundary of the latest snapshot
                f = frozen_model(self.store, r.id)
                h.boundary = decision_grid(f.model, f.data, "cpu", f.task)
            except (PlaygroundError, OSError):
                pass
        return h

    def stop(self) -> None:
        pass

    def join(self, timeout: float | None = None) -> bool:
        return True

    def weights(self):
        try:
            return self.store.load_weights(self.id)[0]
        except StoreError:
            return None


def _as_now(row: RunRow, run) -> RunRow:
    """A stored row with a live run's status and name as of now (the store's may lag behind)."""
    if run is not None:
        row.status, row.name = run.history.status, run.name
    return row


@functools.lru_cache(maxsize=1)
def _points_sets() -> frozenset:
    from playground.data import DATASETS

    return frozenset(n for n, s in DATASETS.items() if s.kind in ("points", "curve"))


@dataclass
class _Waiting:
    """One Start waiting in line for training slots: a run, or a race's variants (they start together)."""
    runs: list
    together: bool
    owner: str | None                    # the browser's token that started it (None: the CLI)
    teacher: bool                        # the teacher's Starts go first
    turn: int                            # the browser's runs training or waiting when it was pressed
    seq: int                             # order of arrival
    since: float


class Registry:
    """Where runs train is the executor's business (see executor.py): processes=True (the app), a
    warm local worker process per run (worker.py); processes=False, a thread of this process (tests,
    the CLI); or `executor` given, e.g. a Ray cluster (cluster.py, chosen by make_executor()).
    store: the run store to record into (default: default_store(), opened on first use).

    waiting_per_owner: past max_active training runs, a Start waits in line (its run shows "queued"
    with its place) and trains as soon as a slot is free; each browser may have this many Starts
    waiting at once (the teacher: any). 0: no line, a Start past the limit is refused (the CLI, tests).
    The line is fair: the teacher's Starts first, then each Start by its turn, the number of runs its
    browser had training or waiting when it was pressed (everyone's first run before anyone's second),
    then by arrival; so one student's many Starts cannot hold the class back, and a place in line
    only moves back when another student's earlier turn arrives."""

    def __init__(self, max_active: int = 6, keep: int = 20, processes: bool = True, store: Store | None = None,
                 executor: Executor | None = None, waiting_per_owner: int = 0):
        if executor is None:                  # local (the app's REGISTRY uses make_executor: a cluster if named)
            executor = _local_executor(max_active, processes)
        self.executor = executor
        self.max_active = executor.limit      # runs training at once (one torch thread each); None: queued
        self.keep = keep                  # ended runs kept in memory (older ones are read from the store)
        self._store = store
        self._recorder: Recorder | None = None
        self._lock = threading.Lock()
        self._init_lock = threading.Lock()
        self._runs: dict[str, RunHandle] = {}
        self._stored: OrderedDict = OrderedDict()   # (id, updated_at) -> StoredRun, a small cache
        self._warm_asks: queue.SimpleQueue = queue.SimpleQueue()
        self._warmer: threading.Thread | None = None
        self._reattach_lock = threading.Lock()
        self._reattached = False
        self._reattach_tried = -60.0
        self._closing = False
        self.paused = False               # the teacher paused new Starts (pause())
        self.waiting_per_owner = waiting_per_owner if self.max_active is not None else 0
        self._line: list[_Waiting] = []   # Starts waiting for slots (under self._lock)
        self._arrivals = itertools.count()
        self._line_wake = threading.Event()
        self._line_thread: threading.Thread | None = None
        quick_exit.skip_final_collections()   # the server exits ~0.5-1 s sooner (quick_exit.py)
        # At exit (Streamlit's SIGTERM / Ctrl-C handler stops the server, then the interpreter exits):
        # registered after the executor's own exit handlers, so it runs before them (atexit is last in,
        # first out) and the runs have stopped before their workers are ended.
        atexit.register(_shutdown, weakref.ref(self))

    # ------------------------------------------------------------------ store
    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = default_store()
        return self._store

    @property
    def recorder(self) -> Recorder:
        with self._init_lock:
            if self._recorder is None:
                self._recorder = Recorder(self.store)
            return self._recorder

    def warm(self, n: int = 2, together: bool = False, after: float = 0.0) -> None:
        """Get ready to train n runs, in the background, so the first Starts do not wait: start n
        worker processes one after another (the first is ready soonest, a fresh server is not
        flooded), or all together (a page about to race n variants); on a cluster, connect to it
        and take back the runs an earlier server left training there. after: seconds to wait first
        (a fresh server's first page, which its browser is still drawing); an ask without a wait ends
        it, and a Start never waits for the warm-up (it starts a worker of its own)."""
        if together:                             # a race about to start: at once, not behind a slow warm-up
            threading.Thread(target=self.executor.warm, args=(n, True), daemon=True, name="warm-race").start()
            return
        self._warm_asks.put((n, time.monotonic() + after))   # every page asks: one thread of its own does it
        with self._init_lock:                    # (starting a thread per page cost a loaded server ~0.3 s of each page)
            if self._warmer is None:
                self._warmer = threading.Thread(target=self._warm_loop, daemon=True, name="warm-executor")
                self._warmer.start()

    def _warm_loop(self) -> None:
        while True:
            n, at = self._warm_asks.get()
            while True:                          # what is asked meanwhile, and until the wait is over: the most,
                wait = at - time.monotonic()     # the soonest
                try:
                    m, t = self._warm_asks.get(timeout=wait) if wait > 0 else self._warm_asks.get_nowait()
                except queue.Empty:
                    break
                n, at = max(n, m), min(at, t)
            try:
                self.reattach()
            except PlaygroundError:              # the cluster is down (logged): Start says so, a later page tries again
                pass
            try:
                self.executor.warm(n)
            except Exception:                    # a later page asks again
                log.exception("warming the executor")

    def reattach(self) -> list[RunHandle]:
        """Find the runs an earlier server started that still train (on a cluster), and follow them
        again: their curves continue from what the store holds. Once per registry; a page that asks
        while another is doing it waits for it (else it would draw those runs as stored ones). Where
        the cluster cannot be reached: PlaygroundError, and another try at most once a minute."""
        with self._reattach_lock:
            if self._reattached or time.monotonic() - self._reattach_tried < 60:
                return []
            try:
                found = self.executor.reattach()
            except PlaygroundError as e:
                self._reattach_tried = time.monotonic()
                log.warning("%s", e)
                raise
            self._reattached = True
            handles = []
            for run_id, target in found:
                row = self.store.get(run_id)
                if row is None:                       # another server's run on a shared cluster
                    continue
                h = RunHandle(RunConfig.from_dict(row.config), self.executor, run_id=run_id,
                              history=History.restore(self.store.metrics(run_id), "running",
                                                      started_at=row.created_at))
                h.name, h.owner, h.group = row.name, row.owner, row.group
                try:
                    h.prepare()
                except PlaygroundError as e:
                    log.warning("run %s, still training on the cluster, cannot be followed: %s", run_id, e)
                    continue
                h.snapshot_budget = self._snapshot_budget(h)
                self.store.claim(run_id, status="running", message="")
                self.recorder.track(h, h.snapshot_budget, h.checkpoint_bytes)
                with self._lock:
                    self._runs[run_id] = h
                    self._stored.clear()
                self.executor.adopt(h, target)
                handles.append(h)
            if handles:
                log.warning("took back %d runs still training on the cluster: %s", len(handles),
                            ", ".join(h.id for h in handles))
            return handles

    # ------------------------------------------------------------------ starting
    def prepare(self, config: RunConfig, publish_every: float = 0.1, owner: str | None = None,
                checkpoint: dict | None = None, **kwargs) -> RunHandle:
        """A run checked (once) and made ready by the executor, not yet recorded or started: raises
        PlaygroundError with the fix. start() is prepare() then launch()."""
        run = RunHandle(config, self.executor, publish_every=publish_every, **kwargs)
        run.owner = owner
        run.prepare(checkpoint=checkpoint)        # raises PlaygroundError before anything starts
        run.snapshot_budget = self._snapshot_budget(run)
        return run

    def launch(self, run: RunHandle, who: Who | str | None = None, lesson: Lesson | None = None) -> RunHandle:
        """Record a prepared run in the store and hand it to its executor, or put it in line (see
        start()). lesson: the lesson whose budget it must keep to (unless who is the teacher)."""
        self._check_room()
        with self._lock:                          # budget, slot check, reservation and hand-off: one step
            if lesson is not None:
                w = _who(who)
                if w is None or not w.teacher:     # counted under the lock: two Starts at once cannot both pass
                    mine = self.store.list(owner=run.owner, lesson=lesson.id) if run.owner is not None else []
                    lesson.check_run(run.config.to_dict(), sum(r.params for r in run.rows), len(mine))
                run.lesson = lesson.id
            slots = self._admit(1, False, who)
            self._record(run)
            self._go_or_wait([run], slots, False, who)
        return run

    def _snapshot_budget(self, run: RunHandle) -> int:
        """Snapshots the run may keep: policy.BUDGET, fewer when they would pass the per-run limit
        (with room left for its checkpoint, run.checkpoint_bytes)."""
        params = sum(r.params for r in run.rows)
        snap = params * 4 + 4096
        states = {"adam": 2, "adamw": 2, "sgd": 0}.get(run.config.optim.name, 1)
        run.checkpoint_bytes = params * 4 * (1 + states) + 16384   # + generator states and the header
        room = self.store.max_run_bytes - run.checkpoint_bytes - 2048
        budget = int(max(2, min(policy.BUDGET, room // snap)))
        if budget < policy.BUDGET and budget < run.config.epochs + 1:
            run.history.update(note=f"keeps {budget} weight snapshots rather than {policy.BUDGET}: each takes "
                                    f"{size_text(snap)} and a run may use {size_text(self.store.max_run_bytes)} "
                                    f"(PLAYGROUND_MAX_RUN_MB)")
        return budget

    def _check_room(self) -> None:
        used, limit = self.store.usage(), self.store.max_total_bytes
        if used >= limit:
            raise PlaygroundError(f"the run store ({self.store.home}) holds {size_text(used)}, its limit is "
                                  f"{size_text(limit)} (PLAYGROUND_MAX_STORE_MB): delete old runs on the Runs "
                                  f"page (or raise the limit) before starting another")

    def _training(self) -> int:
        return sum(r.training for r in self._runs.values())

    def _admit(self, n: int, group: bool, who: Who | str | None, capped: bool = True) -> list | None:
        """Under self._lock: n slots reserved with the executor now (all or none; e.g. n warm worker
        processes), or None: the Start waits in line (where the registry keeps one, and no one waits
        before it). Raises PlaygroundError, with the fix, where it may do neither. capped: the owner's
        Starts already waiting count against PLAYGROUND_WAITING_PER_STUDENT (a series' later races do not:
        the series is one Start)."""
        if self._closing:
            raise PlaygroundError("the server is shutting down; start the run once it is back")
        limit = self.max_active
        if limit is None:
            return self.executor.reserve(n)
        if n > limit:
            raise PlaygroundError(f"{n} variants need {n} training slots at once, but this server trains at most "
                                  f"{limit} runs at once (PLAYGROUND_MAX_RUNS); race at most {limit} variants")
        active = self._training()
        if active + n <= limit and not self._line:
            try:
                return self.executor.reserve(n)
            except PlaygroundError:               # a slot that ended a moment ago is not back in the pool yet
                if not self.waiting_per_owner:
                    raise
        if not self.waiting_per_owner:
            if group:
                raise PlaygroundError(f"{n} variants need {n} training slots, but {active} of {limit} are busy; "
                                      f"stop some runs first")
            raise PlaygroundError(f"{active} runs are already training (the limit is {limit}); stop one before "
                                  f"starting another")
        w = _who(who)
        if w is not None and not w.teacher and capped:
            mine = sum(e.owner == w.token for e in self._line)
            if mine >= self.waiting_per_owner:
                raise PlaygroundError(f"you have {mine} Start{'s' if mine > 1 else ''} waiting in line already "
                                      f"(the server trains {limit} runs at once, and all {limit} slots are busy): "
                                      f"wait until {'one starts' if mine > 1 else 'it starts'}, or stop "
                                      f"{'one' if mine > 1 else 'it'}, before starting another")
        return None

    def _go_or_wait(self, runs: list[RunHandle], slots: list | None, together: bool, who: Who | str | None) -> None:
        """Under self._lock, runs recorded: hand them to the executor (slots reserved), or put them in
        line (slots None); the line's thread hands them over once there is room."""
        if slots is not None:
            self._launch(runs, slots, together)
            return
        w = _who(who)
        token = w.token if w is not None else None
        turn = (sum(r.training and r.owner == token for r in self._runs.values())
                + sum(len(e.runs) for e in self._line if e.owner == token))
        for run in runs:
            run.waiting, run.cancel = True, self._leave_line
            run.history.update(status="queued", message="waiting for a training slot")
            self._runs[run.id] = run
        self._stored.clear()
        self._line.append(_Waiting(runs, together, token, w is not None and w.teacher, turn, next(self._arrivals),
                                   time.time()))
        self._show_line()
        if self._line_thread is None:
            self._line_thread = threading.Thread(target=self._line_loop, daemon=True, name="run-line")
            self._line_thread.start()

    def _line_order(self) -> list[_Waiting]:
        """Under self._lock: the line in the order its Starts will train (see the class's docstring)."""
        return sorted(self._line, key=lambda e: (not e.teacher, e.turn, e.seq))

    def _show_line(self) -> None:
        """Under self._lock: each waiting run's message says its place in line."""
        order = self._line_order()
        for i, e in enumerate(order):
            msg = (f"waiting for a training slot: {i + 1} of {len(order)} in line (this server trains "
                   f"{self.max_active} runs at once; it starts as soon as one ends)")
            for run in e.runs:
                if run.history.message != msg:
                    run.history.update(status="queued", message=msg)

    def _line_loop(self) -> None:
        """Hand the Starts in line to the executor as slots come free (a run's end, a Stop, a Start that
        left the line wake it; it also looks every LINE_POLL_S); ends when the line is empty."""
        while True:
            self._line_wake.wait(LINE_POLL_S)
            self._line_wake.clear()
            with self._lock:
                if not self._line or self._closing:
                    self._line_thread = None
                    return
                self._serve_line()

    def _serve_line(self) -> None:
        """Under self._lock: start what fits, first of the line first (a race waits for all its slots,
        and nothing behind it passes it)."""
        changed = False
        while self._line:
            e = self._line_order()[0]
            if self._training() + len(e.runs) > self.max_active:
                break
            try:
                slots = self.executor.reserve(len(e.runs))
            except PlaygroundError:                # not back in the pool yet: the next look
                break
            self._line.remove(e)
            changed = True
            for run in e.runs:
                run.history.update(status="starting", message="")
            try:
                self._launch(e.runs, slots, e.together)
            except PlaygroundError as err:         # the executor has marked them failed, with the reason
                log.warning("runs %s could not start after waiting in line: %s", [r.id for r in e.runs], err)
            finally:
                for run in e.runs:
                    run.waiting, run.cancel = False, None
        if changed:
            self._show_line()

    def _leave_line(self, run: RunHandle, why: str = "stopped before it trained: it left the line for a training "
                                                      "slot") -> bool:
        """A waiting run's stop(): out of the line, ended as stopped (a race's other variants wait on).
        False if it was handed off meanwhile (its stop() then stops it where it trains)."""
        with self._lock:
            for e in self._line:
                if run in e.runs:
                    e.runs.remove(run)
                    if not e.runs:
                        self._line.remove(e)
                    break
            else:
                return False                       # handed off meanwhile: stop() reaches it there
            run.history.update(status="stopped", message=why)
            run.waiting, run.cancel = False, None
            self._show_line()
        self._line_wake.set()
        return True

    def line(self) -> list[tuple[int, RunHandle, float]]:
        """The runs waiting for a training slot, in the order they will train: (place, run, waiting since)."""
        with self._lock:
            return [(i + 1, run, e.since) for i, e in enumerate(self._line_order()) for run in e.runs]

    def _record(self, run: RunHandle, group: str | None = None) -> None:
        run.group = group
        self.store.create(run.id, run.name, run.config.to_dict(), run.owner, group,
                          params=sum(r.params for r in run.rows), lesson=run.lesson)
        self.recorder.track(run, run.snapshot_budget, run.checkpoint_bytes)

    def _launch(self, runs: list[RunHandle], slots: list, together: bool = False) -> None:
        """Under self._lock: hand recorded runs to the executor; they are the registry's either way
        (a failed hand-off leaves them failed, with the reason, for the page to show)."""
        try:
            self.executor.launch(runs, slots, together)
        finally:
            for run in runs:
                self._runs[run.id] = run
            self._stored.clear()
        self._trim()

    def start(self, config: RunConfig, publish_every: float = 0.1, owner: Who | str | None = None,
              lesson: Lesson | None = None) -> RunHandle:
        """Check the config (raises PlaygroundError before anything starts), then train it. owner: the
        browser that starts it (a Who; a token string acts as that browser), None: the CLI's 'cli'.
        lesson: the lesson it is started in; the run must keep to its locks and budget (the teacher's
        own runs, the lesson's reference, need not)."""
        self._may_start(owner)
        run = self.prepare(config, publish_every, _token(owner))
        return self.launch(run, owner, lesson)

    def start_group(self, configs: list[RunConfig], publish_every: float = 0.1, owner: Who | str | None = None) -> str:
        """Start every config at once (a comparison), or none: returns the group id."""
        self._may_start(owner)
        runs = [self.prepare(cfg, publish_every, _token(owner)) for cfg in configs]   # check all before starting any
        self._check_room()
        gid = "cmp-" + runs[0].id
        with self._lock:
            slots = self._admit(len(runs), True, owner)
            for run in runs:
                self._record(run, gid)
            self._go_or_wait(runs, slots, True, owner)
        return gid

    def start_series(self, groups: list[list[RunConfig]], publish_every: float = 0.1,
                     owner: Who | str | None = None) -> list[str]:
        """A comparison repeated over seeds (playground.seeds.seed_configs): one race per seed, all checked
        before any starts, as one Start: the first races where slots are free or waits in line as a Start
        does; the others follow it in line (they do not count against the owner's cap on waiting
        Starts, and other students' first runs still go before them). Returns the races' group ids."""
        self._may_start(owner)
        prepared = [[self.prepare(cfg, publish_every, _token(owner)) for cfg in group] for group in groups]
        self._check_room()
        gids = []
        total = sum(map(len, prepared))
        with self._lock:
            limit = self.max_active
            if limit is not None and not self.waiting_per_owner and self._training() + total > limit:
                raise PlaygroundError(f"{len(groups)} races of {len(prepared[0])} need {total} training slots, but "
                                      f"{self._training()} of {self.max_active} are busy and this server keeps no "
                                      f"line; race fewer seeds or variants")
            for k, runs in enumerate(prepared):
                slots = self._admit(len(runs), True, owner, capped=k == 0)
                gid = "cmp-" + runs[0].id
                for run in runs:
                    self._record(run, gid)
                self._go_or_wait(runs, slots, True, owner)
                gids.append(gid)
        return gids

    def resume(self, run_id: str, more_epochs: int | None = None, who: Who | str | None = None,
               publish_every: float = 0.1) -> RunHandle:
        """Continue a stored run from its last checkpoint: to its planned epochs, or `more_epochs`
        past the epochs it has completed. who: refused unless the run is theirs or they are the
        teacher (None: anyone, the CLI). The numbers are those of a run that never stopped (a cosine or
        one-cycle schedule extended to more epochs is re-planned; the run's note says so)."""
        row = self._own(run_id, who, "resume")
        self._may_start(who)
        live = self.get(run_id)
        if live is not None and live.alive:
            raise PlaygroundError(f"run {run_id} ({row.name}) is "
                                  f"{'waiting in line' if getattr(live, 'waiting', False) else 'training'} already")
        if row.status == "diverged":
            raise PlaygroundError(f"run {run_id} ({row.name}) diverged; resuming would diverge again at the same "
                                  f"step. Start a new run with a lower learning rate instead")
        ckpt = self.store.load_checkpoint(run_id)
        if ckpt is None:
            raise PlaygroundError(f"run {run_id} ({row.name}) has no checkpoint: it ended before its first epoch "
                                  f"did; start it again")
        p = ckpt["position"]
        done = p["epoch"] - 1                     # epochs completed at the checkpoint
        if more_epochs is not None and more_epochs < 1:
            raise PlaygroundError(f"epochs: train at least 1 more epoch, got {more_epochs}")
        epochs = {} if more_epochs is None else {"epochs": done + more_epochs}
        config = RunConfig.from_dict({**row.config, **epochs})
        if more_epochs is None and p["epoch"] > config.epochs:
            raise PlaygroundError(f"run {run_id} ({row.name}) has finished its {config.epochs} epochs; say how many "
                                  f"more to train (e.g. --epochs 10, or 'Train more' on the page)")
        lesson = self.lesson(row.lesson) if row.lesson else None
        if lesson is not None and not (_who(who) is None or _who(who).teacher):
            lesson.check_run(config.to_dict(), row.params or 0, runs_so_far=0)     # e.g. Train more past its epochs
        history = History.restore({"step_x": [], "step_loss": [], "epochs": [], "marks": []}, "starting")
        run = self.prepare(config, publish_every, row.owner, checkpoint=ckpt, run_id=run_id, history=history)
        run.name, run.group = row.name, row.group
        self._check_room()
        with self._lock:
            slots = self._admit(1, False, who)
            self.store.truncate(run_id, p["step"], p["epoch"])
            stored = History.restore(self.store.metrics(run_id), "starting", started_at=row.created_at)
            for attr in ("step_x", "step_loss", "epochs", "marks", "started_at"):
                setattr(history, attr, getattr(stored, attr))
            self.store.claim(run_id, config=config.to_dict(), status="starting", message="", note="",
                             epochs_done=done)
            self.recorder.track(run, run.snapshot_budget, run.checkpoint_bytes)
            self._go_or_wait([run], slots, False, who)
        return run

    # ------------------------------------------------------------------ finding runs
    def _trim(self) -> None:
        """Forget ended runs past `keep` (the store has them) once the recorder has written them."""
        done = [rid for rid, r in self._runs.items() if not r.alive and not self.recorder.tracking(rid)]
        for rid in done[: max(0, len(done) - self.keep)]:
            del self._runs[rid]

    def get(self, run_id: str | None):
        """The live run (or one kept in memory), else the stored one; None if there is none."""
        if not run_id:
            return None
        with self._lock:
            run = self._runs.get(run_id)
        if run is not None:
            return run
        row = self.store.get(run_id)
        return self._stored_run(row) if row is not None else None

    def _stored_run(self, row: RunRow) -> StoredRun:
        key = (row.id, row.updated_at, row.name, row.status)
        with self._lock:
            run = self._stored.get(key)
            if run is None:
                run = self._stored[key] = StoredRun(self.store, row)
                while len(self._stored) > 64:
                    self._stored.popitem(last=False)
            return run

    def listing(self, owner: str | None = None, limit: int | None = None) -> list[RunRow]:
        """Stored runs, newest first (all, or `owner`'s), with the live ones' status as of now."""
        rows = self.store.list(owner, limit=limit)
        with self._lock:
            live = dict(self._runs)
        for r in rows:
            _as_now(r, live.get(r.id))
        return rows

    def row(self, run_id: str) -> RunRow | None:
        """One stored run, with its status as of now if it is live."""
        r = self.store.get(run_id)
        with self._lock:
            run = self._runs.get(run_id)
        return _as_now(r, run) if r is not None else None

    def runs(self, owner: str | None = None, limit: int | None = 50) -> list:
        """Runs, newest first: all of them, or those `owner` started (live ones as they train)."""
        return [self.get(r.id) for r in self.listing(owner, limit)]

    def group(self, gid: str | None) -> list:
        if not gid:
            return []
        return [self.get(r.id) for r in self.store.list(group=gid)]

    # ------------------------------------------------------------------ acting on runs
    def stop(self, run_id: str, who: Who | str | None = None) -> None:
        """Ask a live run to stop (it ends at its next step, keeping its checkpoint): its owner or the
        teacher may (None: the CLI, anyone)."""
        if who is not None:
            self._own(run_id, who, "stop")
        run = self.get(run_id)
        if run is not None:
            run.stop()
        self._line_wake.set()

    def stop_all(self, wait: float = 5.0) -> None:
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.stop()
        for run in runs:
            run.join(wait)

    def shutdown(self, grace: float = SHUTDOWN_GRACE_S) -> None:
        """The server is exiting: stop every live run at once (each takes a checkpoint where it stops
        and is recorded as interrupted, so it resumes after the restart), write everything to the
        store, and end the executor's workers. A cluster's runs train on (a restarted server follows
        them again). Takes about `grace` seconds at most, however many runs train."""
        with self._lock:
            self._closing = True
            line, self._line = [r for e in self._line for r in e.runs], []
            for run in line:
                run.history.update(status="stopped", message="not trained: the server was shut down while it waited "
                                                             "in line for a training slot; start it again")
                run.waiting, run.cancel = False, None
            live = [r for r in self._runs.values() if r.training]
        t0 = time.monotonic()
        if live and not self.executor.survives_server:
            for run in live:
                run.interrupting = True
            self.executor.shutdown(live, grace)
        t1 = time.monotonic()
        if self._recorder is not None:
            self._recorder.close(timeout=grace + 2)
        t2 = time.monotonic()
        self.executor.close()
        t3 = time.monotonic()
        if t3 - t0 > grace + 1:                 # what a slow exit waited for, for whoever reads the server's log
            log.warning("shutting down took %.1f s: %d runs stopped in %.1f s, the store written in %.1f s, "
                        "workers ended in %.1f s", t3 - t0, len(live), t1 - t0, t2 - t1, t3 - t2)

    # ------------------------------------------------------------------ lessons
    def lesson(self, lesson_id: str) -> Lesson | None:
        """A lesson by id: the teacher's (the store), else one shipped in examples/lessons; None if neither."""
        spec = self.store.lesson(lesson_id)
        if spec is not None:
            return Lesson.from_dict(spec, lesson_id)
        return next((x for x in shipped_lessons() if x.id == lesson_id), None)

    def lessons(self) -> list[Lesson]:
        """The teacher's lessons (newest first), then the shipped ones that no stored lesson replaces."""
        stored = [Lesson.from_dict(spec) for spec in self.store.lessons()]
        ids = {x.id for x in stored}
        return stored + [x for x in shipped_lessons() if x.id not in ids]

    def save_lesson(self, lesson: Lesson, who: Who | None = None) -> Lesson:
        """Keep a lesson (a new one, or a new version under the same id); the teacher's (or the CLI's) only."""
        if who is not None and not who.teacher:
            raise PlaygroundError("only the teacher can save lessons")
        self.store.save_lesson(lesson.id, lesson.to_dict())
        return lesson

    def delete_lesson(self, lesson_id: str, who: Who | None = None) -> None:
        if who is not None and not who.teacher:
            raise PlaygroundError("only the teacher can delete lessons")
        if self.store.lesson(lesson_id) is None:
            raise PlaygroundError(f"no lesson '{lesson_id}' of the teacher's to delete (a shipped lesson is a file "
                                  f"of examples/lessons, and stays)")
        self.store.delete_lesson(lesson_id)

    # ------------------------------------------------------------------ who may do what
    def _own(self, run_id: str, who: Who | str | None, verb: str) -> RunRow:
        """The run's row, if `who` may act on it: its owner or the teacher (None: the CLI, anyone)."""
        row = self.store.get(run_id)
        if row is None:
            raise StoreError(f"no stored run '{run_id}'")
        who = _who(who)
        if who is not None and not who.may(row.owner):
            raise PlaygroundError(f"run {run_id} ({row.name}) is {public_name(row.owner, self.store.names())}'s: only "
                                  f"its owner or the teacher can {verb} it")
        return row

    def _may_start(self, who: Who | str | None) -> None:
        who = _who(who)
        if self.paused and who is not None and not who.teacher:
            raise PlaygroundError("the teacher has paused new runs for the class; wait until they resume Starts")

    def pause(self, paused: bool, who: Who | None = None) -> None:
        """Pause (or allow again) new Starts and resumes by anyone but the teacher; only the teacher may."""
        if who is not None and not who.teacher:
            raise PlaygroundError("only the teacher can pause or allow Starts for the class")
        self.paused = bool(paused)

    def rename(self, run_id: str, name: str, who: Who | str | None = None) -> None:
        self._own(run_id, who, "rename")
        self.store.rename(run_id, name)
        with self._lock:
            run = self._runs.get(run_id)
            if run is not None:
                run.name = name.strip()

    def delete(self, run_id: str, who: Who | str | None = None) -> None:
        row = self._own(run_id, who, "delete")
        run = self.get(run_id)
        if run is not None and run.alive:
            raise PlaygroundError(f"run {run_id} ({row.name}) is training: stop it before deleting it")
        self.store.delete(run_id)
        with self._lock:
            self._runs.pop(run_id, None)
            self._stored.clear()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until the store has everything recorded so far (tests, CLI)."""
        return self._recorder.flush(timeout) if self._recorder is not None else True


def _shutdown(ref: weakref.ref) -> None:
    registry = ref()
    if registry is not None:
        registry.shutdown()


def make_executor(max_active: int, processes: bool) -> Executor:
    """Where the app's runs train: on the Ray cluster that PLAYGROUND_RAY_ADDRESS (or Ray's own
    RAY_ADDRESS) names, else in local worker processes (the default), else (processes=False) in
    threads of this process."""
    address = os.environ.get("PLAYGROUND_RAY_ADDRESS") or os.environ.get("RAY_ADDRESS")
    if address:
        from playground.train.cluster import RayExecutor

        return RayExecutor(address)
    return _local_executor(max_active, processes)


def _local_executor(max_active: int, processes: bool) -> Executor:
    if processes:
        from playground.train.worker import ProcessExecutor

        return ProcessExecutor(max_active)
    return ThreadExecutor(max_active)


_REGISTRY: Registry | None = None
_registry_lock = threading.Lock()


def default_registry() -> Registry:
    """The process's registry (the app's), made on first use: importing this module starts nothing."""
    global _REGISTRY
    with _registry_lock:
        if _REGISTRY is None:
            _REGISTRY = Registry(executor=make_executor(int(os.environ.get("PLAYGROUND_MAX_RUNS", "6")),
                                                        os.environ.get("PLAYGROUND_PROCESSES", "1") != "0"),
                                 waiting_per_owner=int(os.environ.get("PLAYGROUND_WAITING_PER_STUDENT", "2")))
        return _REGISTRY


def __getattr__(name: str):
    if name == "REGISTRY":                   # `from playground.train.registry import REGISTRY`: made on first use
        return default_registry()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ENDED", "Registry", "StoredRun", "default_name", "default_registry"]   # and REGISTRY (__getattr__)


def _who(who: Who | str | None) -> Who | None:
    """A token string acts as that browser (never as the teacher); None is the CLI."""
    return Who(who) if isinstance(who, str) else who


def _token(owner: Who | str | None) -> str | None:
    return owner.token if isinstance(owner, Who) else owner
