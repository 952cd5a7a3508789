"""LR range test (Smith 2015; fastai's lr_find): raise the learning rate exponentially over a short
run from a copy of the run's initial state, and record the loss at each rate.

The suggestion is the rate where the smoothed loss falls fastest (steepest negative slope against
log lr) in the two decades below the rate of the loss minimum, but at most a tenth of that
minimum's rate (fastai's two rules, the more careful of them): fast learning, short of the
blow-up. It is a starting point to try, not a guarantee.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from playground.config import RunConfig
from playground.train.trainer import Trainer


def find_lr(config: RunConfig, start: float = 1e-6, end: float = 10.0, steps: int = 100,
            smoothing: float = 0.8) -> dict:
    """{"lr": (k,), "loss": (k,), "smoothed": (k,), "suggestion": float | None}; k <= steps, the test
    ends early once the smoothed loss passes 4x its best (it has blown up)."""
    run = Trainer.from_config(config)
    run.build()
    model, opt = run.model, run.optimizer
    X, y = run.data.X_train.to(run.device), run.data.y_train.to(run.device)
    gen = torch.Generator().manual_seed(config.seed + 1)
    factor = (end / start) ** (1 / max(steps - 1, 1))
    lrs, losses, smoothed = [], [], []
    avg, best = 0.0, math.inf
    perm, pos, bs = torch.randperm(len(X), generator=gen), 0, config.batch_size
    model.train()
    for k in range(steps):
        lr = start * factor ** k
        for g in opt.param_groups:
            g["lr"] = lr
        if pos + bs > len(X):
            perm, pos = torch.randperm(len(X), generator=gen), 0
        idx = perm[pos:pos + bs].to(run.device)
        pos += bs
        xb = X[idx]
        loss = run.task.loss(model(xb), run.task.target(xb, y[idx]), model)   # the run's own loss, whatever its task
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        value = loss.item()
        if not math.isfinite(value):
            break
        avg = smoothing * avg + (1 - smoothing) * value
        s = avg / (1 - smoothing ** (k + 1))
        lrs.append(lr)
        losses.append(value)
        smoothed.append(s)
        best = min(best, s)
        if s > 4 * best and k > 10:
            break
    return {"lr": np.array(lrs), "loss": np.array(losses), "smoothed": np.array(smoothed),
            "suggestion": suggest(np.array(lrs), np.array(smoothed))}


def suggest(lrs: np.ndarray, smoothed: np.ndarray, decades: float = 2.0) -> float | None:
    """min(steepest descent of the smoothed loss vs log10(lr) within `decades` below the rate of
    the smoothed loss's minimum, that rate / 10)."""
    if len(lrs) < 5:
        return None
    low = int(np.argmin(smoothed))
    careful = float(lrs[low] / 10)
    first = int(np.searchsorted(lrs, lrs[low] / 10 ** decades))
    if low - first < 3:
        return careful
    slope = np.gradient(smoothed[first:low + 1], np.log10(lrs[first:low + 1]))
    return min(float(lrs[first + int(np.argmin(slope))]), careful)
