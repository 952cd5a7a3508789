"""Overlaid curves of several runs (a comparison), against step, epoch, samples seen or wall time."""
from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd

from playground.viz.curves import downsample, ema

X_AXES = {"step": "step", "epoch": "epoch", "samples": "samples seen", "time": "wall-clock seconds"}
METRICS = {"train_loss_step": "training loss (per step)", "val_loss": "validation loss",
           "val_acc": "validation accuracy", "train_loss": "training loss (per epoch)",
           "train_acc": "training accuracy (per epoch)", "lr": "learning rate"}
EPOCH_KEYS = {"val_loss", "val_acc", "train_loss", "train_acc"}
PALETTE = ["#1f77b4", "#e4572e", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"]


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
                  log_y: bool = False, height: int = 380) -> alt.Chart:
    """curves: (variant name, history snapshot, steps per epoch). Diverged variants get a red cross
    where they blew up; the spec does not depend on the data, so live redraws swap data only."""
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
    color = alt.Color("variant:N", title=None, scale=alt.Scale(domain=names, range=PALETTE[:len(names)]),
                      legend=alt.Legend(orient="top", labelLimit=260))
    y_title = METRICS[metric] + (" (smoothed)" if metric == "train_loss_step" and smoothing else "")
    y_scale = alt.Scale(type="log") if log_y else (alt.Scale(domain=[0, 1]) if "acc" in metric else alt.Scale(zero=False))
    x = alt.X("x:Q", title=X_AXES[x_axis])
    lines = alt.Chart(df).mark_line(point=metric in EPOCH_KEYS, strokeWidth=2).encode(
        x=x, y=alt.Y("y:Q", title=y_title, scale=y_scale), color=color,
        tooltip=[alt.Tooltip("variant:N"), alt.Tooltip("x:Q", title=X_AXES[x_axis], format=",.4~f"),
                 alt.Tooltip("y:Q", title=METRICS[metric], format=".4~g")])
    crosses = alt.Chart(ends).mark_point(shape="cross", size=220, filled=True, color="#d62728").encode(
        x="x:Q", y="y:Q", tooltip=[alt.Tooltip("variant:N"), alt.Tooltip("note:N")])
    return (lines + crosses).properties(height=height)


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    return max(1, math.ceil(n_train / batch_size))
