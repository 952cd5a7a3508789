"""Overlaid curves of several runs (a comparison), against step, epoch, samples seen or wall time."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from playground.viz.curves import downsample, ema, q, tip
from playground.viz.palette import DASHES, LINES, cycled

X_AXES = {"step": "step", "epoch": "epoch", "samples": "samples seen", "time": "wall-clock seconds"}
METRICS = {"train_loss_step": "training loss (per step)", "val_loss": "validation loss",
           "val_acc": "validation accuracy", "train_loss": "training loss (per epoch)",
           "train_acc": "training accuracy (per epoch)", "lr": "learning rate"}
EPOCH_KEYS = {"val_loss", "val_acc", "train_loss", "train_acc"}
PALETTE = LINES            # apart for the common colour-vision deficiencies (playground.viz.palette)


def _x_from_steps(steps: np.ndarray, snap: dict, x_axis: str, steps_per_epoch: int) -> np.ndarray:
    if x_axis == "step":
        return steps
    if x_axis == "epoch":
        return steps / steps_per_epoch
    marks = snap["marks"]
    if not marks:
        return np.full(len(steps), np.nan)
    col = 1 if x_axis == "samples" else 2
    return np.interp(steps, [m[0] for m in marks], [m[col] for m in marks])


def series(name: str, snap: dict, metric: str, x_axis: str, steps_per_epoch: int,
           smoothing: float = 0.0, max_points: int = 800) -> pd.DataFrame:
    """One variant's curve as rows (variant, x, y)."""
    if metric == "train_loss_step":
        steps, y = downsample(snap["step_x"], snap["step_loss"], max_points)
        y = ema(y, smoothing) if smoothing and len(y) else y
    elif metric == "lr":
        steps = np.asarray([m[0] for m in snap["marks"]], float)
        y = np.asarray([m[3] for m in snap["marks"]], float)
    else:
        ep = snap["epochs"]
        key = {"step": "step", "epoch": "epoch", "samples": "samples", "time": "time_s"}[x_axis]
        return pd.DataFrame({"variant": name, "x": [e[key] for e in ep], "y": [e[metric] for e in ep]})
    x = _x_from_steps(np.asarray(steps, float), snap, x_axis, steps_per_epoch)
    return pd.DataFrame({"variant": name, "x": x, "y": y})


def compare_chart(curves: list[tuple[str, dict, int]], metric: str, x_axis: str, smoothing: float = 0.6,
                  log_y: bool = False, height: int = 380) -> dict:
    """curves: (variant name, history snapshot, steps per epoch). A Vega-Lite spec (see viz/curves.py
    for why not Altair). Diverged variants get a red cross where they blew up; the spec does not
    depend on the data, so live redraws swap data only."""
    names = [c[0] for c in curves]
    frames = [series(n, s, metric, x_axis, spe, smoothing) for n, s, spe in curves]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["variant", "x", "y"])
    df = df[np.isfinite(df["y"].astype(float)) & np.isfinite(df["x"].astype(float))]
    if log_y:
        df = df[df["y"] > 0]
    ends = []
    for (name, snap, _), frame in zip(curves, frames):
        frame = frame[np.isfinite(frame["y"].astype(float))]
        if snap["status"] == "diverged" and len(frame):
            ends.append({"variant": name, "x": frame["x"].iloc[-1], "y": frame["y"].iloc[-1],
                         "note": f"diverged at step {snap['diverged_at']}"})
    ends = pd.DataFrame(ends, columns=["variant", "x", "y", "note"])
    color = {"field": "variant", "type": "nominal", "title": None,
             "scale": {"domain": names, "range": cycled(PALETTE, len(names))},
             "legend": {"orient": "top", "labelLimit": 260, "symbolStrokeWidth": 3, "symbolSize": 300}}
    dash = {"field": "variant", "type": "nominal", "title": None,          # the second cue: a dash per variant
            "scale": {"domain": names, "range": cycled(DASHES, len(names))}, "legend": None}
    y_title = METRICS[metric] + (" (smoothed)" if metric == "train_loss_step" and smoothing else "")
    y_scale = {"type": "log"} if log_y else ({"domain": [0, 1]} if "acc" in metric else {"zero": False})
    x = q("x", X_AXES[x_axis])
    return {"height": height, "datasets": {"curves": df.reset_index(drop=True), "ends": ends}, "layer": [
        {"data": {"name": "curves"}, "mark": {"type": "line", "point": metric in EPOCH_KEYS, "strokeWidth": 2},
         "encoding": {"x": x, "y": q("y", y_title, scale=y_scale), "color": color, "strokeDash": dash,
                      "tooltip": [tip("variant", kind="nominal"), tip("x", ",.4~f", X_AXES[x_axis]),
                                  tip("y", ".4~g", METRICS[metric])]}},
        {"data": {"name": "ends"}, "mark": {"type": "point", "shape": "cross", "size": 220, "filled": True,
                                            "color": "#d62728"},
         "encoding": {"x": q("x"), "y": q("y"),
                      "tooltip": [tip("variant", kind="nominal"), tip("note", kind="nominal")]}},
    ]}


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    return max(1, math.ceil(n_train / batch_size))
