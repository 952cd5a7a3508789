"""playground/train/fast.py: the fast path for tiny networks gives the default path's numbers bit for bit.

Each case trains the same config twice, with the fast path and with PLAYGROUND_FAST=0 (autograd and
torch.optim's own step), and compares every weight, every optimizer state tensor and every epoch record
exactly. Each case also checks that the fast path really ran, so a silent fallback cannot pass."""
import pytest
import torch

from playground.config import RunConfig
from playground.train.fast import Gradients
from tests.unit.run_helper import Run


def linear(n, **kw):
    return {"type": "Linear", "out_features": n, **kw}


def act(kind, **kw):
    return {"type": kind, **kw}


CASES = {
    "spiral, ReLU, cross-entropy, Adam": dict(
        data={"name": "spiral", "n_samples": 200}, layers=[linear(16), act("ReLU"), linear(16), act("ReLU"), linear(2)],
        optim={"name": "adam", "lr": 0.01}, batch_size=16, epochs=4),
    "XOR, Sigmoid, one-output MSE, SGD on the full batch": dict(
        data={"name": "xor_table"}, loss="mse", layers=[linear(4), act("Sigmoid"), linear(1), act("Sigmoid")],
        optim={"name": "sgd", "lr": 2.0}, batch_size=4, epochs=300),
    "regression, Tanh, MSE, momentum + weight decay, step schedule, clipping": dict(
        data={"name": "reg_gauss"}, layers=[linear(12), act("Tanh"), linear(8), act("Tanh"), linear(1)],
        optim={"name": "momentum", "lr": 0.05, "weight_decay": 0.001}, schedule={"name": "step", "step_epochs": 1},
        clip_norm=0.5, batch_size=25, epochs=3),
    "LeakyReLU and GELU, no bias, AdamW + weight decay, cosine": dict(
        data={"name": "spiral", "n_samples": 150}, layers=[linear(10, bias=False), act("LeakyReLU", negative_slope=0.2),
                                                         linear(10), act("GELU"), linear(2)],
        optim={"name": "adamw", "lr": 0.02, "weight_decay": 0.01}, schedule={"name": "cosine"}, batch_size=7,
        epochs=3),
    "Nesterov + weight decay, a last batch of one": dict(
        data={"name": "spiral", "n_samples": 125}, layers=[linear(6), act("ReLU"), linear(2)],
        optim={"name": "nesterov", "lr": 0.05, "weight_decay": 0.01}, batch_size=11, epochs=3),
    "regression, Huber (delta 0.5), ReLU, Adam": dict(
        data={"name": "reg_gauss", "n_samples": 300, "noise": 0.05}, loss={"name": "huber", "huber_delta": 0.5},
        layers=[linear(16), act("ReLU"), linear(1)], optim={"name": "adam", "lr": 0.01}, batch_size=16, epochs=3),
    "Adam with weight decay": dict(
        data={"name": "spiral", "n_samples": 100}, layers=[linear(8), act("Tanh"), linear(2)],
        optim={"name": "adam", "lr": 0.02, "weight_decay": 0.05}, batch_size=10, epochs=3),
}


def config(case: str) -> RunConfig:
    return RunConfig.from_dict({**CASES[case], "seed": 3, "device": "cpu", "threads": 1})


def trained(cfg: RunConfig) -> tuple[Run, dict]:
    run = Run(cfg)
    run.prepare()
    plan = run.trainer._plan()
    run.run()
    return run, {"fast": plan.fast is not None, "lean": plan.update.step != run.trainer.optimizer.step,
                 "one buffer": one_buffer(run)}


def one_buffer(run: Run) -> bool:
    """Whether the parameters, their gradients and each kind of optimizer state lie in one buffer each."""
    params = list(run.model.parameters())
    states = [run.trainer.optimizer.state[p] for p in params]
    groups = [params, [p.grad for p in params]] + [[s[k] for s in states] for k in states[0]]
    return all(len({t.untyped_storage().data_ptr() for t in group}) == 1 for group in groups)


def epochs(run: Run) -> list[dict]:
    return [{k: v for k, v in e.items() if k != "time_s"} for e in run.history.epochs]


def optimizer_tensors(run: Run) -> list[torch.Tensor]:
    return [v for s in run.trainer.optimizer.state.values() for v in s.values() if isinstance(v, torch.Tensor)]


@pytest.mark.parametrize("case", list(CASES))
def test_the_fast_path_gives_the_default_paths_numbers_bit_for_bit(case, monkeypatch):
    fast, used = trained(config(case))
    assert used == {"fast": True, "lean": True, "one buffer": True}, f"{case}: the fast path did not run ({used})"
    monkeypatch.setenv("PLAYGROUND_FAST", "0")
    slow, used = trained(config(case))
    assert used == {"fast": False, "lean": False, "one buffer": False}
    assert fast.history.status == slow.history.status == "finished"
    for (name, a), b in zip(fast.model.named_parameters(), slow.model.parameters()):
        assert torch.equal(a, b), f"{case}: {name} differs by up to {(a - b).abs().max().item():.3g}"
    states = optimizer_tensors(fast), optimizer_tensors(slow)
    assert len(states[0]) == len(states[1]) > 0 or CASES[case]["optim"]["name"] == "sgd"
    assert all(torch.equal(a, b) for a, b in zip(*states)), f"{case}: the optimizer's state differs"
    assert epochs(fast) == epochs(slow)
    assert fast.history.step_loss == slow.history.step_loss and len(fast.history.step_loss) > 0


@pytest.mark.parametrize("change", [
    {"layers": [linear(8), act("ReLU"), {"type": "Dropout", "p": 0.2}, linear(2)]},
    {"loss": "hinge"},
    {"loss": {"name": "cross_entropy", "label_smoothing": 0.1}},
    {"l1": 0.001},
    {"optim": {"name": "rmsprop", "lr": 0.01}},
], ids=["dropout", "hinge", "label smoothing", "l1", "rmsprop"])
def test_what_the_fast_path_does_not_cover_takes_the_default_path(change):
    d = {**CASES["Adam with weight decay"], "seed": 0, "device": "cpu", "threads": 1, "epochs": 1, **change}
    run, used = trained(RunConfig.from_dict(d))
    assert run.history.status == "finished"
    if "optim" in change:                                    # hand-written gradients, torch.optim's RMSprop
        assert used["fast"] and not used["lean"]
    else:
        assert not used["fast"]


def test_the_gradients_equal_autograds_for_one_batch():
    cfg = config("LeakyReLU and GELU, no bias, AdamW + weight decay, cosine")
    run = Run(cfg)
    run.prepare()
    model, task = run.trainer.model, run.trainer.task
    X, y = run.trainer.data.X_train[:9], run.trainer.data.y_train[:9]
    grads = Gradients.of(model, task, X, torch.device("cpu"), cfg)
    out, loss = grads(X, y)
    mine = [p.grad.clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    ref_out = model(X)
    ref = task.loss(ref_out, y, model)
    ref.backward()
    assert torch.equal(out, ref_out.detach()) and torch.equal(loss, ref.detach())
    assert all(torch.equal(a, p.grad) for a, p in zip(mine, model.parameters()))
