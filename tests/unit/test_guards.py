"""Guards for a shared server: the memory estimate (models/budget.py), config refusals (config.py) and
divergence advice (train/advice.py). Expected numbers are worked out by hand in the comments."""
import math
import os
import re

import psutil
import pytest
import torch

from playground.config import MAX_SEED, RunConfig
from playground.errors import ConfigError, PlaygroundError, ShapeError
from playground.models import build_model, summarize, summarize_partial
from playground.models.budget import (
    MAX_PARAMS,
    MAX_PARAMS_ENV,
    check_budget,
    estimate,
    max_params,
    size_text,
)
from playground.train.advice import divergence_advice, lr_range

POINTS, DIGITS = (2,), (1, 8, 8)
RELU, FLAT = {"type": "ReLU"}, {"type": "Flatten"}
GB = 10**9


def lin(n, **kw):
    return {"type": "Linear", "out_features": n, **kw}


def conv(c, k=3, **kw):
    return {"type": "Conv2d", "out_channels": c, "kernel_size": k, **kw}


def config(layers, **kw) -> RunConfig:
    return RunConfig.from_dict({"layers": layers, **kw})


MLP = [lin(16), RELU, lin(2)]                              # 2 -> 16 -> 2
GIANT = [lin(200_000), RELU, lin(200_000), RELU, lin(2)]   # layer 3 is 200,000 x 200,000


@pytest.fixture(autouse=True)
def _no_cap_from_the_environment(monkeypatch):
    monkeypatch.delenv(MAX_PARAMS_ENV, raising=False)


# ----------------------------------------------------------------------------- the estimate, by hand
def test_small_mlp_estimate_by_hand():
    # parameters: 2*16 + 16 + 16*2 + 2 = 82; 4 bytes each per copy
    est = estimate(config(MLP, optim={"name": "adam"}, batch_size=32), POINTS, 2, n_train=400, n_val=100)
    assert est.parameters == 82
    assert (est.weights, est.gradients, est.optimizer) == (328, 328, 656)   # Adam: 2 moments
    assert est.checkpoint == 328 + 328 + 656           # latest weights + a checkpoint's weights and moments
    # one step: input 2 + 2 x (16 + 16 + 2) outputs = 70 values per sample, x 32 samples x 4 bytes
    assert est.activations == 32 * 70 * 4 == 8960
    # 2-D data: the 70 x 70 decision grid (4,900 points) beats the 100 validation samples; the widest
    # in+out pair is the ReLU (16 + 16)
    assert (est.eval_batch, est.evaluation) == (4900, 4900 * 32 * 4)
    assert est.data == 500 * (2 * 4 + 8) == 8000                  # float32 x 2 + int64 label per sample
    assert est.fixed == 328 * 4 + 656 * 2 == 2624
    assert est.total == 2624 + 627_200 + 8000 == 637_824
    assert [(c.index, c.type, c.params, c.outputs) for c in est.layers] == \
        [(1, "Linear", 48, 16), (2, "ReLU", 0, 16), (3, "Linear", 34, 2)]


@pytest.mark.parametrize("name, slots", [("sgd", 0), ("momentum", 1), ("nesterov", 1), ("rmsprop", 1),
                                         ("adagrad", 1), ("adam", 2), ("adamw", 2)])
def test_optimizer_state_per_optimizer(name, slots):
    est = estimate(config(MLP, optim={"name": name}), POINTS, 2, 400, 100)
    assert est.optimizer == slots * 82 * 4
    assert est.fixed == (4 + 2 * slots) * 328         # weights, gradients, state; checkpoint: 2 weights + state


def test_sgd_and_adam_totals_differ_by_adams_moments():
    sgd = estimate(config(MLP, optim={"name": "sgd"}), POINTS, 2, 400, 100)
    adam = estimate(config(MLP, optim={"name": "adam"}), POINTS, 2, 400, 100)
    assert adam.total - sgd.total == 2 * 2 * 82 * 4                # two moments, and their checkpoint copy


def test_small_cnn_estimate_by_hand():
    # digits 1x8x8: Conv2d(4, k3) -> 4x6x6 = 144 (40 params), ReLU 144, Flatten (a view: 0), Linear 144 -> 10
    est = estimate(config([conv(4), RELU, FLAT, lin(10)], batch_size=64), DIGITS, 10, n_train=1000, n_val=250)
    assert est.parameters == 40 + 1450 == 1490
    assert [c.outputs for c in est.layers] == [144, 144, 0, 10]
    assert est.activations == 64 * (64 + 2 * 298) * 4 == 168_960
    assert (est.eval_batch, est.evaluation) == (250, 250 * (144 + 144) * 4)   # fewer than EVAL_BATCH samples
    assert est.data == 1250 * (64 * 4 + 8) == 330_000
    assert est.layers[0].weights_text == "4 x 1 x 3x3 = 36 weights"


def test_batchnorm_running_statistics_count_in_the_weights():
    est = estimate(config([lin(16), {"type": "BatchNorm"}, RELU, lin(2)]), POINTS, 2, 400, 100)
    assert est.parameters == 82 + 32                              # BatchNorm's weight and bias
    assert est.weights == 114 * 4 + 16 * 4 * 2 + 8                # + running mean, var and an int64 counter
    assert est.gradients == 114 * 4                                # buffers have no gradient


def test_a_batch_larger_than_the_training_set_counts_the_set():
    est = estimate(config(MLP, batch_size=100_000), POINTS, 2, n_train=400, n_val=100)
    assert est.batch == 400
    assert est.activations == 400 * 70 * 4


def test_validation_size_defaults_from_val_fraction():
    est = estimate(config(MLP, data={"val_fraction": 0.2}), POINTS, 2, n_train=400)
    assert est.data == (400 + 100) * 16


def test_estimate_refuses_what_build_model_refuses_with_the_same_message():
    layers = [conv(8), RELU, FLAT, lin(2)]
    with pytest.raises(ShapeError) as built:
        build_model(layers, POINTS, 2)
    with pytest.raises(ShapeError) as estimated:
        estimate(config(layers), POINTS, 2, 400)
    assert str(estimated.value) == str(built.value)


@pytest.mark.parametrize("n, text", [(640 * GB, "640 GB"), (1_234_567, "1.2 MB"), (2_500, "2.5 kB"), (999, "999 bytes"),
                                     (12_345 * GB, "12,345 GB")])
def test_size_text(n, text):
    assert size_text(n) == text


# ----------------------------------------------------------------------------- refusals: memory
def _rss() -> int:
    return psutil.Process().memory_info().rss


@pytest.fixture
def linear_devices(monkeypatch) -> list:
    """The device of every nn.Linear's weight built during the test: "meta" means no storage was allocated
    (what the old < 0.5 s timing stood for; a wall-clock bound flakes on a loaded CI machine)."""
    devices, init = [], torch.nn.Linear.__init__

    def recording(self, *args, **kwargs):
        init(self, *args, **kwargs)
        devices.append(self.weight.device.type)
    monkeypatch.setattr(torch.nn.Linear, "__init__", recording)
    return devices


def test_giant_linear_is_refused_at_once_without_allocating(linear_devices):
    before = _rss()
    with pytest.raises(ConfigError) as e:
        check_budget(config(GIANT), POINTS, 2, 400, available=20 * GB)
    assert linear_devices and set(linear_devices) == {"meta"}      # built without storage, so nothing to wait for
    assert _rss() - before < 100 * 2**20                           # a real layer 3 alone is 160 GB
    msg = str(e.value)
    assert "layer 3 (Linear, 200,000 x 200,000 = 40,000,000,000 weights)" in msg
    # 40,001,200,002 x 4 bytes x 8 (weights, gradients, 2 moments; checkpoint: 2 weights + 2 moments)
    # = 1,280 GB, + 7.8 GB for the 4,900-point grid through 200,000 + 200,000 values
    assert "1,288 GB" in msg and "40,001,200,002 parameters" in msg and "Adam's two moments" in msg
    assert "this machine has 20 GB free" in msg and msg.endswith("make it smaller")


def test_giant_linear_is_refused_against_this_machines_free_memory():
    with pytest.raises(ConfigError, match=r"GB free.*layer 3 \(Linear, 200,000 x 200,000"):
        check_budget(config(GIANT), POINTS, 2, 400)               # psutil's available memory


def test_layer_table_of_the_giant_linear_allocates_nothing(linear_devices):
    before = _rss()
    rows = summarize(GIANT, POINTS, 2)
    rows2, error, _ = summarize_partial(GIANT, POINTS, 2)
    assert linear_devices and set(linear_devices) == {"meta"} and _rss() - before < 100 * 2**20
    assert rows[2].params == rows2[2].params == 200_000 * 200_000 + 200_000 and error is None


def test_activations_bound_refusal_names_batch_size_and_a_size_that_fits():
    # 64x28x28 = 50,176 values per sample out of the conv (and its ReLU): activations dominate
    layers = [conv(64, padding=1), RELU, {"type": "MaxPool2d"}, FLAT, lin(10)]
    cfg = config(layers, batch_size=100_000, data={"name": "mnist_subset"})
    with pytest.raises(ConfigError) as e:
        check_budget(cfg, (1, 28, 28), 10, 200_000, available=20 * GB)
    msg = str(e.value)
    assert msg.startswith("one training batch needs about")
    assert "batch_size 100,000" in msg and "layer 1 (Conv2d, 64x28x28 = 50,176 values per sample)" in msg
    fits = int(re.search(r"lower batch_size to ([\d,]+) or fewer", msg).group(1).replace(",", ""))
    assert fits == 8192                                           # a power of two
    cfg.batch_size = fits
    check_budget(cfg, (1, 28, 28), 10, 200_000, available=20 * GB)   # the advice is enough


def test_evaluation_bound_refusal_names_the_linear_not_the_relu():
    # Linear 2 -> 100,000 evaluated on the 4,900-point decision grid: 4,900 x 200,000 x 4 bytes = 3.9 GB
    with pytest.raises(ConfigError) as e:
        check_budget(config([lin(100_000), RELU, lin(2)], batch_size=1), POINTS, 2, 400, available=GB)
    msg = str(e.value)
    assert "evaluating 4,900 samples at a time (the decision-boundary grid) needs about 3.9 GB" in msg
    assert msg.endswith("the widest layer is layer 1 (Linear, 100,000 values per sample): make it smaller")


def test_data_bound_refusal_names_n_samples():
    with pytest.raises(ConfigError, match=r"the data set needs about 20 MB \(1,250,000 samples of 2 values\).*"
                                          r"use fewer samples \(data.n_samples\)"):
        check_budget(config(MLP), POINTS, 2, n_train=1_000_000, available=10**7)


def test_a_small_network_passes_and_returns_the_estimate():
    est = check_budget(config(MLP), POINTS, 2, 400, available=GB)
    assert est.parameters == 82


# ----------------------------------------------------------------------------- refusals: parameter cap
def test_default_parameter_cap():
    assert max_params() == MAX_PARAMS == 50_000_000
    layers = [lin(8000), RELU, lin(8000), lin(2)]                 # 64,000,000 weights in layer 3
    with pytest.raises(ConfigError) as e:
        check_budget(config(layers), POINTS, 2, 400, available=10**15)
    msg = str(e.value)
    assert msg.startswith("the network has 64,048,002 parameters (about 2.0 GB to train with Adam)")
    assert "more than this server allows (50,000,000, set by PLAYGROUND_MAX_PARAMS)" in msg
    assert "layer 3 (Linear, 8,000 x 8,000 = 64,000,000 weights): make it smaller" in msg


def test_parameter_cap_from_the_environment(monkeypatch):
    monkeypatch.setenv(MAX_PARAMS_ENV, "1000")
    check_budget(config(MLP), POINTS, 2, 400, available=GB)       # 82 parameters
    with pytest.raises(ConfigError, match=r"allows \(1,000, set by PLAYGROUND_MAX_PARAMS\)"):
        check_budget(config([lin(1000), lin(2)]), POINTS, 2, 400, available=GB)
    monkeypatch.setenv(MAX_PARAMS_ENV, "0")                        # 0: no cap
    check_budget(config([lin(8000), lin(8000), lin(2)]), POINTS, 2, 400, available=10**15)


@pytest.mark.parametrize("value", ["lots", "-5", "inf"])
def test_a_bad_parameter_cap_names_the_variable(monkeypatch, value):
    monkeypatch.setenv(MAX_PARAMS_ENV, value)
    with pytest.raises(ConfigError, match=f"PLAYGROUND_MAX_PARAMS='{value}' is not a parameter count"):
        check_budget(config(MLP), POINTS, 2, 400, available=GB)


def test_budget_refusals_are_playground_errors():
    # the CLI and the pages print PlaygroundErrors as one line, without a traceback
    assert issubclass(ConfigError, PlaygroundError)


def test_cli_train_of_the_giant_linear_ends_with_a_one_line_error(tmp_path, capsys):
    from playground.__main__ import main

    path = tmp_path / "giant.json"
    path.write_text(config(GIANT, device="cpu", epochs=1).to_json())
    assert main(["train", str(path)]) == 2
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("error: the network needs about") and "GB" in err
    assert "Traceback" not in out + err


# ----------------------------------------------------------------------------- config refusals
@pytest.mark.parametrize("d, message", [
    ({"seed": -1}, "seed: must be from 0 to 2,147,483,647 (2**31 - 1), got -1"),
    ({"seed": 2**31}, "seed: must be from 0 to 2,147,483,647 (2**31 - 1), got 2147483648"),
    ({"threads": 999}, f"threads: must be at most {os.cpu_count()} (this machine's CPU cores), got 999"),
    ({"epochs": 100_001}, "epochs: must be at most 100,000, got 100,001"),
    ({"epochs": 10**12}, "epochs: must be at most 100,000"),
    ({"batch_size": 1_000_001}, "batch_size: must be at most 1,000,000, got 1,000,001"),
    ({"data": {"n_samples": 1_000_001}}, "data.n_samples: at most 1,000,000 points, got 1,000,001"),
    ({"optim": {"lr": float("inf")}}, "optim.lr: must be a finite number, got inf; e.g. 0.01 (the default)"),
    ({"optim": {"lr": "inf"}}, "optim.lr: must be a finite number, got inf"),
    ({"optim": {"lr": float("nan")}}, "optim.lr: must be a finite number, got nan"),
    ({"optim": {"lr": "1e400"}}, "optim.lr: must be a finite number, got inf"),
    ({"optim": {"momentum": float("nan")}}, "optim.momentum: must be a finite number, got nan; e.g. 0.9"),
    ({"optim": {"weight_decay": float("inf")}}, "optim.weight_decay: must be a finite number, got inf"),
    ({"optim": {"eps": float("inf")}}, "optim.eps: must be a finite number, got inf"),
    ({"optim": {"beta1": float("nan")}}, "optim.beta1: must be a finite number, got nan"),
    ({"optim": {"beta2": float("-inf")}}, "optim.beta2: must be a finite number, got -inf"),
    ({"optim": {"alpha": float("nan")}}, "optim.alpha: must be a finite number, got nan"),
    ({"schedule": {"gamma": float("nan")}}, "schedule.gamma: must be a finite number, got nan"),
    ({"schedule": {"warmup_epochs": float("inf")}}, "schedule.warmup_epochs: must be a finite number, got inf"),
    ({"data": {"noise": float("nan")}}, "data.noise: must be a finite number, got nan"),
    ({"data": {"val_fraction": float("inf")}}, "data.val_fraction: must be a finite number, got inf"),
])
def test_values_that_would_hurt_a_shared_server_are_refused_with_the_field(d, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        RunConfig.from_dict({"layers": MLP, **d})


@pytest.mark.parametrize("d", [{"seed": 0}, {"seed": MAX_SEED}, {"threads": os.cpu_count()}, {"epochs": 100_000},
                               {"batch_size": 1_000_000}, {"data": {"n_samples": 1_000_000}}])
def test_the_limits_themselves_are_accepted(d):
    RunConfig.from_dict({"layers": MLP, **d})


def test_a_non_number_set_in_code_is_refused_with_the_field():
    cfg = config(MLP)
    cfg.optim.lr = "fast"
    with pytest.raises(ConfigError, match=r"optim.lr: expected a number, got 'fast'"):
        cfg.validate()


def _trained(seed: int) -> tuple[list[dict], dict]:
    """A small spiral run's epoch records (wall-clock fields dropped) and final weights."""
    from playground.train.trainer import Trainer

    trainer = Trainer.from_config(config(MLP, seed=seed, epochs=2, threads=1, data={"n_samples": 200}))
    trainer.run()
    records = [{k: v for k, v in r.items() if k != "time_s"} for r in trainer.history.snapshot()["epochs"]]
    return records, {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def test_seed_range_fits_torch_and_numpy():
    # the engine seeds torch and numpy with seed, seed+1 and seed+2: MAX_SEED must fit all of them and
    # still give a reproducible run, different from another seed's
    records, weights = _trained(MAX_SEED)
    again, weights_again = _trained(MAX_SEED)
    assert len(records) == 2 and records == again
    assert weights.keys() == weights_again.keys()
    assert all(torch.equal(weights[k], weights_again[k]) for k in weights)
    other, other_weights = _trained(0)
    assert other != records
    assert not all(torch.equal(weights[k], other_weights[k]) for k in weights)


# ----------------------------------------------------------------------------- divergence advice
def advice(layers=MLP, **kw) -> str:
    return divergence_advice(config(layers, **kw))


def _suggestions(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"(?:try|e\.g\.)(?: the learning rate)? ([0-9.e+-]+[0-9])", text)]


@pytest.mark.parametrize("lr", [float("inf"), float("nan"), -1.0, 0.0])
def test_advice_for_an_unusable_learning_rate_suggests_a_real_one(lr):
    cfg = config(MLP)
    cfg.optim.lr = lr                                              # set after validation, as a stale config could
    text = divergence_advice(cfg)
    (suggested,) = _suggestions(text)
    assert 0 < suggested < 1 and math.isfinite(suggested)
    assert "try inf" not in text and "try nan" not in text and "e.g. inf" not in text and "e.g. nan" not in text


@pytest.mark.parametrize("name, lr, expected", [
    ("adam", 1.0, "The learning rate 1 is above the usual range for Adam (0.0001 to 0.01): try 0.01."),
    ("adam", 0.05, "The learning rate 0.05 is above the usual range for Adam (0.0001 to 0.01): try 0.005."),
    ("sgd", 5.0, "The learning rate 5 is above the usual range for SGD (0.01 to 1): try 0.5."),
    ("momentum", 0.5, "The learning rate 0.5 is above the usual range for SGD with momentum 0.9 (0.001 to 0.1): "
                      "try 0.05."),
    ("rmsprop", 0.1, "The learning rate 0.1 is above the usual range for RMSprop (0.0001 to 0.01): try 0.01."),
])
def test_advice_for_a_high_learning_rate_says_lr_over_ten(name, lr, expected):
    assert advice(optim={"name": name, "lr": lr}) == expected


def test_advice_for_an_absurd_learning_rate_suggests_the_top_of_the_range():
    assert _suggestions(advice(optim={"name": "adam", "lr": 1e300})) == [0.01]


def test_advice_within_the_range_still_suggests_lr_over_ten():
    text = advice(optim={"name": "adam", "lr": 0.003})
    assert "within the usual range for Adam" in text and _suggestions(text) == [0.0003]


@pytest.mark.parametrize("name, lr", [("adam", 1e-6), ("sgd", 1e-4), ("adagrad", 1e-4), ("momentum", 1e-5)])
def test_advice_for_a_small_learning_rate_does_not_blame_it(name, lr):
    text = advice(optim={"name": name, "lr": lr})
    assert "already small" in text and "not the cause" in text
    assert "try" not in text.split(".")[0] and not any(s < lr for s in _suggestions(text))
    assert "Check the data" in text


def test_advice_for_a_small_learning_rate_with_normal_init_points_at_the_init():
    text = advice(optim={"name": "sgd", "lr": 1e-3}, init="normal")
    assert "not the cause" in text and "N(0, 1)" in text and "init he" in text


def test_advice_for_a_deep_network_without_normalisation_suggests_batchnorm():
    deep = [lin(16), RELU] * 6 + [lin(2)]
    assert "add BatchNorm" in advice(deep, optim={"name": "adam", "lr": 1e-5})
    with_bn = [lin(16), {"type": "BatchNorm"}, RELU] * 6 + [lin(2)]
    assert "BatchNorm" not in advice(with_bn, optim={"name": "adam", "lr": 1e-5})


def test_advice_for_a_huge_weight_decay_names_it():
    text = advice(optim={"name": "adamw", "lr": 1e-3, "weight_decay": 5.0})
    assert text.startswith("The weight decay 5 is very large")


@pytest.mark.parametrize("kw", [{"optim": {"lr": 0.003}}, {"optim": {"name": "sgd", "lr": 9.0}, "init": "normal"},
                                {"optim": {"lr": 1e-6}, "init": "normal"}])
def test_advice_is_one_or_two_sentences(kw):
    text = advice(**kw)
    sentences = re.split(r"(?<=\.)\s+(?=[A-Z])", text)             # a full stop, then a capital
    assert 1 <= len(sentences) <= 2 and text.endswith(".")


def test_momentum_range_is_scaled_by_one_minus_momentum():
    assert lr_range(config(MLP, optim={"name": "momentum", "momentum": 0.9}))[:2] == (0.001, 0.1)
    assert lr_range(config(MLP, optim={"name": "sgd"}))[:2] == (0.01, 1.0)
