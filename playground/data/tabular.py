"""Tabular classification sets that ship with scikit-learn: breast cancer (569 x 30, 2 classes) and
wine (178 x 13, 3 classes); and a generated one whose answer is known: ten features of which only
two decide the label (the check that SHAP ranks features honestly).

With data.standardize (the default) each input column is scaled to mean 0, std 1 using statistics of
the training split only, so nothing leaks from validation. Without it the raw columns stay: breast
cancer's areas run into the thousands next to smoothness values near 0.1, the pitfall to show.
"""
from __future__ import annotations

import functools

import numpy as np
import torch

TABLES = {
    "breast_cancer": ("Breast cancer (sklearn)", "load_breast_cancer",
                      "569 tumours, 30 measurements each, malignant or benign; ships with scikit-learn"),
    "wine": ("Wine (sklearn)", "load_wine",
             "178 wines, 13 chemical measurements each, 3 cultivars; ships with scikit-learn"),
}


@functools.lru_cache(maxsize=4)
def sklearn_table(fn: str, **kw):
    """(X float32 (N, F), target array, feature names, target names) of sklearn.datasets.<fn>(**kw); cached."""
    import sklearn.datasets as skd  # ~2 s to import: only for the sets that need it

    b = getattr(skd, fn)(**kw)
    names = [str(t) for t in getattr(b, "target_names", [])]
    return (torch.from_numpy(np.asarray(b.data, np.float32)), b.target, [str(f) for f in b.feature_names], names)


def fit_scale(X_train: torch.Tensor):
    """Column mean and std (N-denominator) of the training inputs; a constant column gets std 1."""
    mean = X_train.mean(0)                                           # (F,)
    std = X_train.std(0, unbiased=False)                             # (F,)
    return mean, torch.where(std > 0, std, torch.ones_like(std))


def standardize(X_train: torch.Tensor, X_val: torch.Tensor, meta: dict):
    """Scale both splits with the training split's statistics; record them in meta["x_mean"/"x_std"]."""
    mean, std = fit_scale(X_train)
    meta["x_mean"], meta["x_std"] = mean, std
    return ((X_train - mean) / std).contiguous(), ((X_val - mean) / std).contiguous()


def loader(name: str):
    def load(cfg, seed: int):
        from playground.data import Dataset, split

        X, target, features, classes = sklearn_table(TABLES[name][1])
        y = torch.from_numpy(np.asarray(target, np.int64))
        Xtr, ytr, Xva, yva = split(X, y, cfg.val_fraction, seed, cfg.max_train)
        meta = {"feature_names": features}
        if cfg.standardize:
            Xtr, Xva = standardize(Xtr, Xva, meta)
        return Dataset(name, "table", Xtr, ytr, Xva, yva, classes, meta)
    return load


TWO_OF_TEN = ("f3", "f8")       # the generated table's deciding features


def make_two_of_ten(n: int, seed: int):
    """n rows of ten standard-normal features f1..f10; the label is 1 when f3 + f8 > 0 (the other
    eight are noise). (X float32 (n, 10), y int64 (n,), feature names)."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 10).astype(np.float32)
    y = (X[:, 2] + X[:, 7] > 0).astype(np.int64)
    return torch.from_numpy(X), torch.from_numpy(y), [f"f{i + 1}" for i in range(10)]


def load_two_of_ten(cfg, seed: int):
    from playground.data import Dataset, split

    X, y, features = make_two_of_ten(max(cfg.n_samples, 1000), seed)
    Xtr, ytr, Xva, yva = split(X, y, cfg.val_fraction, seed, cfg.max_train)
    meta = {"feature_names": features, "deciding_features": list(TWO_OF_TEN)}
    if cfg.standardize:
        Xtr, Xva = standardize(Xtr, Xva, meta)
    return Dataset("two_of_ten", "table", Xtr, ytr, Xva, yva, ["no", "yes"], meta)
