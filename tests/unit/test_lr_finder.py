"""LR range test: the rates rise exponentially, the test stops at a blow-up, the suggestion trains."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from playground.config import load_config
from playground.train.lr_finder import find_lr, suggest
from tests.unit.run_helper import Run

ROOT = Path(__file__).resolve().parents[2]


def test_rates_rise_exponentially_and_the_test_stops_after_a_blow_up():
    cfg = load_config(ROOT / "examples" / "digits_mlp.yaml")
    r = find_lr(cfg, start=1e-5, end=100.0, steps=80)
    ratios = r["lr"][1:] / r["lr"][:-1]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)
    np.testing.assert_allclose(r["lr"][0], 1e-5)
    assert len(r["lr"]) < 80, "lr up to 100 with Adam must blow the loss up before the end"
    assert r["smoothed"][-1] > 2 * r["smoothed"].min()


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_the_suggestion_trains(optimizer):
    cfg = load_config(ROOT / "examples" / "digits_mlp.yaml")
    cfg.optim.name = optimizer
    r = find_lr(cfg)
    assert r["suggestion"] is not None and 1e-4 < r["suggestion"] < 1.0
    cfg.optim.lr, cfg.epochs = r["suggestion"], 5
    assert Run(cfg).run()["val_accuracy"] > 0.9


def test_suggest_picks_the_steepest_fall_below_the_minimum():
    lrs = np.logspace(-4, 0, 41)                                # 10 points per decade
    loss = np.concatenate([np.full(15, 2.0), np.linspace(2.0, 0.5, 15), np.linspace(0.5, 3.0, 11)])
    low = int(np.argmin(loss))                                  # the minimum at lrs[29]
    got = suggest(lrs, loss)
    assert got <= lrs[low] / 10 + 1e-12
    assert lrs[15] <= got <= lrs[17]                            # where the steady fall begins
    assert suggest(lrs[:3], loss[:3]) is None


@pytest.mark.parametrize("example, loss", [("transformer_reverse.yaml", "cross-entropy at each position"),
                                           ("curve_goodfit.yaml", "mse"), ("mnist_autoencoder.yaml", "mse")])
def test_the_range_test_uses_the_runs_own_loss(example, loss):
    """Found by the crawler: the range test always took a classifier's cross-entropy, so a sequence
    model's (B, L, classes) outputs raised 'Expected target size' (and a regression's or an
    autoencoder's loss was not theirs). Its first loss is now the run's own loss at its first step."""
    import torch

    cfg = load_config(ROOT / "examples" / example)
    cfg.data.n_samples = min(cfg.data.n_samples, 400)
    cfg.data.max_train = 300
    r = find_lr(cfg, steps=12)
    assert len(r["lr"]) == 12 and np.isfinite(r["loss"]).all()
    run = Run(cfg)
    run.prepare()
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    idx = torch.randperm(len(run.data.X_train), generator=gen)[:cfg.batch_size]
    xb = run.data.X_train[idx]
    first = run.task.loss(run.model(xb), run.task.target(xb, run.data.y_train[idx]), run.model).item()
    assert r["loss"][0] == pytest.approx(first, rel=1e-5), loss
