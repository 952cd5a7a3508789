"""The server's environment settings do what the README says (section "A class on a cluster" and the
priority note of the feature list):

- PLAYGROUND_WARM_WORKERS=N: the app starts N worker processes ahead of any Start (app.py asks for them
  after each page), and a Start trains in one of them: its first point comes from a process that was
  already running, and no process is started for it;
- PLAYGROUND_WORKER_NICE=N: a training worker runs N steps of niceness below the server (it calls
  os.nice(N) as it starts), while the server keeps its own priority;
- PLAYGROUND_MAX_RUNS=N: N runs train at once; the next Start waits in line, with its place, and trains
  once a run has ended;
- PLAYGROUND_WAITING_PER_STUDENT=N: a browser may have N Starts waiting at once, the next is refused
  with the fix; 0: no line, a Start past MAX_RUNS is refused with the limit and the fix.

Each setting is read where the app reads it: WARM_WORKERS by app.py (run here with AppTest),
MAX_RUNS when the process-wide registry is made (default_registry(), reset here so that a fresh one
reads it), WORKER_NICE when playground.train.worker is imported (reloaded here with the setting, and
again without it afterwards). Every registry made here is shut down, and no worker process outlives it.
"""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import psutil
import pytest
from streamlit.testing.v1 import AppTest

from playground.config import RunConfig
from playground.errors import PlaygroundError
from playground.train import registry
from tests.tokens import token
from tests.waits import wait_for

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
WARM, MAX_RUNS, NICE = 2, 3, 5            # none of them the default (4, 6, 10), so a setting ignored shows
MLP = [{"type": "Linear", "out_features": 16}, {"type": "ReLU"}, {"type": "Linear", "out_features": 2}]
SETTINGS = ("PLAYGROUND_WARM_WORKERS", "PLAYGROUND_MAX_RUNS", "PLAYGROUND_WORKER_NICE", "PLAYGROUND_PROCESSES",
            "PLAYGROUND_WAITING_PER_STUDENT", "PLAYGROUND_RAY_ADDRESS", "RAY_ADDRESS")


def long_run(seed: int = 0) -> RunConfig:
    """A run that trains until it is stopped (100,000 epochs of 10 steps)."""
    return RunConfig.from_dict({"data": {"name": "moons", "n_samples": 200}, "layers": MLP, "batch_size": 16,
                                "epochs": 100_000, "seed": seed, "device": "cpu", "threads": 1})


def worker_pids() -> set[int]:
    """The training worker processes of this process: the children of its fork servers (worker.py's BOOT)."""
    out = set()
    for p in psutil.Process().children():
        try:
            if any("forks.serve(" in a for a in p.cmdline()):
                out |= {c.pid for c in p.children()}
        except psutil.NoSuchProcess:
            pass
    return out


def gone(pids: set[int]) -> bool:
    """None of these processes runs any more (a zombie waiting for its parent's wait() has ended)."""
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            pass
    return True


def fresh_app_registry(mp: pytest.MonkeyPatch, **env: str) -> None:
    """As a server started with `env`: the settings set (and the others unset), and no registry made yet.
    Modules that an earlier test imported hold the registry of then (`from playground.train import
    REGISTRY`): they are pointed at the one made now, as a server's would be, and back afterwards. The
    app's own modules (ui/) are imported first, so that none is imported meanwhile and keeps this one."""
    import pkgutil

    import ui

    for m in pkgutil.iter_modules(ui.__path__):
        importlib.import_module(f"ui.{m.name}")
    for name in SETTINGS:
        mp.delenv(name, raising=False)
    for name, value in env.items():
        mp.setenv(name, value)
    old = registry._REGISTRY
    mp.setattr(registry, "_REGISTRY", None)
    if old is not None:
        new = registry.default_registry()
        for module in list(sys.modules.values()):
            if getattr(module, "REGISTRY", None) is old:
                mp.setattr(module, "REGISTRY", new)


@pytest.fixture(scope="module")
def app_server():
    """The app as `PLAYGROUND_WARM_WORKERS=2 PLAYGROUND_MAX_RUNS=3 PLAYGROUND_WORKER_NICE=5 streamlit run
    app.py` is one, after its first page: (its registry, the worker pids there before it started)."""
    from playground.train import worker

    old = registry._REGISTRY                          # an earlier test's app: let it finish warming its own
    pool = getattr(old.executor, "pool", None) if old is not None else None
    if pool is not None:
        wait_for(lambda: not pool._warming, 180, "the earlier registry's warm workers")
    before = worker_pids()
    with pytest.MonkeyPatch.context() as mp:
        fresh_app_registry(mp, PLAYGROUND_WARM_WORKERS=str(WARM), PLAYGROUND_MAX_RUNS=str(MAX_RUNS),
                           PLAYGROUND_WORKER_NICE=str(NICE))
        importlib.reload(worker)                      # the worker module reads WORKER_NICE at import
        reg = None
        try:
            at = AppTest.from_file(APP, default_timeout=60)
            at.run()                                  # its first page; it then asks for WARM warm workers
            assert not at.exception, [e.value for e in at.exception]
            reg = registry._REGISTRY
            assert reg is not None and reg.executor.kind == "process", "the app made no local-process registry"
            assert reg.max_active == MAX_RUNS, f"PLAYGROUND_MAX_RUNS={MAX_RUNS}, but the registry caps at " \
                                               f"{reg.max_active}"
            pool = reg.executor.pool
            # warm() has returned (it starts workers one after another, each once the one before is warm)
            wait_for(lambda: not pool._warming and any(w.warm for w in pool._all), 180, "the warm workers")
            yield reg, before
        finally:
            if reg is not None:
                reg.shutdown()
                ours = worker_pids() - before
                wait_for(lambda: gone(ours), 10, f"the worker processes {sorted(ours)} to end after shutdown")
    importlib.reload(worker)                          # as it was: without the setting


def test_warm_workers_are_started_ahead_and_a_start_trains_in_one(app_server):
    reg, before = app_server
    warm = worker_pids() - before
    assert len(warm) == WARM, f"PLAYGROUND_WARM_WORKERS={WARM}: {len(warm)} worker processes run before any Start"
    assert all(w.warm for w in reg.executor.pool._all), "a worker the app started is not warm yet"
    run = reg.start(long_run(1))
    try:
        wait_for(lambda: run.history.progress["step"] > 0, 60, "the run's first point")
        pid = run.job.target.proc.pid
        assert pid in warm, f"the run trains in process {pid}, not in one of the warm ones {sorted(warm)}"
        assert worker_pids() - before == warm, "a worker process was started for the Start"
    finally:
        reg.stop(run.id)
        assert run.join(30), "the run did not stop"


def test_workers_train_at_the_niceness_the_setting_gives(app_server):
    reg, before = app_server
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    expected = min(19, mine + NICE)
    assert expected != min(19, mine + 10), "this test process runs at a niceness where 5 and 10 look alike"
    run = reg.start(long_run(2))
    try:
        wait_for(lambda: run.history.progress["step"] > 0, 60, "the run's first point")
        pid = run.job.target.proc.pid
        nice = os.getpriority(os.PRIO_PROCESS, pid)
        assert run.alive, "the run ended before its niceness was read"
        assert nice == expected, f"PLAYGROUND_WORKER_NICE={NICE}: the training process {pid} runs at niceness " \
                                 f"{nice}, the server at {mine} (expected {expected})"
        for p in worker_pids() - before:              # the idle warm ones too
            assert os.getpriority(os.PRIO_PROCESS, p) == expected, f"worker {p} is not at niceness {expected}"
        assert os.getpriority(os.PRIO_PROCESS, 0) == mine, "the server's own priority changed"
    finally:
        reg.stop(run.id)
        assert run.join(30), "the run did not stop"


def test_max_runs_train_at_once_the_next_start_waits_in_line_until_one_ends():
    """With PLAYGROUND_PROCESSES=0 (runs in threads of the server: no worker processes to start), the
    cap is the registry's, whoever trains."""
    ana, ben = token("ana"), token("ben")
    with pytest.MonkeyPatch.context() as mp:
        fresh_app_registry(mp, PLAYGROUND_MAX_RUNS="2", PLAYGROUND_PROCESSES="0", PLAYGROUND_WAITING_PER_STUDENT="1")
        reg = registry.default_registry()
        try:
            assert reg.max_active == 2, f"PLAYGROUND_MAX_RUNS=2, but the registry caps at {reg.max_active}"
            assert reg.waiting_per_owner == 1, "PLAYGROUND_WAITING_PER_STUDENT=1 was not read"
            a, b = reg.start(long_run(1), owner=ana), reg.start(long_run(2), owner=ana)
            wait_for(lambda: a.history.progress["step"] > 0 and b.history.progress["step"] > 0, 60,
                     "both runs' first points")
            c = reg.start(long_run(3), owner=ben)
            assert c.waiting and c.history.status == "queued" and c.history.message.startswith(
                "waiting for a training slot: 1 of 1 in line (this server trains 2 runs at once")
            with pytest.raises(PlaygroundError, match=r"^you have 1 Start waiting in line already \(the server "
                                                      r"trains 2 runs at once, and all 2 slots are busy\): wait "
                                                      r"until it starts, or stop it, before starting another$"):
                reg.start(long_run(4), owner=ben)
            assert a.alive and b.alive, "a run ended while the other Starts waited"
            reg.stop(a.id)
            assert a.join(30) and not a.alive
            wait_for(lambda: c.history.progress["step"] > 0, 60, "the waiting run's start once a slot was free")
            assert c.training and b.alive and reg.line() == []
        finally:
            reg.shutdown()


def test_without_a_line_the_start_past_max_runs_is_refused():
    with pytest.MonkeyPatch.context() as mp:
        fresh_app_registry(mp, PLAYGROUND_MAX_RUNS="1", PLAYGROUND_PROCESSES="0", PLAYGROUND_WAITING_PER_STUDENT="0")
        reg = registry.default_registry()
        try:
            a = reg.start(long_run(1), owner=token("ana"))
            stored = {r.id for r in reg.store.list()}
            with pytest.raises(PlaygroundError, match=r"^1 runs are already training \(the limit is 1\); stop one "
                                                      r"before starting another$"):
                reg.start(long_run(3), owner=token("ben"))
            assert a.alive, "the run ended while the second Start was refused"
            assert {r.id for r in reg.store.list()} == stored, "the refused run was recorded"
        finally:
            reg.shutdown()
