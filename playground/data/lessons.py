"""Tiny sets from the course notes' worked examples, where every number can be checked by hand.

Validation is the training set itself: there is nothing else to hold out of four points.
"""
from __future__ import annotations

import torch

LESSONS = {                       # name: (title, kind, task, about)
    "xor_table": ("XOR truth table", "points", "classification",
                  "the four points (0,0)->0, (0,1)->1, (1,0)->1, (1,1)->0; a straight line cannot separate them"),
    "one_point": ("One point (x=2, y=6)", "curve", "regression",
                  "a single example for gradient descent by hand: predict y = w x"),
}


def load_xor_table(cfg, seed: int):
    from playground.data import Dataset

    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([0, 1, 1, 0])
    return Dataset("xor_table", "points", X, y, X.clone(), y.clone(), ["0", "1"])


def load_one_point(cfg, seed: int):
    from playground.data import Dataset

    X, y = torch.tensor([[2.0]]), torch.tensor([[6.0]])
    return Dataset("one_point", "curve", X, y, X.clone(), y.clone(), [], task="regression", target_names=["y"])
