"""Layer statistics over training: the records the engine's probe took at each snapshot
(playground/train/probe.py), as arrays by epoch and layer.

    view = stats(frozen, store.stats(run_id))
    view.arrays["grad_norm"]          # (E, W): gradient norm of each weighted layer at each recorded epoch
    view.summary["layers"]            # the chosen epoch's numbers, per layer
"""
from __future__ import annotations

import numpy as np

from playground.errors import PlaygroundError
from playground.inspect.evaluate import View
from playground.train.probe import BINS

NAN = float("nan")


def by_epoch(records: list[dict]) -> list[dict]:
    """One record per epoch (a resumed epoch's later record wins), by epoch."""
    out: dict[int, dict] = {}
    for r in sorted(records, key=lambda r: r["step"]):
        out[r["epoch"]] = r
    return [out[e] for e in sorted(out)]


def _num(v) -> float:
    return NAN if v is None else float(v)


def stats(frozen, records: list[dict], layer: int | None = None) -> View:
    """The run's statistics, with the summary at the snapshot's epoch (see stats_at)."""
    return stats_at(records, frozen.epoch, layer)


def stats_at(records: list[dict], epoch: int, layer: int | None = None) -> View:
    """Arrays (E recorded epochs, L layers, W of them with weights, BINS bins):
    epochs (E,), layer_index (L,), weight_layers (W,) (1-based numbers);
    act_mean, act_std, act_zero, dead, saturated (E, L) (NaN where a measure does not apply);
    act_counts (E, L, BINS), act_lo, act_hi (E, L): each output histogram's equal bins over [lo, hi];
    weight_/grad_ norm, std, counts, lo, hi (E, W[, BINS]); update_ratio (E, W) (NaN: unknown).
    The summary holds the numbers at `epoch` (the nearest earlier record), per layer; `layer`
    narrows the summary to one layer."""
    records = by_epoch(records)
    if not records:
        raise PlaygroundError("this run has no layer statistics: they are recorded at each weight snapshot of runs "
                              "trained with statistics on (the default; `stats: false` turns them off); train it again")
    first = records[0]["layers"]
    L = len(first)
    wl = [e["index"] for e in first if "weight" in e]
    if any(len(r["layers"]) != L for r in records):
        raise PlaygroundError("this run's statistics records disagree on the number of layers; the store is damaged")
    E, W = len(records), len(wl)
    a = {"epochs": np.array([r["epoch"] for r in records]), "steps": np.array([r["step"] for r in records]),
         "probe_loss": np.array([_num(r["loss"]) for r in records]),
         "layer_index": np.array([e["index"] for e in first]), "weight_layers": np.array(wl, dtype=np.int64)}
    for key in ("mean", "std", "zero"):
        a[f"act_{key}"] = np.array([[_num(e["act"][key]) for e in r["layers"]] for r in records]).reshape(E, L)
    for key in ("dead", "saturated"):
        a[key] = np.array([[_num(e["act"].get(key)) for e in r["layers"]] for r in records]).reshape(E, L)
    a["act_counts"] = np.array([[e["act"]["counts"] for e in r["layers"]] for r in records]).reshape(E, L, BINS)
    a["act_lo"] = np.array([[e["act"]["lo"] for e in r["layers"]] for r in records]).reshape(E, L)
    a["act_hi"] = np.array([[e["act"]["hi"] for e in r["layers"]] for r in records]).reshape(E, L)
    for kind in ("weight", "grad"):
        rows = [[e[kind] for e in r["layers"] if kind in e] for r in records]
        for key in ("norm", "std", "lo", "hi"):
            a[f"{kind}_{key}"] = np.array([[_num(s[key]) for s in row] for row in rows]).reshape(E, W)
        a[f"{kind}_counts"] = np.array([[s["counts"] for s in row] for row in rows]).reshape(E, W, BINS)
    a["update_ratio"] = np.array([[_num(e.get("update_ratio")) for e in r["layers"] if "weight" in e]
                                  for r in records]).reshape(E, W)

    at = max((i for i, r in enumerate(records) if r["epoch"] <= epoch), default=0)
    rec = records[at]
    layers = []
    for e in rec["layers"]:
        if layer is not None and e["index"] != layer:
            continue
        row = {"index": e["index"], "type": e["type"], "shape": e["shape"],
               "output_mean": e["act"]["mean"], "output_std": e["act"]["std"], "output_zero": e["act"]["zero"]}
        for key in ("dead", "saturated"):
            if key in e["act"]:
                row[key] = e["act"][key]
        if "weight" in e:
            row.update(weight_norm=e["weight"]["norm"], grad_norm=e["grad"]["norm"], update_ratio=e.get("update_ratio"))
        layers.append(row)
    if layer is not None and not layers:
        raise PlaygroundError(f"layer: {layer} is not a layer of this network; it has layers 1 to {L}")
    return View(a, {"epoch": rec["epoch"], "step": rec["step"], "asked_epoch": epoch, "probe": rec["probe"],
                    "probe_loss": rec["loss"], "recorded_epochs": [r["epoch"] for r in records], "layers": layers})
