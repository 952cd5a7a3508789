"""Regression sets: TensorFlow Playground's two 2-D regression toys, a 1-D curve fit, and sklearn's
diabetes table. Targets are float32 (N, 1).

The generated sets (reg_plane, reg_gauss, curve) already have inputs in [-1, 1] and targets in about
[-1, 1], so data.standardize leaves them alone (the pages draw them in those units). Departure from
TF Playground: its noise jitters the input before labelling; here noise is added to the target,
noise * 0.5 * N(0, 1), the label noise regression lessons talk about.
"""
from __future__ import annotations

import numpy as np
import torch

from playground.errors import DataError

REGRESSION_TOYS = {
    "reg_plane": ("Plane (regression)", "y = (x1 + x2) / 2 over the square; a single linear unit fits it"),
    "reg_gauss": ("Multi-Gaussian (regression)", "six bumps of alternating sign; y is the strongest bump's value"),
}

# name -> (title, function on [-1, 1] with values in about [-1, 1])
FUNCTIONS = {
    "sine": ("sine  sin(2 pi x)", lambda x: np.sin(2 * np.pi * x)),
    "cubic": ("cubic  4x^3 - 3x", lambda x: 4 * x ** 3 - 3 * x),
    "step": ("step  sign(x)", lambda x: np.where(x < 0, -1.0, 1.0)),
    "abs": ("V shape  |x|", lambda x: np.abs(x)),
    "bump": ("Gaussian bump  exp(-x^2 / 0.08)", lambda x: np.exp(-x ** 2 / (2 * 0.2 ** 2))),
}

# TF Playground's regressGaussian over [-6, 6]^2, scaled by 1/6: (centre x, centre y, sign)
BUMPS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1],
                  [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]]) / [6, 6, 1]
BUMP_RADIUS = 2 / 6          # TF: value falls linearly from 1 at the centre to 0 at distance 2 (of 6)


def bumps(X: np.ndarray) -> np.ndarray:
    """(N, 2) -> (N,): the value of the bump whose |value| is largest, as TF Playground labels it.
    TF's 'Gaussians' are cones: sign * max(0, 1 - distance / radius)."""
    d = np.linalg.norm(X[:, None, :] - BUMPS[None, :, :2], axis=2)          # (N, 6)
    v = BUMPS[:, 2] * np.clip(1 - d / BUMP_RADIUS, 0, 1)                    # (N, 6)
    return v[np.arange(len(X)), np.abs(v).argmax(1)]


def generate(name: str, n: int, noise: float, seed: int, function: str = "sine"):
    """(X, y) numpy float32: X (n, 2) for reg_plane / reg_gauss, (n, 1) for curve; y (n, 1)."""
    rng = np.random.RandomState(seed)
    if name == "curve":
        if function not in FUNCTIONS:
            raise DataError(f"data.function: unknown function '{function}' for the curve fit; "
                            f"pick one of {', '.join(FUNCTIONS)}")
        X = rng.uniform(-1, 1, size=(n, 1))
        y = FUNCTIONS[function][1](X[:, 0])
    elif name == "reg_plane":
        X = rng.uniform(-1, 1, size=(n, 2))
        y = (X[:, 0] + X[:, 1]) / 2
    elif name == "reg_gauss":
        X = rng.uniform(-1, 1, size=(n, 2))
        y = bumps(X)
    else:
        raise KeyError(name)
    y = y + rng.randn(n) * noise * 0.5
    return X.astype(np.float32), y.astype(np.float32)[:, None]


def loader(name: str):
    def load(cfg, seed: int):
        from playground.data import Dataset, split

        X, y = generate(name, cfg.n_samples, float(cfg.noise), seed, cfg.function)
        Xtr, ytr, Xva, yva = split(torch.from_numpy(X), torch.from_numpy(y), cfg.val_fraction, seed, cfg.max_train)
        meta = {"function": cfg.function} if name == "curve" else {}
        kind = "curve" if name == "curve" else "points"
        return Dataset(name, kind, Xtr, ytr, Xva, yva, [], meta, task="regression", target_names=["y"])
    return load


def load_diabetes(cfg, seed: int):
    """sklearn's diabetes table in raw units (age in years, sex 1/2, ...): 442 patients x 10 inputs,
    target a disease progression score (25 to 346). The target is always scaled to mean 0, std 1 with
    the training split's statistics (meta "y_mean", "y_std" turn predictions back into score units);
    the inputs follow data.standardize."""
    from playground.data import Dataset, split
    from playground.data.tabular import fit_scale, sklearn_table, standardize

    X, target, features, _ = sklearn_table("load_diabetes", scaled=False)
    y = torch.from_numpy(np.asarray(target, np.float32)).unsqueeze(1)     # (442, 1)
    Xtr, ytr, Xva, yva = split(X, y, cfg.val_fraction, seed, cfg.max_train)
    y_mean, y_std = fit_scale(ytr)                                         # (1,), (1,)
    meta = {"feature_names": features, "y_mean": y_mean, "y_std": y_std}
    ytr, yva = ((ytr - y_mean) / y_std).contiguous(), ((yva - y_mean) / y_std).contiguous()
    if cfg.standardize:
        Xtr, Xva = standardize(Xtr, Xva, meta)
    return Dataset("diabetes", "table", Xtr, ytr, Xva, yva, [], meta, task="regression",
                   target_names=["progression"])
