"""Runs on a Ray cluster (playground/train/cluster.py), on a local cluster of one head and two
1-CPU worker nodes (tests/ray_cluster.py): placement, queueing, metrics, stop, a node's death and
the resume that follows, a server's restart, and a CUDA run placed on the GPU node."""
from __future__ import annotations

import time

import pytest

from playground.config import RunConfig
from playground.store import Store
from playground.train.registry import Registry
from tests.ray_cluster import LocalCluster
from tests.waits import wait_for

pytestmark = pytest.mark.timeout(600)

MLP = [{"type": "Linear", "out_features": 16}, {"type": "ReLU"}, {"type": "Linear", "out_features": 2}]


def config(**kw) -> RunConfig:
    d = {"layers": MLP, "epochs": 100_000, "batch_size": 16, "data": {"name": "moons", "n_samples": 200}}
    d.update(kw)
    return RunConfig.from_dict(d)


@pytest.fixture(scope="module")
def cluster():
    c = LocalCluster()
    try:
        yield c
    finally:
        c.shutdown()


@pytest.fixture
def reg(cluster, tmp_path):
    from playground.train.cluster import RayExecutor

    r = Registry(store=Store(tmp_path), executor=RayExecutor(cluster.address))
    yield r
    r.stop_all(wait=15)
    r.executor.close(kill=True)


def node_of(run) -> str:
    return run.job.where["node"]


def test_runs_spread_over_nodes_stream_metrics_queue_and_stop(cluster, reg):
    a = reg.start(config(seed=1))
    b = reg.start(config(seed=2))
    wait_for(lambda: a.history.progress["step"] > 20 and b.history.progress["step"] > 20, what="both runs' first steps")
    assert {node_of(a), node_of(b)} == {cluster.cpu_node.node_id, cluster.gpu_node.node_id}   # not the head
    assert a.history.status == b.history.status == "running"
    assert a.where.startswith("node ") and "127.0.0.1" in a.where
    # metrics keep streaming: the curve grows, one point per step, in order
    n = len(a.history.step_x)
    wait_for(lambda: len(a.history.step_x) > n + 50, what="more steps")
    xs = a.history.snapshot()["step_x"]
    assert xs == list(range(1, len(xs) + 1))
    # both CPUs are busy: a third run waits in line, then starts where the first one stopped
    c = reg.start(config(seed=3))
    wait_for(lambda: c.history.status == "queued" and "1 of 1 in line" in c.history.message, 15, "the queued status")
    time.sleep(1.0)
    assert c.history.status == "queued" and c.history.progress["step"] == 0
    t0 = time.monotonic()
    reg.stop(a.id)
    assert a.join(10), "Stop did not end the run"
    stop_s = time.monotonic() - t0
    assert a.history.status == "stopped" and a.history.message.startswith("stopped by the user")
    assert stop_s < 5, stop_s
    wait_for(lambda: c.history.progress["step"] > 0, 60, "the queued run to start")
    assert node_of(c) == node_of(a)
    assert reg.flush()
    assert [e["step"] for e in reg.store.metrics(a.id)["epochs"]][-1] == a.history.epochs[-1]["step"]


def test_a_cuda_run_is_placed_on_the_gpu_node(cluster, reg):
    import torch

    run = reg.start(config(device="cuda", epochs=1))
    assert run.device.type == "cuda"
    assert run.join(90)
    assert node_of(run) == cluster.gpu_node.node_id and run.job.where["gpus"] == ["0"]
    if torch.cuda.is_available():                  # a machine with a GPU trains it there
        assert run.history.status == "finished", run.history.message
    else:                                          # this one advertises a GPU it does not have
        assert run.history.status == "failed" and "cuda" in run.history.message.lower()


def test_a_cuda_run_is_refused_where_no_node_has_a_gpu(cluster, tmp_path):
    from playground.errors import ConfigError
    from playground.train.cluster import RayExecutor

    class NoGPU(RayExecutor):
        def _free(self, total=False):
            return {"CPU": 2.0}
    reg = Registry(store=Store(tmp_path), executor=NoGPU(cluster.address))
    with pytest.raises(ConfigError, match="no node of the Ray cluster .* has a GPU; choose cpu"):
        reg.start(config(device="cuda"))
    assert reg.runs() == []


def test_a_restarted_server_finds_its_runs_and_follows_them(cluster, reg, tmp_path):
    from playground.train.cluster import RayExecutor

    run = reg.start(config(seed=4))
    wait_for(lambda: run.history.progress["step"] > 50, what="first steps")
    reg.executor.close()                            # the server goes; the run trains on
    reg.recorder.close()
    before = len(reg.store.metrics(run.id)["step_x"])
    time.sleep(1.0)                                 # steps no server hears of
    again = Registry(store=reg.store, executor=RayExecutor(cluster.address))
    try:
        back = again.reattach()
        assert [h.id for h in back] == [run.id]
        h = back[0]
        assert h.alive and h.history.status == "running" and node_of(h) == node_of(run)
        wait_for(lambda: h.history.progress["step"] > run.history.progress["step"] + 50, what="steps after reattaching")
        again.stop(h.id)
        assert h.join(10) and h.history.status == "stopped"
        assert again.flush()
        xs = again.store.metrics(run.id)["step_x"]
        assert len(xs) > before and xs == list(range(1, len(xs) + 1))   # no gap where no server listened
        assert again.get(run.id).history.status == "stopped"
    finally:
        again.stop_all(wait=15)
        again.executor.close(kill=True)


def test_stop_takes_effect_within_one_step_and_a_stuck_run_is_ended_after_the_grace(cluster, reg):
    """Stop: the loop takes at most one more step once the flag is up. A run that does not answer
    (its process frozen here, as by a hung node) does not hold up the others' metrics, and a Stop
    ends it after the grace period: its process is killed, its curves are kept."""
    import os
    import signal

    import psutil
    import ray

    a = reg.start(config(seed=6))
    b = reg.start(config(seed=7))
    wait_for(lambda: a.history.progress["step"] > 20 and b.history.progress["step"] > 20, what="both runs' first steps")
    at = ray.get(a.job.target.stop.remote(), timeout=10)         # the steps taken when the flag went up
    assert a.join(10) and a.history.status == "stopped", a.history.message
    last = a.history.epochs[-1]["step"]
    assert at <= last <= at + 1, (at, last)
    c = reg.start(config(seed=8))                                  # on the CPU a's end freed
    wait_for(lambda: c.history.progress["step"] > 0, 60, "the third run's steps")
    pid = b.job.where["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(0.5)
        shown = c.history.progress["step"]
        wait_for(lambda: c.history.progress["step"] > shown + 20, 5, "the other run's steps while one is frozen")
        reg.executor.stop_grace_s = 2.0
        steps_b = len(b.history.step_x)
        t0 = time.monotonic()
        reg.stop(b.id)
        assert b.join(10), "a frozen run was not ended after the grace period"
        ended_s = time.monotonic() - t0
        assert 2.0 <= ended_s < 5.0, ended_s
        assert b.history.status == "stopped" and "did not stop within 2 s" in b.history.message, b.history.message
        assert len(b.history.step_x) == steps_b                    # the curve so far is kept
        wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, 30,
                 "the frozen run's process to be killed")
        print(f"stop flag at step {at}, last step {last}; a frozen run ended {ended_s:.2f} s after Stop, "
              f"its process gone {time.monotonic() - t0:.2f} s after")
        assert c.alive and c.history.status == "running"
    finally:
        if psutil.pid_exists(pid):                                 # never leave a frozen process behind
            os.kill(pid, signal.SIGKILL)


def test_a_node_that_dies_loses_its_run_which_resumes_on_the_other(cluster, reg):
    """Last in this module: it takes a node away (and puts a fresh one back)."""
    run = reg.start(config(seed=5))
    wait_for(lambda: run.history.progress["step"] > 0, what="first steps")
    wait_for(lambda: reg.flush(5) and reg.store.load_checkpoint(run.id) is not None, 30, "a checkpoint")
    node = cluster.cpu_node if node_of(run) == cluster.cpu_node.node_id else cluster.gpu_node
    step_then = run.history.progress["step"]
    t0 = time.monotonic()
    cluster.cluster.remove_node(node, allow_graceful=False)
    wait_for(lambda: run.history.status == "lost", 5, "the run reported lost")
    lost_s = time.monotonic() - t0
    assert run.history.message.startswith(f"lost on node {node.node_id[:8]} (127.0.0.1)"), run.history.message
    assert not run.alive and run.history.step_x[-1] >= step_then          # the curve so far is kept
    assert reg.flush()
    ckpt_step = reg.store.load_checkpoint(run.id)["position"]["step"]
    t1 = time.monotonic()
    again = reg.resume(run.id)
    wait_for(lambda: again.history.progress["step"] > ckpt_step, 60, "the resumed run's steps")
    resume_s = time.monotonic() - t1
    assert node_of(again) != node.node_id
    # it continues: one curve from step 1 on past the checkpoint, with no restart and no gap (past MAX_STEP_POINTS
    # points the curve keeps every other step: on the fast path this run makes ~15,000 steps before the loss)
    xs = again.history.snapshot()["step_x"]
    assert xs[0] <= 2 and xs[-1] > ckpt_step and all(0 < b - a <= 2 for a, b in zip(xs, xs[1:]))
    if xs[:2] == [1, 2]:                                                   # not thinned: every step, in order
        assert xs[:ckpt_step] == list(range(1, ckpt_step + 1)) and xs[ckpt_step] == ckpt_step + 1
    print(f"lost after {lost_s:.2f} s, training again {resume_s:.2f} s after resume")
    reg.stop(again.id)
    assert again.join(10)
    if node is cluster.cpu_node:
        cluster.cpu_node = cluster.add_node(num_cpus=1)
    else:
        cluster.gpu_node = cluster.add_node(num_cpus=1, num_gpus=1)


def test_a_cluster_that_does_not_answer_is_named_with_the_fix_at_once(tmp_path):
    """Nothing listens at the address: the Start is refused at once, with the fix (no Ray connection is tried)."""
    from playground.errors import PlaygroundError
    from playground.train.cluster import RayExecutor

    t0 = time.monotonic()
    with pytest.raises(PlaygroundError, match=r"^nothing answers at 127\.0\.0\.1:1, the Ray cluster named by "
                                              r"PLAYGROUND_RAY_ADDRESS .*start it \(scripts/cluster\.sh head\), or "
                                              r"unset PLAYGROUND_RAY_ADDRESS"):
        Registry(store=Store(tmp_path), executor=RayExecutor("127.0.0.1:1")).start(config())
    assert time.monotonic() - t0 < 10


# ----------------------------------------------------------------------------- exact resume after a node's loss
DROPOUT_MLP = [{"type": "Linear", "out_features": 16}, {"type": "ReLU"}, {"type": "Dropout", "p": 0.2},
               {"type": "Linear", "out_features": 2}]


def records(epochs: list[dict]) -> list[dict]:
    """Epoch records without the wall-clock time, which legitimately differs."""
    return [{k: v for k, v in e.items() if k != "time_s"} for e in epochs]


def first_difference(a: list, b: list) -> str:
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
    return f"first at index {i}: {a[i]} != {b[i]}" if i is not None else f"lengths {len(a)} != {len(b)}"


def take_node_away(cluster, node_id: str):
    """Kill the worker node `node_id` (no grace: as a machine that loses power) and put a fresh one
    with the same resources back, so that the cluster keeps its shape for what follows."""
    if node_id == cluster.cpu_node.node_id:
        cluster.cluster.remove_node(cluster.cpu_node, allow_graceful=False)
        cluster.cpu_node = cluster.add_node(num_cpus=1)
    else:
        assert node_id == cluster.gpu_node.node_id, f"the run trains on {node_id}, not on a worker node"
        cluster.cluster.remove_node(cluster.gpu_node, allow_graceful=False)
        cluster.gpu_node = cluster.add_node(num_cpus=1, num_gpus=1)


def test_a_run_lost_with_its_node_resumes_to_exactly_the_numbers_of_a_run_that_never_stopped(cluster, reg):
    """The README: a lost run's **Resume** continues it from its last checkpoint on another machine.
    Continuing is not enough: the resumed run must end where the same config trained in one go ends:
    every step's loss, every epoch's losses and accuracies (==, to the last digit), and the final
    weights (torch.equal). Dropout makes the dropout generator's state part of what must come back.
    2,000 epochs of 10 steps train for ~7-25 s here, well past the first checkpoint (~2 s in; with 800
    epochs a quiet machine once finished the run, in 3.0 s, before its node could be taken away); the
    run that never stops trains meanwhile in a thread of this process."""
    import torch

    from playground.train.frozen import frozen_model
    from tests.unit.run_helper import Run

    cfg = config(layers=DROPOUT_MLP, epochs=2000, seed=12, optim={"name": "adam", "lr": 0.01}, threads=1)
    steps = cfg.epochs * 10
    run = reg.start(cfg)
    ref = Run(cfg)
    ref.start()
    wait_for(lambda: run.history.progress["step"] > 0, 60, "first steps")
    wait_for(lambda: reg.flush(5) and reg.store.load_checkpoint(run.id) is not None, 60, "a checkpoint")
    node = node_of(run)
    at = run.history.progress["step"]
    take_node_away(cluster, node)
    wait_for(lambda: run.history.status != "running", 10, "the run to see its node go")
    assert run.history.status == "lost", (run.history.status, run.history.message)
    assert reg.flush()
    ckpt_step = reg.store.load_checkpoint(run.id)["position"]["step"]
    assert 0 < ckpt_step < steps, f"the checkpoint at step {ckpt_step} is not mid-run ({steps} steps)"
    print(f"node taken away at step ~{at} of {steps}, checkpoint at step {ckpt_step}")

    again = reg.resume(run.id)
    assert again.join(120), "the resumed run did not end"
    assert again.history.status == "finished", (again.history.status, again.history.message)
    assert node_of(again) != node, "the resumed run trained on the node that was taken away"
    assert reg.flush()

    assert ref.join(120) and ref.history.status == "finished", ref.history.message
    stored = reg.store.metrics(run.id)
    assert stored["step_x"] == ref.history.step_x, f"the steps are not 1..{steps}: " \
                                                   f"{first_difference(stored['step_x'], ref.history.step_x)}"
    assert stored["step_loss"] == ref.history.step_loss, \
        f"step losses differ from a run that never stopped, " \
        f"{first_difference(stored['step_loss'], ref.history.step_loss)} (the checkpoint: step {ckpt_step})"
    assert records(stored["epochs"]) == records(ref.history.epochs), \
        "epoch records (losses, accuracies) differ from a run that never stopped"
    final = frozen_model(reg.store, run.id)
    for name, value in ref.model.state_dict().items():
        assert torch.equal(final.model.state_dict()[name], value), f"final weights differ: {name}"
