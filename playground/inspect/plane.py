"""What a network does over two chosen inputs of a table: the plane of inputs x and y, every other input
held at its training mean, and what the frozen model predicts at each point of it (the class and how
sure, or the number). A slice through a space of many dimensions: the summary says how often the
plane's answer at a row's own (x, y) agrees with the model's answer on the whole row, so nobody reads
more into the picture than it shows.
"""
from __future__ import annotations

import numpy as np
import torch

from playground.config import EVAL_BATCH
from playground.errors import PlaygroundError
from playground.inspect.evaluate import SPLITS, View

GRID = 90              # points a side of the plane


def feature_names(data) -> list[str]:
    return list(data.meta.get("feature_names") or [f"x{i + 1}" for i in range(data.X_train.shape[1])])


def _column(names: list[str], chosen, flag: str, default: int) -> int:
    """The input `chosen` names (its name, or its number from 1) as an index; `default` when None."""
    if chosen is None or chosen == "":
        return default
    if str(chosen) in names:
        return names.index(str(chosen))
    if str(chosen).isdigit() and 1 <= int(chosen) <= len(names):
        return int(chosen) - 1
    raise PlaygroundError(f"{flag}: no input '{chosen}'; the inputs are {', '.join(names)} (a name, or its number "
                          f"from 1)")


@torch.no_grad()
def _outputs(frozen, X: torch.Tensor) -> torch.Tensor:
    """What the task pictures for inputs X (N, F): class probabilities (N, C), or the prediction (N,)."""
    model, task = frozen.model, frozen.task
    device = next(model.parameters()).device
    model.eval()
    outs = []
    for i in range(0, len(X), EVAL_BATCH):
        out = model(X[i:i + EVAL_BATCH].to(device)).float()
        outs.append((task.probs(out) if task.name == "classification" else out[:, 0]).cpu())
    return torch.cat(outs)


def plane(frozen, x=None, y=None, split: str = "val", n: int = GRID) -> View:
    """The plane of inputs x and y (names or numbers from 1; default the first two), the others at their
    training mean. Arrays: xs (n,), ys (n,) in the inputs' own units; classification: cls (n, n) the
    predicted class and conf (n, n) its probability, rows following y; regression: pred (n, n); the
    split's points px, py (N,) and their labels; agree (N,) whether the plane's answer at the row's
    (x, y) is the model's answer on the whole row (regression: within a tenth of the targets' spread)."""
    data, task = frozen.data, frozen.task
    if split not in SPLITS:
        raise PlaygroundError(f"split: '{split}' is not one of {', '.join(SPLITS)}")
    if data.X_train.ndim != 2 or data.X_train.shape[1] < 2 or data.kind not in ("table", "points"):
        raise PlaygroundError(f"the plane of two inputs is for a table's rows (or 2-D points); '{data.name}' holds "
                              f"{data.kind} of shape {tuple(data.X_train.shape[1:])}")
    if task is None or task.name not in ("classification", "regression"):
        raise PlaygroundError(f"the plane of two inputs pictures a classifier or a regression; this run is a "
                              f"{getattr(task, 'name', 'network')} run")
    names = feature_names(data)
    i, j = _column(names, x, "--x", 0), _column(names, y, "--y", 1)
    if i == j:
        raise PlaygroundError(f"--y: pick two different inputs ('{names[i]}' twice)")
    X = torch.cat([data.X_train, data.X_val]).float()
    lo, hi = X.min(0).values, X.max(0).values
    pad = (hi - lo) * 0.08
    gx = torch.linspace(float(lo[i] - pad[i]), float(hi[i] + pad[i]), n)
    gy = torch.linspace(float(lo[j] - pad[j]), float(hi[j] + pad[j]), n)
    mean = data.X_train.float().mean(0)                        # the others: at their training mean
    grid = mean.repeat(n * n, 1)
    yy, xx = torch.meshgrid(gy, gx, indexing="ij")              # (n, n): rows follow y
    grid[:, i], grid[:, j] = xx.reshape(-1), yy.reshape(-1)
    P, Y = (data.X_val, data.y_val) if split == "val" else (data.X_train, data.y_train)
    on_plane = mean.repeat(len(P), 1)
    on_plane[:, i], on_plane[:, j] = P[:, i].float(), P[:, j].float()
    out_grid, out_rows, out_plane = _outputs(frozen, grid), _outputs(frozen, P.float()), _outputs(frozen, on_plane)
    scale, shift = _units(data, i, j)
    arrays = {"xs": gx.numpy() * scale[0] + shift[0], "ys": gy.numpy() * scale[1] + shift[1],
              "px": P[:, i].float().numpy() * scale[0] + shift[0], "py": P[:, j].float().numpy() * scale[1] + shift[1],
              "labels": Y.numpy().reshape(len(Y), -1)[:, 0]}
    summary = {"epoch": frozen.epoch, "step": frozen.step, "split": split, "x": names[i], "y": names[j],
               "inputs": len(names), "n": len(P), "task": task.name}
    if task.name == "classification":
        conf, cls = out_grid.max(1)
        arrays.update(cls=cls.reshape(n, n).numpy(), conf=conf.reshape(n, n).numpy(),
                      class_names=np.array([str(c) for c in data.class_names]))
        agree = (out_plane.argmax(1) == out_rows.argmax(1)).numpy()
    else:
        arrays["pred"] = out_grid.reshape(n, n).numpy()
        spread = float(Y.float().std()) or 1.0
        agree = ((out_plane - out_rows).abs() <= 0.1 * spread).numpy()
    arrays["agree"] = agree
    summary["agreement"] = float(agree.mean())
    held = {names[k]: round(float(mean[k]) * _scale_of(data, k) + _shift_of(data, k), 4)
            for k in range(len(names)) if k not in (i, j)}
    summary["held_at_mean"] = held
    return View(arrays, summary)


def _scale_of(data, k: int) -> float:
    std = data.meta.get("x_std")
    return float(std[k]) if std is not None else 1.0


def _shift_of(data, k: int) -> float:
    mean = data.meta.get("x_mean")
    return float(mean[k]) if mean is not None else 0.0


def _units(data, i: int, j: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """(scale, shift) of inputs i and j back to their own units (a standardised table's statistics)."""
    return (_scale_of(data, i), _scale_of(data, j)), (_shift_of(data, i), _shift_of(data, j))
