"""playground/train/tasks.py and the engine on every task: losses and metrics against references,
the course notes' worked examples, refusals, early stopping, L1 and gradient clipping."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from playground.__main__ import main
from playground.config import RunConfig, load_config
from playground.data import Dataset, load_dataset
from playground.errors import PlaygroundError
from playground.train.tasks import IGNORE, make_task
from tests.unit.run_helper import Run

ROOT = Path(__file__).resolve().parents[2]


def run_config(path: str, **changes) -> Run:
    cfg = load_config(ROOT / "examples" / path)
    for k, v in changes.items():
        setattr(cfg, k, v)
    run = Run(cfg, publish_every=5.0)
    run.run()
    return run


# ------------------------------------------------------------------ the notes' worked examples
def test_one_weight_one_point_takes_the_notes_step():
    run = run_config("notes_one_weight.yaml")
    assert run.history.epochs[0]["train_loss"] == pytest.approx(16.0)          # (1 x 2 - 6)^2 before the step
    assert run.model[0].weight.item() == pytest.approx(2.6, abs=1e-6)        # 1 - 0.1 x 2 (2 - 6) 2


def test_xor_2_4_1_sigmoid_network_learns_xor_with_mse():
    # The example trains 8,000 epochs; the loss is already below 0.001 within the first 3,000 (and the
    # trajectory of the first 3,000 epochs is the same with epochs=3000: constant rate, full batch).
    run = run_config("notes_xor_2_4_1.yaml", epochs=3000)
    losses = [e["train_loss"] for e in run.history.epochs]
    assert min(losses) < 1e-3 and losses[-1] < 1e-3
    with torch.no_grad():
        pred = run.model.eval()(run.data.X_train)[:, 0]
    assert pred.round().tolist() == [0.0, 1.0, 1.0, 0.0]
    assert run.history.epochs[-1]["val_acc"] == 1.0


def test_a_perceptron_never_passes_75_percent_on_xor():
    run = run_config("notes_xor_perceptron.yaml", epochs=500)
    assert max(e["train_acc"] for e in run.history.epochs) <= 0.75
    assert max(e["val_acc"] for e in run.history.epochs) <= 0.75


def test_softmax_of_2_1_0p1_as_the_filters_page_shows_it():
    from playground.inspect.filters import activations
    from playground.train.frozen import Frozen

    data = Dataset("t", "points", torch.zeros(4, 2), torch.zeros(4, dtype=torch.long), torch.zeros(4, 2),
                   torch.zeros(4, dtype=torch.long), ["a", "b", "c"])
    model = torch.nn.Sequential(torch.nn.Linear(2, 3))
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].bias.copy_(torch.tensor([2.0, 1.0, 0.1]))
    cfg = RunConfig.from_dict({"layers": [{"type": "Linear", "out_features": 3}]})
    view = activations(Frozen(model, cfg, data, 1, 1, False, make_task(cfg, data)))
    np.testing.assert_allclose(view.arrays["probs"], [0.659, 0.242, 0.099], atol=5e-4)


# ------------------------------------------------------------------ losses and metrics vs references
def _cls_data(n=12, c=3):
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, 2, generator=g)
    y = torch.arange(n) % c
    return Dataset("t", "points", X, y, X, y, [str(i) for i in range(c)])


@pytest.mark.parametrize("loss, ls, weights", [("cross_entropy", 0.0, "none"), ("cross_entropy", 0.1, "1, 2, 3"),
                                               ("hinge", 0.0, "none"), ("hinge", 0.0, "balanced")])
def test_classification_losses_match_torch(loss, ls, weights):
    data = _cls_data()
    cfg = RunConfig.from_dict({"layers": [{"type": "Linear", "out_features": 3}],
                               "loss": {"name": loss, "label_smoothing": ls, "class_weights": weights}})
    task = make_task(cfg, data)
    out = torch.randn(12, 3, generator=torch.Generator().manual_seed(1))
    w = {"none": None, "1, 2, 3": torch.tensor([1.0, 2.0, 3.0]), "balanced": torch.ones(3)}[weights]
    want = (F.cross_entropy(out, data.y_train, weight=w, label_smoothing=ls) if loss == "cross_entropy"
            else F.multi_margin_loss(out, data.y_train, weight=w))
    torch.testing.assert_close(task.loss(out, data.y_train, None), want)


def test_bce_on_one_output_and_its_probabilities():
    data = _cls_data(c=2)
    task = make_task(RunConfig.from_dict({"layers": [{"type": "Linear", "out_features": 1}], "loss": "bce"}), data)
    assert task.expected() == (1,)
    out = torch.randn(12, 1, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(task.loss(out, data.y_train, None),
                               F.binary_cross_entropy_with_logits(out[:, 0], data.y_train.float()))
    p = task.probs(out)
    torch.testing.assert_close(p[:, 1], torch.sigmoid(out[:, 0]))
    torch.testing.assert_close(p.sum(1), torch.ones(12))


def test_regression_metrics_match_scikit_learn():
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    g = torch.Generator().manual_seed(3)
    X, y = torch.randn(50, 3, generator=g), torch.randn(50, 1, generator=g)
    data = Dataset("r", "table", X, y, X, y, [], task="regression", target_names=["y"])
    cfg = RunConfig.from_dict({"layers": [{"type": "Linear", "out_features": 1}], "loss": "huber"})
    task = make_task(cfg, data)
    model = torch.nn.Sequential(torch.nn.Linear(3, 1))
    got = task.evaluate(model, X, y, "cpu")
    with torch.no_grad():
        pred = model(X).numpy()
    assert got["mae"] == pytest.approx(mean_absolute_error(y, pred), rel=1e-5)
    assert got["rmse"] == pytest.approx(math.sqrt(mean_squared_error(y, pred)), rel=1e-5)
    assert got["r2"] == pytest.approx(r2_score(y, pred), rel=1e-5)
    assert got["loss"] == pytest.approx(float(F.huber_loss(torch.tensor(pred), y)), rel=1e-5)


def test_log_cosh_is_stable_and_right():
    data = Dataset("r", "curve", torch.zeros(3, 1), torch.zeros(3, 1), torch.zeros(3, 1), torch.zeros(3, 1), [],
                   task="regression", target_names=["y"])
    task = make_task(RunConfig.from_dict({"layers": [{"type": "Linear", "out_features": 1}], "loss": "logcosh"}), data)
    out = torch.tensor([[0.5], [-2.0], [200.0]])
    want = torch.tensor([math.log(math.cosh(0.5)), math.log(math.cosh(2.0)), 200 - math.log(2)]).mean()
    torch.testing.assert_close(task.loss(out, torch.zeros(3, 1), None), want)


def test_sequence_token_and_sequence_accuracy_skip_unscored_positions():
    X = torch.zeros(2, 3, dtype=torch.long)
    y = torch.tensor([[1, 2, IGNORE], [0, 0, 1]])
    data = Dataset("s", "tokens", X, y, X, y, ["0", "1", "2"], task="sequence", vocab=3)
    task = make_task(RunConfig.from_dict({"layers": [{"type": "Embedding"}]}), data)
    out = torch.full((2, 3, 3), -5.0)
    for b, t, k in [(0, 0, 1), (0, 1, 2), (0, 2, 0), (1, 0, 0), (1, 1, 2), (1, 2, 1)]:
        out[b, t, k] = 5.0                      # sequence 0 right where scored; sequence 1 wrong at position 1
    got = task.evaluate(torch.nn.Identity(), out, y, "cpu")     # the "model" hands the outputs through
    assert got["token_acc"] == pytest.approx(4 / 5) and got["seq_acc"] == pytest.approx(1 / 2)
    flat = F.cross_entropy(out.reshape(-1, 3), y.reshape(-1), ignore_index=IGNORE)
    assert got["loss"] == pytest.approx(float(flat), rel=1e-6)


def test_variational_reconstruction_adds_beta_times_kl():
    cfg = RunConfig.from_dict({"data": {"name": "digits", "max_train": 64}, "task": "reconstruction",
                               "loss": {"name": "mse", "kl_weight": 0.5},
                               "layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": 4},
                                          {"type": "Latent", "variational": True},
                                          {"type": "Linear", "out_features": 64},
                                          {"type": "Unflatten", "shape": "1x8x8"}],
                               "epochs": 1, "batch_size": 32})
    run = Run(cfg)
    run.prepare()
    x = run.data.X_train[:8]
    out = run.model(x)
    latent = run.model[2]
    loss = run.task.loss(out, run.task.target(x, None), run.model)
    torch.testing.assert_close(loss, F.mse_loss(out, x) + 0.5 * latent.kl / 64)     # the KL per value: 64 pixels
    run.train()
    e = run.history.epochs[-1]
    assert {"train_recon", "train_kl", "val_recon", "val_kl"} <= set(e)
    assert e["val_loss"] == pytest.approx(e["val_recon"] + 0.5 * e["val_kl"] / 64, rel=1e-5)


# ------------------------------------------------------------------ training options
def test_early_stopping_restores_the_best_epoch():
    run = run_config("curve_overfit.yaml", epochs=400, patience=5)
    epochs = run.history.epochs
    last = epochs[-1]
    assert len(epochs) < 400 and last["restored_epoch"] == min(epochs, key=lambda e: e["val_loss"])["epoch"]
    assert last["epoch"] - last["restored_epoch"] == 5
    assert "stopped early" in run.history.message
    assert run.evaluate(run.data.X_val, run.data.y_val)["loss"] == pytest.approx(
        min(e["val_loss"] for e in epochs), rel=1e-6)
    assert run.result()["restored_epoch"] == last["restored_epoch"]


def test_clip_norm_bounds_every_step():
    base = {"data": {"name": "spiral", "n_samples": 100}, "layers": [{"type": "Linear", "out_features": 2}],
            "optim": {"name": "sgd", "lr": 1.0}, "epochs": 1, "batch_size": 80}
    run = Run(RunConfig.from_dict({**base, "clip_norm": 1e-3}))
    run.prepare()
    before = [p.detach().clone() for p in run.model.parameters()]
    run.train()                                   # one step: |update| = lr x |clipped gradient| <= 1e-3
    moved = math.sqrt(sum(float(((p.detach() - b) ** 2).sum()) for p, b in zip(run.model.parameters(), before)))
    assert 0 < moved <= 1e-3 * (1 + 1e-4)


def test_l1_pulls_weights_toward_zero():
    base = {"data": {"name": "spiral", "n_samples": 200}, "optim": {"name": "sgd", "lr": 0.1}, "epochs": 20,
            "layers": [{"type": "Linear", "out_features": 16}, {"type": "ReLU"}, {"type": "Linear", "out_features": 2}]}
    sizes = []
    for l1 in (0.0, 0.01):
        run = Run(RunConfig.from_dict({**base, "l1": l1}))
        run.run()
        sizes.append(sum(float(p.detach().abs().sum()) for p in run.model.parameters() if p.dim() > 1))
    assert sizes[1] < 0.7 * sizes[0]


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize("config, words", [
    ({"data": {"name": "reverse"}, "task": "reconstruction", "layers": [{"type": "Embedding"}]},
     ["reconstruction", "token sequences", "pick the sequence task"]),
    ({"data": {"name": "spiral"}, "task": "regression", "layers": [{"type": "Linear", "out_features": 1}]},
     ["'spiral' is a classification data set", "set task to auto"]),
    ({"data": {"name": "wine"}, "loss": "bce", "layers": [{"type": "Linear", "out_features": 1}]},
     ["bce trains one output for two classes", "3 classes", "use cross_entropy"]),
    ({"data": {"name": "spiral"}, "loss": "huber", "layers": [{"type": "Linear", "out_features": 2}]},
     ["'huber' is not a classification loss", "cross_entropy, bce, hinge, mse"]),
    ({"data": {"name": "reg_plane"}, "layers": [{"type": "Linear", "out_features": 2}]},
     ["ends with 2 features", "1 target", "set out_features=1 on layer 1 (Linear)"]),
    ({"data": {"name": "reverse"}, "layers": [{"type": "Embedding"}, {"type": "SequencePool"},
                                              {"type": "Linear", "out_features": 10}]},
     ["at each of 8 positions", "8x10", "no SequencePool"]),
    ({"data": {"name": "max"}, "layers": [{"type": "Embedding"}, {"type": "Linear", "out_features": 10}]},
     ["per sequence", "pool the sequence first"]),
    ({"data": {"name": "digits"}, "task": "reconstruction", "layers": [{"type": "Flatten"},
                                                                      {"type": "Linear", "out_features": 10}]},
     ["must match the input 1x8x8", "Linear(out_features=64)", "Unflatten shape=1x8x8"]),
    ({"data": {"name": "digits"}, "task": "reconstruction", "loss": "bce",
      "layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": 64}]},
     ["needs outputs in [0, 1]", "Sigmoid", "or use mse"]),
    ({"data": {"name": "spiral"}, "loss": {"class_weights": "1, 2, 3"},
      "layers": [{"type": "Linear", "out_features": 2}]},
     ["3 weights for 2 classes"]),
])
def test_refusals_name_the_problem_and_the_fix(config, words):
    from playground.train import check

    with pytest.raises(PlaygroundError) as e:
        check(RunConfig.from_dict(config))
    for w in words:
        assert w in str(e.value), (w, str(e.value))


# ------------------------------------------------------------------ headless: each task's metrics in the JSON
@pytest.mark.parametrize("example, keys", [
    ("regression_plane.yaml", {"val_r2", "val_mae", "val_rmse", "train_mae"}),
    ("mnist_autoencoder.yaml", {"val_recon", "train_recon"}),
    ("transformer_reverse.yaml", {"val_token_accuracy", "val_sequence_accuracy", "train_token_accuracy"}),
    ("breast_cancer_mlp.yaml", {"val_accuracy"}),
])
def test_cli_train_prints_the_tasks_metrics(example, keys, capsys):
    assert main(["train", str(ROOT / "examples" / example), "--epochs", "1", "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["status"] == "finished" and keys <= set(result)
    assert all(isinstance(result[k], float) and math.isfinite(result[k]) for k in keys)


def test_standardise_switch_changes_what_the_network_sees():
    on = load_dataset(RunConfig.from_dict({"data": {"name": "breast_cancer"}, "layers": [{"type": "Flatten"}]}).data)
    off = load_dataset(RunConfig.from_dict({"data": {"name": "breast_cancer", "standardize": False},
                                            "layers": [{"type": "Flatten"}]}).data)
    assert float(off.X_train.abs().max()) > 1000 > 20 > float(on.X_train.abs().max())


@pytest.mark.parametrize("name, width", [("spiral", 2), ("reg_plane", 2), ("curve", 1)])
def test_an_autoencoder_of_points_or_a_curve_trains_with_no_picture(name, width):
    """Build & Train offers 'reconstruct the input' for 2-D points and curves: the engine drew their
    live picture with the task's grid values, which a reconstruction has none of, and the run failed
    with NotImplementedError after its first step."""
    cfg = RunConfig.from_dict({"data": {"name": name, "n_samples": 100}, "task": "reconstruction", "epochs": 2,
                               "layers": [{"type": "Linear", "out_features": 8}, {"type": "ReLU"},
                                          {"type": "Linear", "out_features": width}]})
    run = Run(cfg, publish_every=0.0)
    run.run()
    assert run.history.status == "finished", run.history.message
    assert run.history.boundary is None
    assert run.history.epochs[-1]["val_recon"] >= 0


def test_evaluation_switches_modes_only_for_networks_that_have_them():
    """A network of mode-free layers is evaluated without eval()/train() (each visits every module,
    ~30 us an epoch for a tiny network: the notes' XOR trains 8,000 epochs); one with dropout or batch
    norm is switched, and handed back in the mode it came in."""
    from torch import nn

    from playground.train.tasks import mode_free

    plain = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 2))
    assert mode_free(plain) and mode_free(plain)                 # the second answer is the remembered one
    for moded in (nn.Sequential(nn.Linear(2, 4), nn.Dropout(0.5), nn.Linear(4, 2)),
                  nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))):
        assert not mode_free(moded)
    calls = []
    plain.eval = lambda: calls.append("eval")
    X, y = torch.randn(8, 2), torch.randint(0, 2, (8,))
    cfg = RunConfig.from_dict({"layers": [{"type": "Linear", "out_features": 2}]})
    task = make_task(cfg, Dataset("t", "points", X, y, X, y, ["a", "b"]))
    got = task.evaluate(plain, X, y, "cpu")
    assert calls == [] and plain.training
    with torch.no_grad():
        want = float(torch.nn.functional.cross_entropy(plain(X), y))
    assert got["loss"] == pytest.approx(want, rel=1e-6)
