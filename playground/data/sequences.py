"""Token sequence tasks for attention models: X int64 (N, L) of tokens in [0, vocab), L = data.seq_len.

Per-position tasks (y (N, L), -100 where a position is not scored): reverse, sort, induction,
histogram. Per-sequence task (y (N,)): max. data.n_samples sequences are generated as given; these
tasks train well from about 4,000 sequences (the 2-D toys' default of 500 is small for them).
Generation is vectorised numpy from RandomState(seed): 4,000 x 8 takes a few milliseconds (induction
shuffles the vocabulary once per sequence: about 0.5 s for 4,000 sequences with vocab 1,000).
"""
from __future__ import annotations

import numpy as np
import torch

from playground.errors import DataError

IGNORE = -100                 # target of a position that is not scored (torch's cross_entropy ignore_index)

SEQUENCES = {
    "reverse": ("Reverse (tokens)", "output the input sequence backwards; each position must find its mirror"),
    "sort": ("Sort (tokens)", "output the input tokens in ascending order"),
    "max": ("Max (tokens)", "name the largest token of the sequence (it occurs once); attention should find it"),
    "induction": ("Induction (tokens)", "a random segment repeats; predict the next token from its earlier occurrence"),
    "histogram": ("Histogram (tokens)", "at each position, count how often that token occurs in the sequence"),
}


def generate(name: str, n: int, seq_len: int, vocab: int, seed: int):
    """(X (n, L) int64, y int64, per-sample extras {key: (n,) int64}) for one task."""
    rng = np.random.RandomState(seed)
    L = seq_len
    if name == "max":
        # the max m is uniform over 1..vocab-1 (balanced classes), at one random position; the other
        # tokens are uniform below m, so the max is unique
        m = rng.randint(1, vocab, n)                                       # (N,)
        X = np.floor(rng.rand(n, L) * m[:, None]).astype(np.int64)         # (N, L) in [0, m)
        pos = rng.randint(0, L, n)                                         # (N,)
        X[np.arange(n), pos] = m
        return X, m.astype(np.int64), {"max_pos": pos.astype(np.int64)}
    if name == "induction":
        p_max = min(L // 2, vocab)
        if p_max < 2:
            raise DataError(f"data.seq_len: induction repeats a segment of 2 or more tokens at least twice, "
                            f"so it needs seq_len >= 4, got {L}; set data.seq_len to 4 or more")
        period = rng.randint(2, p_max + 1, n)                              # (N,)
        seg = np.argsort(rng.rand(n, vocab), axis=1)[:, :p_max]            # (N, p_max) distinct tokens per row
        t = np.arange(L)[None, :]                                          # (1, L)
        X = np.take_along_axis(seg, t % period[:, None], 1)                # (N, L)
        y = np.take_along_axis(seg, (t + 1) % period[:, None], 1)          # the next token
        y[t < period[:, None]] = IGNORE           # scored once the current token has occurred before
        return X.astype(np.int64), y.astype(np.int64), {"period": period.astype(np.int64)}
    X = rng.randint(0, vocab, (n, L)).astype(np.int64)                  # (N, L)
    if name == "reverse":
        y = X[:, ::-1].copy()
    elif name == "sort":
        y = np.sort(X, axis=1)
    elif name == "histogram":                 # per row, count each token, then read X's counts back
        counts = np.bincount((np.arange(n)[:, None] * vocab + X).ravel(), minlength=n * vocab)
        y = np.take_along_axis(counts.reshape(n, vocab), X, 1)            # (N, L) counts in 1..L
    else:
        raise KeyError(name)
    return X, y, {}


def period_of(X: np.ndarray) -> np.ndarray:
    """(N,) the smallest p >= 2 with X[:, t] == X[:, t - p] for every t >= p: an induction sequence's
    period (its segment's tokens are distinct, so no smaller shift repeats it); 0 where none does."""
    N, L = X.shape
    out = np.zeros(N, np.int64)
    for p in range(L - 1, 1, -1):                     # the smallest that works is written last
        out[(X[:, p:] == X[:, :-p]).all(1)] = p
    return out


def targets(name: str, X: np.ndarray) -> np.ndarray:
    """The task's answer for token sequences X (N, L), as generate() gives it: (N, L) per position
    (IGNORE where not scored) or (N,) for max. For a sequence typed by a user, its right answer."""
    X = np.asarray(X, np.int64)
    if name == "reverse":
        return X[:, ::-1].copy()
    if name == "sort":
        return np.sort(X, axis=1)
    if name == "max":
        return X.max(1)
    if name == "histogram":
        return (X[:, :, None] == X[:, None, :]).sum(2).astype(np.int64)
    if name == "induction":
        period = period_of(X)
        t = np.arange(X.shape[1])[None, :]
        nxt = np.take_along_axis(X, np.minimum(t - period[:, None] + 1, X.shape[1] - 1).clip(0), 1)
        return np.where((period[:, None] > 0) & (t >= period[:, None]), nxt, IGNORE).astype(np.int64)
    raise KeyError(name)


def loader(name: str):
    def load(cfg, seed: int):
        from playground.data import Dataset, split_indices

        X, y, extra = generate(name, cfg.n_samples, cfg.seq_len, cfg.vocab, seed)
        X, y = torch.from_numpy(X), torch.from_numpy(y)
        train, val = split_indices(len(X), cfg.val_fraction, seed, cfg.max_train)
        meta = {}
        for key, values in extra.items():
            values = torch.from_numpy(values)
            meta[f"{key}_train"], meta[f"{key}_val"] = values[train], values[val]
        n_classes = cfg.seq_len + 1 if name == "histogram" else cfg.vocab       # counts 0..L, or the tokens
        classes = [str(c) for c in range(n_classes)]
        return Dataset(name, "tokens", X[train], y[train], X[val], y[val], classes, meta,
                       task="sequence", vocab=cfg.vocab)
    return load
