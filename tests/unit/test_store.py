"""playground/store: runs kept across restarts, exact resume, snapshots, limits, damaged files."""
import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest
import torch

from playground.config import RunConfig
from playground.errors import PlaygroundError
from playground.identity import Who
from playground.store import Store, StoreError, policy
from playground.train.frozen import frozen_model
from playground.train.history import History
from playground.train.registry import Registry
from playground.train.trainer import Trainer
from tests.unit.run_helper import Run

DROPOUT_MLP = [{"type": "Linear", "out_features": 16}, {"type": "ReLU"}, {"type": "Dropout", "p": 0.2},
               {"type": "Linear", "out_features": 16}, {"type": "ReLU"}, {"type": "Linear", "out_features": 2}]
BN_CNN = [{"type": "Conv2d", "out_channels": 4, "padding": 1}, {"type": "BatchNorm"}, {"type": "ReLU"},
          {"type": "MaxPool2d"}, {"type": "Flatten"}, {"type": "Dropout", "p": 0.3},
          {"type": "Linear", "out_features": 10}]


def config(**over) -> RunConfig:
    """spiral, 200 points (160 train), batch 16: 10 steps an epoch; dropout, so the RNG state matters."""
    d = {"data": {"name": "spiral", "n_samples": 200}, "layers": DROPOUT_MLP, "optim": {"name": "adam", "lr": 0.01},
         "batch_size": 16, "epochs": 6, "seed": 0, "device": "cpu", "threads": 1}
    d.update(over)
    return RunConfig.from_dict(d)


def records(epochs: list[dict]) -> list[dict]:
    """Epoch records without the wall-clock time, which legitimately differs."""
    return [{k: v for k, v in e.items() if k != "time_s"} for e in epochs]


def straight(cfg: RunConfig) -> Run:
    run = Run(cfg)
    run.run()
    return run


def stop_when(run, predicate, timeout=60.0):
    """Stop `run` once predicate(history) holds (polled: where exactly it stops does not matter)."""
    end = time.monotonic() + timeout
    while not predicate(run.history) and run.alive and time.monotonic() < end:
        time.sleep(0.0005)
    run.stop()
    assert run.join(timeout)


@pytest.fixture
def stop_after(monkeypatch):
    """stop_after(k): the in-process run started next (with publish_every=0, so that every step is
    published) stops right after step k + 1: the flag is set when step k is published, and read
    after the next step. Disarmed once it has fired."""
    armed = {}
    publish = Trainer._publish

    def publish_and_stop(self, pending, step, *args, **kwargs):
        ok = publish(self, pending, step, *args, **kwargs)
        if armed.get("k") is not None and step >= armed["k"]:
            armed["k"] = None
            self.stop()
        return ok
    monkeypatch.setattr(Trainer, "_publish", publish_and_stop)
    return lambda k: armed.update(k=k)


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "store")


@pytest.fixture
def reg(store):
    r = Registry(max_active=2, processes=False, store=store)
    yield r
    r.stop_all()


def assert_same_as(store, run_id, ref: Run):
    stored = store.metrics(run_id)
    assert records(stored["epochs"]) == records(ref.history.epochs)          # to the last digit
    assert stored["step_loss"] == ref.history.step_loss
    assert stored["step_x"] == ref.history.step_x
    final = frozen_model(store, run_id)
    for name, value in ref.model.state_dict().items():
        assert torch.equal(final.model.state_dict()[name], value), name


# ----------------------------------------------------------------------------- exact resume
@pytest.mark.parametrize("schedule", ["constant", "cosine", "onecycle"])
def test_stopped_after_epoch_3_and_resumed_equals_a_straight_run(reg, store, stop_after, schedule):
    cfg = config(schedule={"name": schedule}, optim={"name": "momentum" if schedule == "onecycle" else "adam",
                                                     "lr": 0.01})
    ref = straight(cfg)
    stop_after(29)                                          # epoch 3 ends with step 30
    run = reg.start(config(schedule={"name": schedule}, optim=cfg.optim.__dict__), publish_every=0)
    assert run.join(60) and reg.flush()
    row = store.get(run.id)
    assert row.status == "stopped" and row.epochs_done == 3 and row.ckpt_epoch == 4, (row.status, row.message)
    assert "after epoch 3" in row.message
    resumed = reg.resume(run.id)
    assert resumed.join(60) and reg.flush()
    assert store.get(run.id).status == "finished"
    assert_same_as(store, run.id, ref)


def test_stopped_inside_an_epoch_and_resumed_equals_a_straight_run(reg, store, stop_after):
    cfg = config(layers=BN_CNN, data={"name": "digits", "max_train": 321}, batch_size=32, epochs=3,
                 schedule={"name": "warmup", "warmup_epochs": 2})                   # 321 % 32 == 1: BN drops one
    ref = straight(cfg)
    stop_after(14)                                                                  # epoch 2 has steps 11-20
    run = reg.start(config(layers=BN_CNN, data={"name": "digits", "max_train": 321}, batch_size=32, epochs=3,
                           schedule={"name": "warmup", "warmup_epochs": 2}), publish_every=0)
    assert run.join(60) and reg.flush()
    row = store.get(run.id)
    assert row.status == "stopped" and "in epoch 2" in row.message
    stored = store.metrics(run.id)
    assert stored["epochs"][-1]["partial"] is True                                  # the cut-short epoch
    assert any(s.partial for s in store.snapshots(run.id))                          # its final weights
    assert row.ckpt_step == 15
    resumed = reg.resume(run.id)
    assert resumed.join(60) and reg.flush()
    assert not any(s.partial for s in store.snapshots(run.id))
    assert_same_as(store, run.id, ref)


def test_train_more_epochs_equals_a_longer_run_and_replans_cosine(reg, store):
    ref = straight(config(epochs=5))
    run = reg.start(config(epochs=3))
    assert run.join(60) and reg.flush()
    with pytest.raises(PlaygroundError, match="has finished its 3 epochs"):
        reg.resume(run.id)
    more = reg.resume(run.id, more_epochs=2)
    assert more.join(60) and reg.flush()
    row = store.get(run.id)
    assert row.status == "finished" and row.epochs_done == 5 and row.config["epochs"] == 5
    assert_same_as(store, run.id, ref)
    # a cosine schedule is planned over the whole run: extending it re-plans it, and says so
    cos = reg.start(config(epochs=2, schedule={"name": "cosine"}))
    assert cos.join(60) and reg.flush()
    assert store.metrics(cos.id)["epochs"][-1]["lr"] == pytest.approx(0.0, abs=1e-12)
    more = reg.resume(cos.id, more_epochs=2)
    assert more.join(60) and reg.flush()
    lrs = [e["lr"] for e in store.metrics(cos.id)["epochs"]]
    assert lrs[2] > 0 and lrs[3] == pytest.approx(0.0, abs=1e-12)
    assert "re-planned over 4 epochs" in store.get(cos.id).note


def test_resume_in_a_worker_process_gives_the_same_numbers(store):
    ref = straight(config(epochs=40))                        # long enough for the Stop to land mid-run
    reg = Registry(max_active=1, store=store)                # processes, as the app trains
    try:
        run = reg.start(config(epochs=40))
        stop_when(run, lambda h: h.progress["step"] >= 15)
        assert reg.flush()
        resumed = reg.resume(run.id)
        assert resumed.join(60) and reg.flush()
        assert_same_as(store, run.id, ref)
    finally:
        reg.stop_all()
        reg.executor.close()


def test_a_killed_process_leaves_an_interrupted_run_that_resumes_exactly(tmp_path):
    """The server dies mid-run (SIGKILL): the run shows as interrupted at its epoch, and resumes from
    its last checkpoint to the same numbers as a run that never stopped."""
    home = tmp_path / "store"
    cfg = config(epochs=4000, data={"name": "spiral", "n_samples": 400})     # long enough to be killed mid-run
    path = tmp_path / "run.json"
    path.write_text(cfg.to_json())
    env = {**os.environ, "PLAYGROUND_HOME": str(home), "PYTHONPATH": str(os.getcwd())}
    proc = subprocess.Popen([sys.executable, "-m", "playground", "train", str(path)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    store = Store(home)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:                       # wait for a checkpoint past epoch 3
        rows = store.list()
        if rows and (rows[0].ckpt_epoch or 0) > 3:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    row = store.get(rows[0].id)
    assert row.status == "interrupted", row.status
    assert f"interrupted at epoch {row.epochs_done}" in row.message
    assert f"resume from epoch {row.ckpt_epoch - 1}" in row.message
    reg = Registry(max_active=1, processes=False, store=store)
    run = reg.resume(row.id, more_epochs=2)                  # two epochs past the checkpoint
    assert run.join(120) and reg.flush()
    assert run.config.epochs >= row.ckpt_epoch + 1
    assert_same_as(store, row.id, straight(config(epochs=run.config.epochs, data={"name": "spiral", "n_samples": 400})))


def test_resume_refuses_what_it_cannot_do(reg, store):
    run = reg.start(config(optim={"name": "sgd", "lr": 1e5}))
    assert run.join(30) and reg.flush()
    assert store.get(run.id).status == "diverged"
    with pytest.raises(PlaygroundError, match="diverged; resuming would diverge again"):
        reg.resume(run.id)
    ok = reg.start(config(epochs=1))
    assert ok.join(30) and reg.flush()
    with pytest.raises(PlaygroundError, match="only its owner or the teacher can resume it"):
        reg.resume(ok.id, more_epochs=1, who="someone else")
    with pytest.raises(PlaygroundError, match="at least 1 more epoch"):
        reg.resume(ok.id, more_epochs=0)


# ----------------------------------------------------------------------------- snapshots
def test_snapshot_plan_is_dense_early_and_bounded():
    for epochs in (1, 10, 49, 50, 60, 100, 1000, 2000, 100_000):
        p = policy.plan(epochs)
        assert p == sorted(set(p)) and p[0] == 0 and p[-1] == epochs
        assert len(p) <= policy.BUDGET
        if epochs + 1 <= policy.BUDGET:
            assert p == list(range(epochs + 1))
    assert policy.plan(1000)[:11] == list(range(11))               # the first ten epochs, every one
    gaps = [b - a for a, b in zip(policy.plan(1000), policy.plan(1000)[1:])]
    assert gaps == sorted(gaps) or max(gaps[:20]) < min(gaps[-5:])  # thinner later


def test_thinning_keeps_the_ends_and_finals_and_stays_log_spaced():
    drop = policy.thin(list(range(80)), budget=50, keep={41})
    kept = sorted(set(range(80)) - set(drop))
    assert len(kept) == 50 and kept[0] == 0 and kept[-1] == 79 and 41 in kept
    assert kept[:12] == list(range(12))                             # early epochs stay dense


def test_snapshots_stay_within_budget_when_a_run_is_extended(reg, store):
    run = reg.start(config(epochs=60))
    assert run.join(60) and reg.flush()
    snaps = store.snapshots(run.id)
    assert [s.epoch for s in snaps] == policy.plan(60) and len(snaps) <= policy.BUDGET
    more = reg.resume(run.id, more_epochs=140)
    assert more.join(120) and reg.flush()
    epochs = [s.epoch for s in store.snapshots(run.id)]
    assert len(epochs) <= policy.BUDGET and epochs[0] == 0 and epochs[-1] == 200
    assert epochs[:10] == list(range(10))
    files = sorted(p.name for p in store.run_dir(run.id).glob("epoch-*.safetensors"))
    assert len(files) == len(epochs)                                 # thinned files are deleted too


def test_a_runs_bytes_follow_its_snapshots_as_they_are_written_replaced_and_thinned(store):
    """write_snapshot moves the run's byte count by what it writes and frees, without rescanning the
    folder: after every write it equals the size of the files there."""
    store.create("size0001", "sizes", config().to_dict(), "me")
    folder = store.run_dir("size0001")

    def on_disk() -> int:
        return sum(f.stat().st_size for f in folder.glob("*") if f.is_file())
    for epoch in range(12):
        weights = {"w": torch.zeros(10 + epoch)}               # each file a different size
        assert store.write_snapshot("size0001", epoch, epoch * 5, False, weights, budget=6) is None
        assert store.get("size0001").bytes == on_disk(), f"after epoch {epoch}"
    store.write_snapshot("size0001", 11, 55, True, {"w": torch.zeros(3)}, budget=6)   # the same step again, partial
    assert store.get("size0001").bytes == on_disk()
    assert len(store.snapshots("size0001")) == 6 == len(list(folder.glob("epoch-*")))


def test_frozen_model_is_the_snapshot_not_the_training_model(reg, store):
    run = reg.start(config(epochs=3))
    assert run.join(60) and reg.flush()
    first = frozen_model(store, run.id, epoch=0)
    assert first.epoch == 0 and not first.model.training
    ref = Run(config(epochs=3))
    ref.prepare()                                                    # the initial weights, before any step
    for name, value in ref.model.state_dict().items():
        assert torch.equal(first.model.state_dict()[name], value), name
    last = frozen_model(store, run.id)
    assert last.epoch == 3
    with torch.no_grad():
        last.model[0].weight.add_(1.0)                                # changing a frozen copy changes nothing else
    assert not torch.equal(frozen_model(store, run.id).model[0].weight, last.model[0].weight)
    assert frozen_model(store, run.id, epoch=99).epoch == 3          # the nearest earlier snapshot


# ----------------------------------------------------------------------------- limits
def test_a_run_near_its_disk_limit_keeps_fewer_snapshots_and_says_so(tmp_path):
    store = Store(tmp_path / "s", max_run_mb=0.05)                    # 50 kB: checkpoint ~22 kB, snapshots ~5.5 kB
    reg = Registry(processes=False, store=store)
    run = reg.start(config(epochs=40))
    assert run.join(60) and reg.flush()
    row = store.get(run.id)
    kept = len(store.snapshots(run.id))
    assert 2 <= kept <= 7 and f"keeps {run.snapshot_budget} weight snapshots rather than 50" in row.note
    assert row.bytes <= 0.05e6
    assert row.status == "finished"


def test_a_run_over_its_disk_limit_stops_snapshots_and_says_so(tmp_path):
    store = Store(tmp_path / "s", max_run_mb=0.02)                    # less than the checkpoint takes
    reg = Registry(processes=False, store=store)
    run = reg.start(config(epochs=40))
    assert run.join(60) and reg.flush()
    row = store.get(run.id)
    assert "snapshots stopped at epoch" in row.note and "PLAYGROUND_MAX_RUN_MB" in row.note
    assert row.status == "finished"                                   # training itself went on
    assert store.load_checkpoint(run.id)["position"]["epoch"] == 41  # and it can still be resumed


def test_a_full_store_refuses_new_runs_with_the_fix(tmp_path):
    store = Store(tmp_path / "s", max_total_mb=1)
    reg = Registry(processes=False, store=store)
    run = reg.start(config(epochs=2))
    assert run.join(30) and reg.flush()
    assert store.usage() > 50_000                                     # the database and the run's files
    store.max_total_bytes = 50_000
    with pytest.raises(PlaygroundError, match=r"holds \d+ kB, its limit is 50 kB \(PLAYGROUND_MAX_STORE_MB\): "
                                              r"delete old runs on the Runs page"):
        reg.start(config(epochs=2))
    assert len(store.list()) == 1                                     # nothing half-made


# ----------------------------------------------------------------------------- damaged files
def test_a_damaged_database_is_kept_aside_and_runs_come_back_from_their_folders(tmp_path):
    home = tmp_path / "s"
    store = Store(home)
    reg = Registry(processes=False, store=store)
    run = reg.start(config(epochs=2))
    assert run.join(30) and reg.flush()
    db = home / "playground.db"
    for p in home.glob("playground.db*"):
        p.write_bytes(b"this is not a database" * 100)
    again = Store(home)
    assert len(again.warnings) == 1 and "could not be read" in again.warnings[0]
    assert "1 run(s) were recovered" in again.warnings[0]
    assert any(p.name.startswith("playground.db.damaged-") for p in home.iterdir())   # kept, not deleted
    row = again.get(run.id)
    assert row.status == "interrupted" and row.name == run.name and row.epochs_done == 2
    assert frozen_model(again, run.id).epoch == 2                   # the weights are all there
    assert db.exists()


def test_a_truncated_snapshot_is_a_clear_error_and_the_others_still_load(reg, store):
    run = reg.start(config(epochs=3))
    assert run.join(30) and reg.flush()
    snap = [s for s in store.snapshots(run.id) if s.epoch == 2][0]
    path = store.run_dir(run.id) / snap.file
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(StoreError, match=r"the snapshot of run \w+ at epoch 2: the file .* cannot be read .*damaged"):
        frozen_model(store, run.id, epoch=2)
    assert frozen_model(store, run.id, epoch=1).epoch == 1
    assert frozen_model(store, run.id).epoch == 3
    assert store.metrics(run.id)["epochs"]                           # the curves are untouched


def test_a_damaged_checkpoint_refuses_resume_and_loses_nothing_else(reg, store):
    run = reg.start(config(epochs=2))
    assert run.join(30) and reg.flush()
    (store.run_dir(run.id) / "checkpoint.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")
    with pytest.raises(StoreError, match="the checkpoint of run .* cannot be read"):
        reg.resume(run.id, more_epochs=1)
    assert len(store.metrics(run.id)["epochs"]) == 2 and len(store.snapshots(run.id)) == 3


def test_a_run_whose_process_is_gone_reads_as_interrupted(store):
    store.create("dead0001", "lost run", config().to_dict(), "me")
    store.update("dead0001", status="running", pid=2**22 + 12345, epochs_done=4, ckpt_epoch=4, ckpt_step=40)
    row = store.get("dead0001")
    assert row.status == "interrupted"
    assert row.message.startswith("interrupted at epoch 4: the process training it stopped")
    assert "resume from epoch 3 (its last checkpoint)" in row.message
    assert store.list()[0].status == "interrupted"


def test_this_process_s_live_runs_stay_live_and_a_reused_pid_does_not_fool_it(store, monkeypatch):
    from playground.store import db

    store.create("mine0001", "mine", config().to_dict(), "me")         # recorded by this process
    store.update("mine0001", status="running")
    store.create("prev0001", "before a restart", config().to_dict(), "me")
    store.update("prev0001", status="running", pid=db.PID, pid_started=store._pid_started - 3600.0)
    looked = []
    monkeypatch.setattr(db, "_pid_start", lambda pid: looked.append(pid) or store._pid_started)
    assert store.get("mine0001").status == "running" and looked == []  # its own rows: no /proc read
    assert store.get("prev0001").status == "interrupted"                # the same pid, an earlier process


def test_pages_asking_to_warm_share_one_thread(tmp_path):
    import threading

    from playground.train.executor import ThreadExecutor

    asked, done = [], threading.Event()

    class Counting(ThreadExecutor):
        def warm(self, n, together=False):
            asked.append((n, together, threading.current_thread().name))
            done.set()

    def until(condition, timeout=30.0) -> bool:
        """Waits on what the thread does, not a fixed sleep (0.2 s was too short on a loaded CI machine)."""
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)
        return condition()

    def warmers() -> set:
        return {t for t in threading.enumerate() if t.name == "warm-executor"}   # other tests' registries' too

    reg, before = Registry(store=Store(tmp_path), executor=Counting()), warmers()
    for n in (2, 4, 3):
        reg.warm(n)
    assert done.wait(30) and until(lambda: max(n for n, _, _ in asked) == 4)   # the largest ask is served
    assert len(warmers() - before) == 1                                 # one warming thread, not one per page
    assert {name for _, _, name in asked} == {"warm-executor"} and len(asked) <= 3
    reg.warm(2, together=True)                                          # a race: at once, on its own
    assert until(lambda: asked[-1][2] == "warm-race")
    assert asked[-1][:2] == (2, True)


def test_a_fresh_servers_first_warm_up_waits_for_its_page_and_a_later_ask_ends_the_wait(tmp_path):
    """The first page asks to warm `after` a delay (its browser is still drawing it); another page's ask
    without one, such as the student's next rerun, starts the warm-up at once, with the most asked."""
    from playground.train.executor import ThreadExecutor
    from tests.waits import wait_for

    asked = []

    class Counting(ThreadExecutor):
        def warm(self, n, together=False):
            asked.append((n, time.monotonic()))

    waiting = Registry(store=Store(tmp_path / "a"), executor=Counting())
    t0 = time.monotonic()
    waiting.warm(3, after=60.0)
    time.sleep(0.3)
    assert asked == []                                                  # still waiting for the page
    waiting.warm(2)                                                     # the next rerun: no wait
    wait_for(lambda: asked, 30, "the warm-up the next ask starts")
    assert asked[0][0] == 3 and asked[0][1] - t0 < 30

    asked.clear()
    alone = Registry(store=Store(tmp_path / "b"), executor=Counting())
    t0 = time.monotonic()
    alone.warm(1, after=0.5)                                            # nobody else asks: after the wait
    wait_for(lambda: asked, 30, "the warm-up after its wait")
    assert asked[0][1] - t0 >= 0.5


# ----------------------------------------------------------------------------- metrics, owners, drafts
def test_a_compacted_history_is_stored_as_the_history_holds_it(store, monkeypatch):
    from playground.train import history as history_module

    monkeypatch.setattr(history_module, "MAX_STEP_POINTS", 50)
    run = Run(config(epochs=8))                                        # 80 steps: compacted past 50
    reg = Registry(processes=False, store=store)
    run = reg.start(config(epochs=8))
    assert run.join(30) and reg.flush()
    stored = store.metrics(run.id)
    assert run.history.step_gen >= 1
    assert stored["step_x"] == run.history.step_x and stored["step_loss"] == run.history.step_loss
    assert [tuple(m) for m in stored["marks"]] == run.history.marks


def test_history_delta_gives_what_came_since_and_whole_series_after_compaction(monkeypatch):
    from playground.train import history as history_module

    monkeypatch.setattr(history_module, "MAX_STEP_POINTS", 4)
    h = History()
    cur = h.cursor()
    h.add_steps(1, [1.0, 2.0])
    h.add_epoch({"epoch": 1, "val_acc": 0.5, "val_loss": 1.0})
    cur, d = h.delta(cur)
    assert (d["step_x"], d["step_loss"]) == ([1, 2], [1.0, 2.0]) and not d["replace_steps"] and len(d["epochs"]) == 1
    assert d["fields"]["best_val_acc"] == 0.5 and d["fields"]["epochs_done"] == 1
    h.add_steps(3, [3.0, 4.0, 5.0])                                  # 5 > 4: pairs averaged
    cur, d = h.delta(cur)
    assert d["replace_steps"] and (d["step_x"], d["step_loss"]) == ([2, 4, 5], [1.5, 3.5, 5.0]) and d["epochs"] == []


def test_the_recorder_writes_every_run_s_curves_and_thins_checkpoints_to_the_newest(store):
    """What the server pays per run must not grow with the run's speed: a run's checkpoints reach the
    disk at most every checkpoint_every s (the newest one; older ones are dropped), at once when the
    run ends, and on flush; the curves of every run go in one pass, never behind a stored checkpoint."""
    from types import SimpleNamespace

    from playground.store.recorder import Recorder

    def ckpt(step):
        return {"model": {"w": torch.full((2,), float(step))}, "position": {"epoch": step, "step": step}}

    def stored_step(run):
        c = store.load_checkpoint(run.id)
        return None if c is None else c["position"]["step"]

    runs = [SimpleNamespace(id=f"fake{i}", history=History(), alive=True) for i in range(2)]
    rec = Recorder(store, interval=0.05, checkpoint_every=60.0)
    for r in runs:
        store.create(r.id, r.id, {}, owner="me", status="running")
        r.history.update(status="running")
        rec.track(r, budget=5)
    a, b = runs
    a.history.add_steps(1, [1.0])
    a.history.add_checkpoint(ckpt(1))
    deadline = time.monotonic() + 10
    while stored_step(a) != 1 and time.monotonic() < deadline:    # a run's first checkpoint: written at once
        time.sleep(0.02)
    assert stored_step(a) == 1
    for step in (2, 3):
        a.history.add_steps(step, [float(step)])
        a.history.add_checkpoint(ckpt(step))
    b.history.add_steps(1, [0.5, 0.25])
    time.sleep(0.5)                                                  # ten passes: curves yes, checkpoint not due
    assert stored_step(a) == 1 and store.metrics(a.id)["step_x"] == [1, 2, 3]
    assert store.metrics(b.id)["step_loss"] == [0.5, 0.25]
    assert rec.flush() and stored_step(a) == 3                       # flush: the newest, 2 was never written
    a.history.add_steps(4, [4.0])
    a.history.add_checkpoint(ckpt(4))
    time.sleep(0.3)
    assert stored_step(a) == 3
    a.history.update(status="finished")
    a.alive = False                                                  # the run ends: its last checkpoint goes now
    deadline = time.monotonic() + 10
    while stored_step(a) != 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stored_step(a) == 4 and store.metrics(a.id)["step_x"][-1] == 4
    assert store.get(a.id).status == "finished" and not rec.tracking(a.id) and rec.tracking(b.id)
    rec.close()


def test_a_process_that_exits_without_closing_its_recorder_writes_what_it_held_and_exits_cleanly(tmp_path):
    """A recorder still running when its process exits (a script, a test that never shut its registry
    down) is closed at exit: what it held is written, and its thread has stopped before the interpreter
    finalises (a thread still freeing tensors then aborted the process with exit code 134)."""
    code = ("import torch\nfrom types import SimpleNamespace\n"
            "from playground.store import Store\nfrom playground.store.recorder import Recorder\n"
            "from playground.train.history import History\n"
            f"store = Store({str(tmp_path / 'store')!r})\n"
            "rec = Recorder(store, interval=600.0, checkpoint_every=600.0)\n"
            "run = SimpleNamespace(id='r', history=History(), alive=True)\n"
            "store.create('r', 'r', {}, owner='me', status='running')\nrec.track(run, budget=5)\n"
            "run.history.add_steps(1, [1.0, 0.5])\n"
            "run.history.add_checkpoint({'model': {'w': torch.ones(2)}, 'position': {'epoch': 1, 'step': 2}})\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    store = Store(tmp_path / "store")
    assert store.metrics("r")["step_loss"] == [1.0, 0.5], "the curves the recorder held were not written at exit"
    assert store.load_checkpoint("r")["position"]["step"] == 2, "its checkpoint was not written at exit"


def test_closing_a_recorder_stops_its_thread(store):
    from types import SimpleNamespace

    from playground.store.recorder import Recorder

    rec = Recorder(store, interval=600.0)
    store.create("r", "r", {}, owner="me", status="running")
    rec.track(SimpleNamespace(id="r", history=History(), alive=True), budget=5)
    assert rec._thread.is_alive()
    assert rec.close(timeout=10)
    assert not rec._thread.is_alive(), "close() returned with the recorder's thread still running"


def test_a_recorder_pass_that_fails_to_write_is_written_whole_by_the_next(store, monkeypatch):
    """A write that fails (a locked or full disk) loses nothing: the runs' cursors move only once the
    curves are stored, so the next pass writes what the failed one held."""
    from types import SimpleNamespace

    from playground.store.recorder import Recorder

    real, failures = store.append_metrics, []

    def flaky(writes):
        if not failures and writes["flaky"]["step_x"]:
            failures.append(dict(writes))
            raise sqlite3.OperationalError("database is locked")
        return real(writes)

    monkeypatch.setattr(store, "append_metrics", flaky)
    run = SimpleNamespace(id="flaky", history=History(), alive=True)
    store.create(run.id, run.id, {}, owner="me", status="running")
    rec = Recorder(store, interval=0.05)
    rec.track(run, budget=5)
    run.history.add_steps(1, [1.0, 0.5])
    assert rec.flush()
    run.history.add_steps(3, [0.25])
    assert rec.flush()
    assert failures and failures[0]["flaky"]["step_x"] == [1, 2]      # the first pass did fail
    assert store.metrics(run.id)["step_x"] == [1, 2, 3]
    assert store.metrics(run.id)["step_loss"] == [1.0, 0.5, 0.25]
    rec.close()


def test_a_store_from_before_chunked_steps_is_migrated_and_keeps_its_curves(tmp_path):
    """Schema 1 kept a row per step; schema 2 keeps a chunk per write. Opening an old store converts it."""
    Store(tmp_path).create("old", "old", {}, owner="me", status="finished")
    con = sqlite3.connect(tmp_path / "playground.db")
    con.execute("CREATE TABLE steps (run_id TEXT NOT NULL, step INTEGER NOT NULL, loss REAL)")
    con.executemany("INSERT INTO steps VALUES (?,?,?)", [("old", s, 1.0 / s) for s in (3, 1, 2, 5)])
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    store = Store(tmp_path)
    assert store.metrics("old")["step_x"] == [1, 2, 3, 5]
    assert store.metrics("old")["step_loss"] == [1.0, 0.5, 1.0 / 3, 0.2]
    assert not store.con.execute("SELECT 1 FROM sqlite_master WHERE name = 'steps'").fetchone()
    store.truncate("old", step=2, epoch=99)                          # a resume from step 2 cuts the chunk
    assert store.metrics("old")["step_x"] == [1, 2]


def test_rename_and_delete_belong_to_the_owner(reg, store):
    run = reg.start(config(epochs=1), owner="alice")
    assert run.join(30) and reg.flush()
    with pytest.raises(PlaygroundError, match="only its owner or the teacher can rename it"):
        reg.rename(run.id, "mine now", who="bob")
    reg.rename(run.id, "  spiral, first try ", who="alice")
    assert store.get(run.id).name == "spiral, first try"
    assert json.loads((store.run_dir(run.id) / "run.json").read_text())["name"] == "spiral, first try"
    with pytest.raises(StoreError, match="cannot be empty"):
        reg.rename(run.id, "  ", who="alice")
    with pytest.raises(PlaygroundError, match="only its owner or the teacher can delete it"):
        reg.delete(run.id, who="bob")
    reg.delete(run.id, who=Who("bob", teacher=True))                   # the teacher may
    assert store.get(run.id) is None and not store.run_dir(run.id).exists()
    assert reg.get(run.id) is None


def test_a_training_run_cannot_be_deleted(reg):
    run = reg.start(config(epochs=100_000), owner="alice")
    try:
        with pytest.raises(PlaygroundError, match="is training: stop it before deleting it"):
            reg.delete(run.id, who="alice")
    finally:
        run.stop()
        run.join(10)


def test_find_by_id_prefix_or_name(reg, store):
    run = reg.start(config(epochs=1, name="my spiral"))
    assert run.join(30) and reg.flush()
    assert store.find(run.id[:5]).id == run.id
    assert store.find("my spiral").id == run.id
    with pytest.raises(StoreError, match="no stored run matches 'zzz'"):
        store.find("zzz")


def test_drafts_round_trip_per_owner_and_page(store):
    assert store.load_draft("alice", "build") is None
    store.save_draft("alice", "build", {"lr": 0.1, "layers": [{"type": "Linear"}]})
    store.save_draft("alice", "build", {"lr": 0.3, "layers": []})
    assert store.load_draft("alice", "build") == {"lr": 0.3, "layers": []}
    assert store.load_draft("bob", "build") is None
