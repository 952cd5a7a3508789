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


def _encodings(names: list[str], metric: str, smoothing: float, log_y: bool) -> tuple[dict, dict, str, dict]:
    """(colour, dash, y title, y scale) of the variants' lines: a colour and a dash per variant (two cues)."""
    color = {"field": "variant", "type": "nominal", "title": None,
             "scale": {"domain": names, "range": cycled(PALETTE, len(names))},
             "legend": {"orient": "top", "labelLimit": 260, "symbolStrokeWidth": 3, "symbolSize": 300}}
    dash = {"field": "variant", "type": "nominal", "title": None,          # the second cue: a dash per variant
            "scale": {"domain": names, "range": cycled(DASHES, len(names))}, "legend": None}
    y_title = METRICS[metric] + (" (smoothed)" if metric == "train_loss_step" and smoothing else "")
    y_scale = {"type": "log"} if log_y else ({"domain": [0, 1]} if "acc" in metric else {"zero": False})
    return color, dash, y_title, y_scale


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
    color, dash, y_title, y_scale = _encodings(names, metric, smoothing, log_y)
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


BANDS = {"minmax": "lowest to highest seed", "std": "mean ± 1 standard deviation"}


def seed_bands(name: str, runs: list[tuple[int, dict, int]], metric: str, x_axis: str, smoothing: float = 0.0,
               points: int = 200) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One variant's runs over seeds (seed, history snapshot, steps per epoch): (its band, the seeds' own
    curves). The band's rows (variant, x, mean, std, lo, hi, n): at each x, over the seeds whose curve
    reaches it (a seed still training counts up to where it is). Epoch metrics keep their own x values;
    per-step ones are put on `points` evenly spaced x values first (each seed's steps are downsampled)."""
    own = [series(name, snap, metric, x_axis, spe, smoothing).assign(seed=str(seed)) for seed, snap, spe in runs]
    own = [f[np.isfinite(f["y"].astype(float)) & np.isfinite(f["x"].astype(float))] for f in own]
    own = [f for f in own if len(f)]
    cols = ["variant", "x", "mean", "std", "lo", "hi", "n"]
    if not own:
        return pd.DataFrame(columns=cols), pd.DataFrame(columns=["variant", "x", "y", "seed"])
    xs = [f["x"].to_numpy(float) for f in own]
    if metric in EPOCH_KEYS and x_axis != "time":
        grid = np.unique(np.concatenate(xs))
    else:
        grid = np.linspace(min(x.min() for x in xs), max(x.max() for x in xs), points)
    ys = np.full((len(own), len(grid)), np.nan)
    for k, (x, f) in enumerate(zip(xs, own)):
        order = np.argsort(x)
        inside = (grid >= x[order][0]) & (grid <= x[order][-1])
        ys[k, inside] = np.interp(grid[inside], x[order], f["y"].to_numpy(float)[order])
    n = np.isfinite(ys).sum(0)
    keep = n > 0
    ys, grid, n = ys[:, keep], grid[keep], n[keep]
    mean = np.nanmean(ys, 0)
    dev = np.where(np.isfinite(ys), ys - mean, 0.0)                           # a seed not there adds nothing
    std = np.sqrt((dev ** 2).sum(0) / np.maximum(n - 1, 1)) * (n > 1)          # sample std; 0 for one seed
    band = pd.DataFrame({"variant": name, "x": grid, "mean": mean, "std": std, "lo": np.nanmin(ys, 0),
                         "hi": np.nanmax(ys, 0), "n": n})
    return band, pd.concat(own, ignore_index=True)


def band_chart(variants: list[tuple[str, list[tuple[int, dict, int]]]], metric: str, x_axis: str,
               smoothing: float = 0.6, log_y: bool = False, band: str = "minmax", each: bool = False,
               height: int = 380) -> dict:
    """A comparison over seeds: per variant (name, its runs (seed, snapshot, steps per epoch)) the mean
    over the seeds as a line (colour and dash per variant, as compare_chart), a shaded band (BANDS: the
    lowest to highest seed, or the mean ± one standard deviation) and, with each, every seed's own curve
    thin and faint. The spec does not depend on the data: live redraws swap data only."""
    names = [v[0] for v in variants]
    parts = [seed_bands(name, runs, metric, x_axis, smoothing) for name, runs in variants]
    bands = pd.concat([p[0] for p in parts], ignore_index=True) if parts else pd.DataFrame(
        columns=["variant", "x", "mean", "std", "lo", "hi", "n"])
    if band == "std":
        bands = bands.assign(lo=bands["mean"] - bands["std"], hi=bands["mean"] + bands["std"])
    seeds = pd.concat([p[1] for p in parts], ignore_index=True) if parts and each else pd.DataFrame(
        columns=["variant", "x", "y", "seed"])
    if log_y:
        bands = bands[(bands["mean"] > 0)].assign(lo=lambda d: d["lo"].clip(lower=d["mean"].min() * 1e-3))
        seeds = seeds[seeds["y"] > 0]
    color, dash, y_title, y_scale = _encodings(names, metric, smoothing, log_y)
    x = q("x", X_AXES[x_axis])
    data = {"bands": bands.reset_index(drop=True), "seeds": seeds.reset_index(drop=True)}
    return {"height": height, "datasets": data,
            "description": f"{METRICS[metric]} against {X_AXES[x_axis]}: per variant the mean over the seeds, "
                           f"with a band from {BANDS[band]}", "layer": [
        {"data": {"name": "bands"}, "mark": {"type": "area", "opacity": 0.18},
         "encoding": {"x": x, "y": q("lo", y_title, scale=y_scale), "y2": {"field": "hi"},
                      "color": {**color, "legend": None}}},
        {"data": {"name": "seeds"}, "mark": {"type": "line", "strokeWidth": 1, "opacity": 0.35},
         "encoding": {"x": q("x"), "y": q("y"), "color": {**color, "legend": None},
                      "detail": {"field": "seed", "type": "nominal"},
                      "tooltip": [tip("variant", kind="nominal"), tip("seed", kind="nominal"),
                                  tip("y", ".4~g", METRICS[metric])]}},
        {"data": {"name": "bands"}, "mark": {"type": "line", "strokeWidth": 2.5},
         "encoding": {"x": x, "y": q("mean"), "color": color, "strokeDash": dash,
                      "tooltip": [tip("variant", kind="nominal"), tip("x", ",.4~f", X_AXES[x_axis]),
                                  tip("mean", ".4~g", f"mean {METRICS[metric]}"), tip("lo", ".4~g", "band from"),
                                  tip("hi", ".4~g", "band to"), tip("n", "d", "seeds")]}},
    ]}
