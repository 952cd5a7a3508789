"""Tabular classification sets that ship with scikit-learn: breast cancer (569 x 30, 2 classes) and
wine (178 x 13, 3 classes).

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
    import sklearn.datasets as skd                  # ~2 s to import: only for the sets that need it

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
