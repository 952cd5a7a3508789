"""playground/train: the Run (determinism, optimizers, divergence, stop, failures), History, Registry."""
import math
import os
import re
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest
import torch
from torch import nn

from playground.config import OPTIMIZERS, OptimConfig, RunConfig
from playground.errors import ConfigError, DeviceError, PlaygroundError, ShapeError
from playground.store import Store
from playground.train import Registry, check
from playground.train import history as history_module
from playground.train.history import MAX_STEP_POINTS, History
from playground.train.optim import LABELS, RULES, make_optimizer
from playground.train.trainer import BLOWUP, GRID
from tests.unit.run_helper import Run

MLP = [{"type": "Linear", "out_features": 16}, {"type": "ReLU"},
       {"type": "Linear", "out_features": 16}, {"type": "ReLU"}, {"type": "Linear", "out_features": 2}]
LOGREG = [{"type": "Linear", "out_features": 2}]


def make_config(**over) -> RunConfig:
    """A small, fast CPU run: spiral with 200 points (160 train), batch 16, 3 epochs."""
    d = {"data": {"name": "spiral", "n_samples": 200}, "layers": MLP, "optim": {"name": "adam", "lr": 0.01},
         "batch_size": 16, "epochs": 3, "seed": 0, "device": "cpu", "threads": 1}
    for key, value in over.items():
        d[key] = {**d[key], **value} if isinstance(value, dict) and isinstance(d.get(key), dict) else value
    return RunConfig.from_dict(d)


def epoch_metrics(run: Run) -> list[dict]:
    """Epoch records without the wall-clock time, which legitimately differs between runs."""
    return [{k: v for k, v in e.items() if k != "time_s"} for e in run.history.epochs]


def wait_for(predicate, timeout=10.0):
    end = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


# ----------------------------------------------------------------------------- determinism
DROPOUT_MLP = [{"type": "Linear", "out_features": 16}, {"type": "ReLU"}, {"type": "Dropout", "p": 0.3},
               {"type": "Linear", "out_features": 2}]


@pytest.mark.parametrize("layers", [MLP, DROPOUT_MLP], ids=["mlp", "dropout"])
def test_same_config_gives_exactly_the_same_run(layers):
    cfg = make_config(layers=layers)
    torch.manual_seed(1)                 # the global RNG must play no part
    a = Run(cfg)
    result_a = a.run()
    torch.manual_seed(2)
    b = Run(make_config(layers=layers))
    result_b = b.run()
    assert result_a["status"] == result_b["status"] == "finished"
    assert len(a.history.step_loss) == 30                        # 3 epochs x ceil(160 / 16) steps
    assert a.history.step_loss == b.history.step_loss            # exactly, not approximately
    assert a.history.step_x == b.history.step_x == list(range(1, 31))
    assert epoch_metrics(a) == epoch_metrics(b)
    for (name, p), q in zip(a.weights().items(), b.weights().values()):
        assert torch.equal(p, q), name


def test_determinism_holds_while_another_run_trains():
    alone = Run(make_config(layers=DROPOUT_MLP))
    alone.run()
    other = Run(make_config(layers=DROPOUT_MLP, seed=5, epochs=5000))
    other.prepare()
    other.start()
    try:
        beside = Run(make_config(layers=DROPOUT_MLP))
        beside.run()
        assert other.alive, "the other run should still be training (make it longer)"
    finally:
        other.stop()
        other.join(10)
    assert beside.history.step_loss == alone.history.step_loss
    assert epoch_metrics(beside) == epoch_metrics(alone)


@pytest.mark.parametrize("ending", ["finished", "early", "diverged"])
def test_full_batch_epochs_publish_every_step_however_the_run_ends(ending):
    """Epochs of one step publish when the steps' own publish is due, not at every end (trainer._end_epoch);
    still, every step's loss is in the history when the run ends: at its last epoch, where early stopping
    ends it, or where it diverges (at the step that blew up, and no epoch recorded after it)."""
    over = {"finished": {}, "early": {"patience": 3, "optim": {"name": "sgd", "lr": 5.0}},
            "diverged": {"optim": {"name": "sgd", "lr": 300.0}, "init": "normal"}}[ending]
    run = Run(make_config(batch_size=200, epochs=400, **over), publish_every=30, snapshot_budget=2)   # all deferred
    run.run()
    snap = run.history.snapshot()
    steps = snap["progress"]["step"]
    assert snap["step_x"] == list(range(1, len(snap["step_x"]) + 1))            # no step missing
    if ending == "diverged":
        assert snap["status"] == "diverged" and len(snap["step_x"]) == snap["diverged_at"] - 1
        assert len(snap["epochs"]) <= snap["diverged_at"] - 1
    else:
        assert len(snap["step_x"]) == steps == len(snap["epochs"])
        assert (snap["status"], "stopped early" in snap["message"]) == ("finished", ending == "early")


def test_different_seed_gives_a_different_run():
    a, b = Run(make_config(seed=0)), Run(make_config(seed=1))
    a.run()
    b.run()
    assert a.history.step_loss != b.history.step_loss
    assert epoch_metrics(a) != epoch_metrics(b)


# ----------------------------------------------------------------------------- the record
def test_epoch_records_and_result_are_consistent():
    run = Run(make_config())
    result = run.run()
    epochs = run.history.epochs
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    assert [e["step"] for e in epochs] == [10, 20, 30]
    assert [e["samples"] for e in epochs] == [160, 320, 480]
    for i, e in enumerate(epochs):
        # train_loss is the mean of the epoch's step losses
        torch.testing.assert_close(e["train_loss"], sum(run.history.step_loss[10 * i:10 * i + 10]) / 10,
                                   rtol=1e-6, atol=0)
        assert 0 <= e["train_acc"] <= 1 and 0 <= e["val_acc"] <= 1
        assert e["lr"] == 0.01
    ev = run.evaluate(run.data.X_val, run.data.y_val)
    assert (epochs[-1]["val_loss"], epochs[-1]["val_acc"]) == (ev["loss"], ev["acc"])
    assert result["status"] == "finished" and result["message"].startswith("finished 3 epochs in")
    assert (result["epochs"], result["steps"], result["diverged_at"]) == (3, 30, None)
    assert (result["train_loss"], result["val_loss"], result["val_accuracy"]) == \
        (epochs[-1]["train_loss"], epochs[-1]["val_loss"], epochs[-1]["val_acc"])
    assert result["samples_per_s"] > 0
    p = run.history.progress
    assert (p["epoch"], p["epochs"], p["step"], p["steps"], p["samples"]) == (3, 3, 30, 30, 480)


def test_training_lowers_the_loss_on_spiral():
    run = Run(make_config(epochs=10, optim={"lr": 0.03}))
    run.run()
    first, last = run.history.epochs[0], run.history.epochs[-1]
    assert last["train_loss"] < first["train_loss"] - 0.1
    assert last["val_acc"] > 0.7


def test_last_partial_batch_is_used():
    run = Run(make_config(batch_size=50, epochs=1))          # 160 = 3 x 50 + 10
    run.run()
    assert run.history.step_x == [1, 2, 3, 4]
    assert run.history.epochs[0]["samples"] == 160


def test_weights_are_a_cpu_copy_of_the_last_epoch():
    run = Run(make_config(epochs=1))
    assert run.weights() is None
    run.run()
    kept = run.weights()
    for name, value in run.model.state_dict().items():
        assert torch.equal(kept[name], value) and kept[name].device.type == "cpu"
    with torch.no_grad():
        run.model[0].weight.add_(1.0)
    assert not torch.equal(kept["0.weight"], run.model[0].weight)      # a copy, not the live tensor


def test_evaluate_with_zero_weights_gives_log_2_and_the_class_0_share():
    run = Run(make_config(layers=LOGREG))
    run.prepare()
    with torch.no_grad():
        run.model[0].weight.zero_()
        run.model[0].bias.zero_()
    ev = run.evaluate(run.data.X_val, run.data.y_val)
    loss, acc = ev["loss"], ev["acc"]
    torch.testing.assert_close(loss, math.log(2), rtol=0, atol=1e-6)
    # equal logits: argmax picks class 0
    assert acc == (run.data.y_val == 0).sum().item() / len(run.data.y_val)
    assert run.model.training                                    # evaluate restores the mode


def test_decision_grid_rows_follow_y_and_columns_follow_x():
    run = Run(make_config(layers=LOGREG))
    run.prepare()
    with torch.no_grad():                                        # logit1 - logit0 = x: P(class 1) = sigmoid(x)
        run.model[0].weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 0.0]]))
        run.model[0].bias.zero_()
    grid = run.decision_grid()
    xs, ys, p = torch.tensor(grid["xs"]), torch.tensor(grid["ys"]), torch.tensor(grid["p"])
    assert xs.shape == ys.shape == (GRID,) and p.shape == (GRID, GRID)
    torch.testing.assert_close(p, torch.sigmoid(xs).expand(GRID, GRID), rtol=0, atol=1e-6)
    X = torch.cat([run.data.X_train, run.data.X_val])
    assert xs[0] < X[:, 0].min() and xs[-1] > X[:, 0].max()
    assert ys[0] < X[:, 1].min() and ys[-1] > X[:, 1].max()


def test_points_runs_publish_a_decision_boundary():
    run = Run(make_config(epochs=1))
    run.run()
    b = run.history.boundary
    assert b is not None and len(b["p"]) == GRID and all(0 <= v <= 1 for row in b["p"] for v in row)


# ----------------------------------------------------------------------------- optimizers
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_changes_the_weights_and_lowers_the_loss(name):
    cfg = make_config(data={"name": "gaussians"}, layers=LOGREG, optim={"name": name, "lr": 0.05}, epochs=2)
    run = Run(cfg)
    run.prepare()
    before = {k: v.clone() for k, v in run.model.state_dict().items()}
    loss_before = run.evaluate(run.data.X_train, run.data.y_train)["loss"]
    assert run.run()["status"] == "finished"
    loss_after = run.evaluate(run.data.X_train, run.data.y_train)["loss"]
    for k, v in run.model.state_dict().items():
        assert not torch.equal(v, before[k]), k
    assert loss_after < 0.9 * loss_before


def _hand_set_linear():
    lin = nn.Linear(2, 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, -1.0]]))
        lin.bias.copy_(torch.tensor([0.5]))
    return lin


def _linear_steps(opt, lin, n=2):
    """n steps of loss = lin([1, 2]): a constant gradient, dw = [1, 2], db = 1."""
    x = torch.tensor([[1.0, 2.0]])
    for _ in range(n):
        opt.zero_grad()
        lin(x).sum().backward()
        opt.step()


# Two steps with the constant gradient g = ([1, 2], 1) from w = [1, -1], b = 0.5, lr 0.1.
@pytest.mark.parametrize("name, extra, w, b", [
    ("sgd", {}, [0.8, -1.4], 0.3),                               # w -= 2 lr g
    ("momentum", {}, [0.71, -1.58], 0.21),                       # v = g, then 1.9 g: w -= 2.9 lr g
    ("nesterov", {}, [0.539, -1.922], 0.039),                    # steps 1.9 g and 2.71 g: 4.61 lr g
    ("adam", {}, [0.8, -1.2], 0.3),                              # bias-corrected: lr * sign(g) per step
    ("adagrad", {}, [1 - 0.1 - 0.1 / math.sqrt(2), -1 - 0.1 - 0.1 / math.sqrt(2)],
     0.5 - 0.1 - 0.1 / math.sqrt(2)),                            # lr g / sqrt(k g^2)
    ("rmsprop", {}, [1 - 1 - 0.1 / math.sqrt(0.0199), -1 - 1 - 0.1 / math.sqrt(0.0199)],
     0.5 - 1 - 0.1 / math.sqrt(0.0199)),                         # s = 0.01 g^2, then 0.0199 g^2 (alpha 0.99)
    ("adamw", {"weight_decay": 0.1}, [(0.99 - 0.1) * 0.99 - 0.1, (-0.99 - 0.1) * 0.99 - 0.1],
     (0.5 * 0.99 - 0.1) * 0.99 - 0.1),                           # w *= 1 - lr wd, then lr * sign(g)
    ("sgd", {"weight_decay": 0.1}, [1 - 0.11 - 0.1 * (1 + 0.1 * 0.89), -1 - 0.19 - 0.1 * (2 - 0.1 * 1.19)],
     0.5 - 0.105 - 0.1 * (1 + 0.1 * 0.395)),                     # coupled L2: g + wd w
])
def test_optimizer_update_rules_on_a_hand_set_linear(name, extra, w, b):
    lin = _hand_set_linear()
    _linear_steps(make_optimizer(OptimConfig(name=name, lr=0.1, **extra), lin.parameters()), lin)
    torch.testing.assert_close(lin.weight, torch.tensor([w]), rtol=0, atol=1e-5)
    torch.testing.assert_close(lin.bias, torch.tensor([b]), rtol=0, atol=1e-5)


HYPER = dict(lr=0.05, momentum=0.7, weight_decay=0.01, beta1=0.8, beta2=0.95, eps=1e-4, alpha=0.9)


def _reference(name, params):
    o, h = torch.optim, HYPER
    return {
        "sgd": lambda: o.SGD(params, lr=h["lr"], weight_decay=h["weight_decay"]),
        "momentum": lambda: o.SGD(params, lr=h["lr"], momentum=h["momentum"], weight_decay=h["weight_decay"]),
        "nesterov": lambda: o.SGD(params, lr=h["lr"], momentum=h["momentum"], nesterov=True,
                                  weight_decay=h["weight_decay"]),
        "adagrad": lambda: o.Adagrad(params, lr=h["lr"], eps=h["eps"], weight_decay=h["weight_decay"]),
        "rmsprop": lambda: o.RMSprop(params, lr=h["lr"], alpha=h["alpha"], eps=h["eps"],
                                     weight_decay=h["weight_decay"]),
        "adam": lambda: o.Adam(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                               weight_decay=h["weight_decay"]),
        "adamw": lambda: o.AdamW(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=h["eps"],
                                 weight_decay=h["weight_decay"]),
    }[name]()


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_make_optimizer_matches_torch_optim_with_the_same_hyperparameters(name):
    ours, theirs = _hand_set_linear(), _hand_set_linear()
    opt_ours = make_optimizer(OptimConfig(name=name, **HYPER), ours.parameters())
    opt_theirs = _reference(name, theirs.parameters())
    x = torch.tensor([[1.0, 2.0], [-0.5, 0.3], [2.0, -1.0]])
    target = torch.tensor([[0.5], [-1.0], [2.0]])
    for _ in range(4):                              # a quadratic loss: the gradient changes each step
        for model, opt in ((ours, opt_ours), (theirs, opt_theirs)):
            opt.zero_grad()
            ((model(x) - target) ** 2).mean().backward()
            opt.step()
    torch.testing.assert_close(ours.weight, theirs.weight, rtol=0, atol=0)
    torch.testing.assert_close(ours.bias, theirs.bias, rtol=0, atol=0)
    assert not torch.equal(ours.weight, _hand_set_linear().weight)


def test_optimizer_labels_and_rules_cover_every_optimizer():
    assert set(LABELS) == set(RULES) == set(OPTIMIZERS)


def test_make_optimizer_refuses_an_unknown_name():
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        make_optimizer(OptimConfig(name="lbfgs"), _hand_set_linear().parameters())


# ----------------------------------------------------------------------------- divergence
@pytest.mark.parametrize("init, hint", [("default", False), ("normal", True)])
def test_huge_learning_rate_diverges_and_says_so(init, hint):
    run = Run(make_config(optim={"name": "sgd", "lr": 1000}, init=init, epochs=5))
    result = run.run()
    snap = run.history.snapshot()
    assert result["status"] == snap["status"] == "diverged"
    at = snap["diverged_at"]
    assert isinstance(at, int) and 1 < at <= 50
    assert result["diverged_at"] == at
    msg = snap["message"]
    assert msg.startswith("Diverged: the training loss reached")
    assert f"at step {at} (epoch 1)" in msg
    assert "The learning rate 1000 is above the usual range for SGD (0.01 to 1): try 1." in msg
    assert ("N(0, 1) initial weights are far too large" in msg) == hint
    # the curve keeps the losses before the blow-up, and no bad value
    assert snap["step_x"] == list(range(1, at))
    assert all(v <= BLOWUP * max(snap["step_loss"][0], 1) for v in snap["step_loss"])
    assert len(snap["epochs"]) < 5


# ----------------------------------------------------------------------------- stop, failures
def test_stop_ends_a_long_run_quickly():
    run = Run(make_config(epochs=100_000), publish_every=0.01)
    run.prepare()
    run.start()
    try:
        wait_for(lambda: run.history.progress["step"] > 0)
        assert run.alive
        run.stop()
        asked_at = run.trainer.steps                # read after the flag is set: at most the step in flight follows
        assert run.join(30)                         # a hang fails; how fast is the step count below, not a clock
        assert run.trainer.steps <= asked_at + 1
    finally:
        run.stop()
        run.join(10)
    snap = run.history.snapshot()
    assert snap["status"] == "stopped" and not run.alive
    # a stop that lands just as an epoch ends says so ("after epoch 1"): both are right
    assert re.match(r"stopped by the user (in|after) epoch \d+ \(step \d+\)$", snap["message"]), snap["message"]
    assert 1 <= len(snap["epochs"]) < 100_000
    assert run.result()["status"] == "stopped"


def test_impossible_config_raises_shape_error_from_prepare():
    run = Run(make_config(layers=[{"type": "Conv2d"}, {"type": "Flatten"}, {"type": "Linear", "out_features": 2}]))
    with pytest.raises(ShapeError, match=r"^layer 1 \(Conv2d\).*the data are 2-D points"):
        run.prepare()
    assert run.model is None
    with pytest.raises(ShapeError):
        check(run.config)


def test_a_failure_in_the_thread_leaves_status_failed_with_the_message():
    run = Run(make_config(layers=[{"type": "Linear", "out_features": 3}]))
    run.start()                                    # not prepared: the thread prepares and fails
    assert run.join(30)
    snap = run.history.snapshot()
    assert snap["status"] == "failed"
    assert "the data set has 2 classes" in snap["message"]


def test_an_internal_error_in_the_thread_is_reported_not_lost():
    run = Run(make_config(epochs=1))
    run.prepare()

    def boom(*args):
        raise RuntimeError("boom")
    run.evaluate = boom
    run.start()
    assert run.join(30)
    snap = run.history.snapshot()
    assert snap["status"] == "failed"
    assert snap["message"].startswith("internal error (RuntimeError: boom)")


def test_mixed_precision_on_cpu_is_refused():
    with pytest.raises(ConfigError, match="amp: mixed precision runs on CUDA only"):
        Run(make_config(amp=True)).prepare()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_missing_device_is_refused():
    with pytest.raises(DeviceError, match="device 'cuda' is not available on this machine"):
        Run(make_config(device="cuda")).prepare()


def test_check_returns_the_data_and_rows():
    checked = check(make_config())
    data, rows = checked.data, checked.rows
    assert data.input_shape == (2,) and data.num_classes == 2
    assert [r.out_shape for r in rows] == [(16,), (16,), (16,), (16,), (2,)]
    assert sum(r.params for r in rows) == 354


def test_run_name_defaults_to_data_optimizer_and_lr():
    assert Run(make_config()).name == "spiral · adam · lr 0.01"
    assert Run(make_config(name="mine")).name == "mine"


# ----------------------------------------------------------------------------- registry
def ids(runs):
    return [r.id for r in runs]


def test_registry_refuses_more_than_max_active_runs(tmp_path):
    reg = Registry(max_active=1, processes=False, store=Store(tmp_path))
    first = reg.start(make_config(epochs=100_000))
    try:
        with pytest.raises(PlaygroundError) as e:
            reg.start(make_config(epochs=1))
        assert str(e.value) == ("1 runs are already training (the limit is 1); "
                                "stop one before starting another")
        assert ids(reg.runs()) == [first.id]
        wait_for(lambda: first.history.status == "running")
        assert reg.row(first.id).status == "running" and reg.row("nope") is None     # the live status, as of now
        reg.stop(first.id)
        assert first.join(5)
        assert reg.flush() and reg.row(first.id).status == "stopped"
        second = reg.start(make_config(epochs=1))       # room again once the first has stopped
        assert second.join(30)
        assert second.history.status == "finished"
        assert ids(reg.runs()) == [second.id, first.id]  # newest first
        assert reg.get(first.id) is first and reg.get("nope") is None and reg.get(None) is None
    finally:
        reg.stop_all()
    assert first.history.status == "stopped"


def test_registry_checks_the_config_before_starting_anything(tmp_path):
    reg = Registry(max_active=1, processes=False, store=Store(tmp_path))
    with pytest.raises(ShapeError):
        reg.start(make_config(layers=[{"type": "Conv2d"}]))
    assert reg.runs() == []


def test_registry_keeps_few_ended_runs_in_memory_and_finds_the_rest_in_the_store(tmp_path):
    reg = Registry(max_active=2, keep=1, processes=False, store=Store(tmp_path))
    a = reg.start(make_config(epochs=2))
    assert a.join(30) and reg.flush()
    b = reg.start(make_config(epochs=2))
    assert b.join(30) and reg.flush()
    reg.start(make_config(epochs=1)).join(30)                  # a start trims what is kept in memory
    assert reg.flush()
    back = reg.get(a.id)
    assert back is not a and not back.alive                    # read back from the store
    assert back.history.status == "finished" and epoch_metrics(back) == epoch_metrics(a)
    assert back.history.step_loss == a.history.step_loss
    assert ids(reg.runs())[1:] == [b.id, a.id]


def test_registry_stop_all_stops_every_run(tmp_path):
    reg = Registry(max_active=2, processes=False, store=Store(tmp_path))
    runs = [reg.start(make_config(epochs=100_000, seed=s)) for s in (0, 1)]
    reg.stop_all(wait=10)
    assert [r.alive for r in runs] == [False, False]
    assert [r.history.status for r in runs] == ["stopped", "stopped"]


def test_process_registry_trains_the_same_numbers_in_a_worker_process(tmp_path):
    """The app's path: runs train in a spawned worker process and stream their history back."""
    reg = Registry(max_active=1, store=Store(tmp_path))    # processes=True, as the app uses it
    try:
        long = reg.start(make_config(epochs=100_000))
        wait_for(lambda: long.history.progress["step"] > 0, timeout=60)    # the worker spawns first
        with pytest.raises(PlaygroundError, match=r"the limit is 1"):
            reg.start(make_config(epochs=1))
        reg.stop(long.id)
        assert long.join(10) and not long.alive
        assert long.history.status == "stopped"
        short = reg.start(make_config(layers=DROPOUT_MLP))  # reuses the warm worker
        assert short.join(60)
        local = Run(make_config(layers=DROPOUT_MLP))
        local.run()
        assert short.history.status == "finished"
        assert short.history.step_loss == local.history.step_loss
        assert epoch_metrics(short) == epoch_metrics(local)
        for (name, p), q in zip(short.weights().items(), local.weights().values()):
            assert torch.equal(p, q), name
    finally:
        reg.stop_all()
        reg.executor.close()


def test_a_worker_pool_keeps_the_servers_sockets_out_of_child_processes():
    """Streamlit's listening socket is inheritable; torch's shared-memory manager, started by
    fork+exec, then held the server's port after a crash and the restarted server could not bind."""
    from playground.train.worker import WorkerPool
    listener = socket.create_server(("127.0.0.1", 0))
    listener.set_inheritable(True)
    try:
        WorkerPool(1).close()
        assert not listener.get_inheritable()
    finally:
        listener.close()


def test_a_fork_server_still_importing_ends_with_its_dead_parent_and_forks_nobody():
    """A parent (the server) that dies hard does not leave a worker behind, even while its fork server is
    still importing torch: it would otherwise fork the worker asked for meanwhile, for nobody."""
    from playground.train.worker import StopFlag

    code = ("import os\nfrom playground.train.worker import WorkerPool\n"
            "pool = WorkerPool(1)\nw = pool.acquire()\n"
            "print(pool._forks.proc.pid, w.stop_event.path, flush=True)\nos._exit(0)")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    pid, flag = parent.stdout.readline().split()
    forks = psutil.Process(int(pid))
    parent.wait()
    try:
        end = time.monotonic() + 30
        while forks.is_running() and forks.status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < end, "the orphaned fork server is still running"
            time.sleep(0.1)
        # The worker was never forked, or never said it was warm (the flag's warm byte): the fork server
        # ended while importing, or found its parent gone before it read the request. Timing-free.
        assert not StopFlag(flag).warm
    finally:
        os.unlink(flag)


def test_closing_a_pool_while_its_fork_server_imports_waits_for_nothing_and_starts_nothing():
    """A server stopped seconds after it started (its fork server still importing torch) ends it at once:
    the stop waited ~3 s for the import, which then forked the worker asked for, for nobody."""
    from playground.train.worker import WorkerPool

    pool = WorkerPool(1)
    w = pool.acquire()                                   # asked for; the fork server has just started
    forks = pool._forks
    pool.close()
    assert forks.proc.poll() is not None, "close() returned with the fork server still running"
    assert w.proc.pid is None and not w.alive(), "a worker was forked after close()"


def test_a_fork_server_reports_how_its_workers_end_and_a_new_one_replaces_it_when_it_dies():
    """A worker killed mid-run is reported with its signal; a fork server that was killed is replaced at
    the next worker, and the workers it forked go on (each talks to the server on its own socket), their
    end seen without its reports."""
    import signal

    from playground.train.worker import WorkerPool
    from tests.waits import wait_for as until

    pool = WorkerPool(3)
    try:
        pool.warm(2)
        killed, survivor = pool.acquire(), pool.acquire()
        assert killed.warm and survivor.warm
        killed.proc.kill()
        assert killed.proc.wait(10), "a killed worker was not reported as ended"
        assert killed.ended_how() == f"killed by {signal.SIGKILL.name}"
        pool.release(killed, healthy=False)
        old = pool._forks
        old.proc.kill()
        old.proc.wait()
        until(lambda: not old.reporting, 10, "the reader to see the fork server's end")
        assert survivor.alive(), "a worker ended with its fork server"
        survivor.conn.send(("quit",))                  # it still reads its socket; its end is seen unreported
        assert survivor.proc.wait(10), "a worker whose fork server is gone was not seen to end"
        assert survivor.proc.returncode is None        # nobody could tell its exit code
        pool.release(survivor, healthy=False)
        fresh = pool.acquire()
        assert pool._forks is not old and pool._forks.reporting, "no new fork server after the old one died"
        until(lambda: fresh.warm, 60, "a worker of the new fork server to warm up")
        pool.release(fresh, healthy=True)
    finally:
        pool.close()
    assert not fresh.alive(), "close() left a worker running"


# ----------------------------------------------------------------------------- history
def test_history_bounds_its_steps_by_pair_averaging_past_the_limit(monkeypatch):
    monkeypatch.setattr(history_module, "MAX_STEP_POINTS", 4)
    h = History()
    h.add_steps(1, [1.0, 2.0, 3.0, 4.0])
    assert (h.step_x, h.step_loss) == ([1, 2, 3, 4], [1.0, 2.0, 3.0, 4.0])       # at the limit: kept
    h.add_steps(5, [5.0])
    assert (h.step_x, h.step_loss) == ([2, 4, 5], [1.5, 3.5, 5.0])                 # pairs averaged
    h.add_steps(6, [7.0, 9.0])
    assert (h.step_x, h.step_loss) == ([4, 6, 7], [2.5, 6.0, 9.0])


def test_history_with_the_real_limit():
    h = History()
    for start in range(1, 30_001, 1000):
        h.add_steps(start, [float(s) for s in range(start, start + 1000)])
    assert len(h.step_x) == len(h.step_loss) <= MAX_STEP_POINTS
    assert h.step_x[-1] == 30_000                                   # the newest step is always there
    assert h.step_x == sorted(h.step_x)
    # the loss equals the step number, so every average of neighbours stays close to its x
    assert all(abs(x - v) <= 2 for x, v in zip(h.step_x, h.step_loss))


def test_history_update_snapshot_and_version():
    h = History()
    assert (h.status, h.version, h.diverged_at) == ("pending", 0, None)
    h.update(status="running", progress={"epochs": 5, "steps": 50})
    h.update(progress={"step": 3})
    record = {"epoch": 1, "train_loss": 0.5}
    h.add_epoch(record)
    record["train_loss"] = 99.0                                      # the history keeps its own copy
    snap = h.snapshot()
    assert snap["status"] == "running" and snap["version"] == 3
    assert (snap["progress"]["epochs"], snap["progress"]["steps"], snap["progress"]["step"]) == (5, 50, 3)
    assert snap["progress"]["samples"] == 0                         # untouched keys stay
    snap["epochs"].append({"epoch": 2})                              # a snapshot's lists are copies
    snap["step_x"].append(1)
    snap["progress"]["step"] = 7
    assert h.epochs == [{"epoch": 1, "train_loss": 0.5}] and h.step_x == [] and h.progress["step"] == 3


def test_history_is_safe_to_read_while_written():
    h = History()
    stop = threading.Event()

    def writer():
        step = 1
        while not stop.is_set():
            h.add_steps(step, [1.0] * 100)
            step += 100
    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(200):
            snap = h.snapshot()
            assert len(snap["step_x"]) == len(snap["step_loss"])
    finally:
        stop.set()
        t.join()


def test_coalesced_messages_do_to_a_history_what_the_messages_did():
    """A Ray actor answers a poll with its pending messages coalesced (stream.coalesce): what the
    server's history ends up holding must not depend on it, nor on where the polls cut the stream.
    (Past MAX_STEP_POINTS, where pairs get averaged depends on how the losses arrived, as it always
    did with the publishing rate; not here.)"""
    from playground.train.stream import StreamedHistory, apply, coalesce, to_wire

    sent = []
    run = Run(make_config(epochs=12), history=StreamedHistory(lambda m: sent.append((len(sent) + 1, to_wire(m)))),
              publish_every=0.0)
    run.run()
    heavy = [m for _, m in sent if m[0] in ("add_snapshot", "add_checkpoint", "add_stats")]
    assert len(sent) > 100 and heavy

    class Sink:
        def __init__(self):
            self.got = []
        snapshot = lambda self, *a: self.got.append(("snapshot", a[1]))       # noqa: E731
        checkpoint = lambda self, c: self.got.append(("checkpoint", c["position"]["step"]))  # noqa: E731
        stats = lambda self, r: self.got.append(("stats", r["step"]))       # noqa: E731

    def replay(cuts):
        h = History()
        h.sink = Sink()
        taken = 0
        for cut in cuts + [len(sent)]:
            batch = coalesce(sent[taken:cut])
            assert len(batch) <= max(cut - taken, 0)
            assert all(seq == sent[cut - 1][0] for seq, _ in batch)   # acknowledged up to the batch's end
            for _, m in batch:
                apply(h, m)
            taken = cut
        return h

    plain = replay(list(range(1, len(sent))))                           # one message a poll: as sent
    for cuts in ([], [7, 50, 51, 120], list(range(5, len(sent), 13))):
        h = replay(cuts)
        for key in ("step_x", "step_loss", "epochs", "marks", "status", "message", "progress"):
            assert getattr(h, key) == getattr(plain, key), (cuts, key)
        assert h.boundary["at"] == plain.boundary["at"]
        assert h.sink.got == plain.sink.got
    assert len(coalesce(sent)) <= 3 + len(heavy) + 1                  # steps, epochs, marks, update; the rest


@pytest.mark.parametrize("example", ["spiral_mlp", "regression_gauss", "mnist_cnn", "mnist_vae", "transformer_reverse",
                                     "lstm_max"])
def test_only_the_heavy_messages_carry_tensors(example):
    """stream.wire sends every message but a snapshot or a checkpoint as it is, with no conversion: so
    the trainer's other writes (steps, records, statistics, progress, the decision boundary) must
    hold plain Python values only, for every kind of run."""
    from playground.config import load_config
    from playground.train.stream import HEAVY, StreamedHistory

    def plain(obj) -> bool:
        if isinstance(obj, dict):
            return all(plain(v) for v in obj.values())
        if isinstance(obj, (list, tuple)):
            return all(plain(v) for v in obj)
        return obj is None or type(obj) in (int, float, bool, str)

    d = load_config(os.path.join(os.path.dirname(__file__), "..", "..", "examples", example + ".yaml")).to_dict()
    d.update(epochs=2, device="cpu", threads=1, data={**d["data"], "max_train": 256})
    sent = []
    run = Run(RunConfig.from_dict(d), history=StreamedHistory(sent.append), publish_every=0.0)
    run.run()
    assert run.history.status == "finished", run.history.message
    light = [m for m in sent if m[0] not in HEAVY]
    assert {m[0] for m in light} >= {"add_steps", "update", "add_epoch", "add_mark", "add_stats"}
    assert [m for m in light if not plain(m)] == []


def test_a_runs_first_publish_leaves_at_once_and_the_rest_waits_for_its_batch(monkeypatch):
    """The first point reaches the server without the batch's wait; later writes still wait for
    theirs, until DONE, after which the next run's first publish leaves at once again. BATCH_S is
    made 30 s here, so a first publish that waited would time out the polls."""
    from multiprocessing import Pipe

    from playground.train import worker
    from playground.train.stream import DONE

    monkeypatch.setattr(worker, "BATCH_S", 30.0)
    theirs, ours = Pipe()
    sender = worker._Sender(theirs)
    first = [("update", (), {"status": "running"}), ("add_steps", (1, [0.7]), {}),
             ("update", (), {"progress": {"step": 1}}), ("add_mark", ((1, 10, 0.01, 0.1),), {})]
    for run in range(2):
        for m in first:
            sender.send(m)
        assert ours.poll(10), f"run {run}: the first publish waited for the batch"
        assert [m[0] for m in ours.recv()[1]] == ["add_steps", "add_marks", "update"]        # coalesced
        sender.send(("add_steps", (2, [0.6]), {}))
        assert not ours.poll(0.5), "a later write left without its batch"
        sender.send((DONE, (), {}))
        assert ours.poll(10) and [m[0] for m in ours.recv()[1]] == ["add_steps", DONE]
    sender.drain(1.0)


def test_a_workers_messages_travel_in_batches_that_do_what_the_messages_did():
    """A worker sends what its run writes within BATCH_S as one coalesced batch (worker._Sender): far
    fewer messages for the server to read, the same history once applied, and DONE last."""
    from multiprocessing import Pipe

    from playground.train.stream import BATCH, DONE, StreamedHistory, apply
    from playground.train.worker import _Sender

    theirs, ours = Pipe()
    sender = _Sender(theirs)
    sent = []

    def send(m):
        sent.append(m)
        sender.send(m)
    run = Run(make_config(epochs=12), history=StreamedHistory(send), publish_every=0.0)
    run.run()
    sender.send((DONE, (), {}))
    h, batches, done = History(), 0, False
    while not done:
        kind, msgs = ours.recv()
        assert kind == BATCH and msgs
        batches += 1
        for m in msgs:
            assert not done, "a message after DONE"
            done = m[0] == DONE
            if not done:
                apply(h, m)
    assert len(sent) > 100 and batches < len(sent) / 5
    for key in ("step_x", "step_loss", "epochs", "marks", "status", "message", "progress"):
        assert getattr(h, key) == getattr(run.history, key), key
    sender.drain(1.0)
