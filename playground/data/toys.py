"""2-D toy sets in the TensorFlow Playground tradition: two classes of points in [-1, 1]^2-ish."""
from __future__ import annotations

import functools

import numpy as np
import torch

TOYS = {
    "circle": ("Circle", "a disc of one class inside a ring of the other"),
    "xor": ("XOR", "four quadrants, opposite ones share a class"),
    "gaussians": ("Two Gaussians", "two blobs; nearly linearly separable"),
    "spiral": ("Spiral", "two interleaved spiral arms; needs depth"),
    "moons": ("Moons", "two interleaving half circles"),
}


def _spiral(n: int, noise: float, rng: np.random.RandomState):
    half = n // 2
    t = np.sqrt(rng.rand(half)) * 3 * np.pi            # angle, denser near the centre
    arms = []
    for k in (0, 1):
        r = t / (3 * np.pi)
        a = t + k * np.pi
        arms.append(np.stack([r * np.cos(a), r * np.sin(a)], 1))
    X = np.concatenate(arms) + rng.randn(2 * half, 2) * noise * 0.25
    return X, np.repeat([0, 1], half)


def _xor(n: int, noise: float, rng: np.random.RandomState):
    X = rng.uniform(-1, 1, size=(n, 2))
    X += np.sign(X) * 0.05                              # a small margin around the axes
    y = (X[:, 0] * X[:, 1] < 0).astype(int)
    return X + rng.randn(n, 2) * noise * 0.5, y


def generate(name: str, n: int, noise: float, seed: int):
    """(X, y) numpy arrays: X (n, 2) float, y (n,) in {0, 1}."""
    rng = np.random.RandomState(seed)
    if name in ("circle", "moons", "gaussians"):
        import sklearn.datasets as skd  # ~2 s to import: only for the sets that need it (not the default)
    if name == "circle":
        X, y = skd.make_circles(n, noise=noise * 0.3, factor=0.45, random_state=rng)
        y = 1 - y                                       # class 1 = inner disc
    elif name == "moons":
        X, y = skd.make_moons(n, noise=noise * 0.5, random_state=rng)
        X = (X - [0.5, 0.25]) / 1.2                      # centre on the origin
    elif name == "gaussians":
        X, y = skd.make_blobs(n, centers=[[-0.5, -0.5], [0.5, 0.5]], cluster_std=0.15 + noise, random_state=rng)
    elif name == "xor":
        X, y = _xor(n, noise, rng)
    elif name == "spiral":
        X, y = _spiral(n, noise, rng)
    else:
        raise KeyError(name)
    return X.astype(np.float32), y.astype(np.int64)


@functools.lru_cache(maxsize=32)
def _load(name: str, n: int, noise: float, val_fraction: float, seed: int):
    from playground.data import Dataset, split

    X, y = generate(name, n, noise, seed)
    Xtr, ytr, Xva, yva = split(torch.from_numpy(X), torch.from_numpy(y), val_fraction, seed)
    return Dataset(name, "points", Xtr, ytr, Xva, yva, ["class 0", "class 1"])


def loader(name: str):
    def load(cfg, seed: int):
        return _load(name, cfg.n_samples, float(cfg.noise), float(cfg.val_fraction), seed)
    return load
