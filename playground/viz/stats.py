"""Layer statistics figures (Vega-Lite specs, pure functions of playground.inspect.stats arrays):
each layer's histograms at one epoch, one layer's histograms over epochs (a ridgeline), and
per-layer measures over training (gradient norm, update-to-weight ratio, dead or saturated units).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from playground.viz.curves import q, tip

KINDS = {"act": "outputs", "weight": "weights", "grad": "gradients"}
RATIO_RULE = 1e-3            # the rule of thumb for a healthy update-to-weight ratio (Karpathy, CS231n)


def layer_label(index: int, kind: str) -> str:
    return f"{index:>2} {kind}"


def _bins(counts: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin edges (left, right) and each bin's share of the values."""
    n = len(counts)
    width = (hi - lo) / n if hi > lo else 1e-12
    left = lo + width * np.arange(n)
    total = counts.sum()
    return left, left + width, counts / total if total else counts.astype(float)


def histogram(counts: np.ndarray, lo: float, hi: float, title: str, height: int = 90) -> dict:
    """One layer's histogram (counts over equal bins of [lo, hi]) on its own x-axis (layers' ranges
    differ by orders of magnitude), as wide as its container: a page lays them out as small
    multiples in columns, which narrow with the window (a faceted chart of fixed-width panels was
    cut off at the right in a narrow one)."""
    left, right, share = _bins(np.asarray(counts, float), float(lo), float(hi))
    frame = pd.DataFrame({"left": left, "right": right, "share": share})
    return {"datasets": {"main": frame}, "data": {"name": "main"},
            "title": {"text": title, "fontSize": 12, "fontWeight": "bold"},
            "height": height, "autosize": {"type": "fit-x", "contains": "padding"},   # the height is the plot's
            "mark": {"type": "rect", "color": "#4c78a8"},
            "encoding": {"x": q("left", "value", axis={"tickCount": 4, "format": ".2~g"}),
                         "x2": {"field": "right"},
                         "y": q("share", "share", axis={"format": "%", "tickCount": 3}),
                         "tooltip": [tip("left", ".3~g", "from"), tip("right", ".3~g", "to"),
                                     tip("share", ".1%", "share of values")]}}


def ridgeline(counts: np.ndarray, lo: np.ndarray, hi: np.ndarray, epochs: np.ndarray, chosen: int | None = None,
              title: str = "value", rows: int = 12, overlap: float = 1.6) -> dict:
    """One layer's histograms over epochs (E, BINS), stacked bottom (first) to top (last): each an
    area whose height is its bins' share, scaled so the tallest rises `overlap` rows. At most
    `rows` epochs, evenly spread, always with the chosen one (orange)."""
    counts, epochs = np.asarray(counts, float), np.asarray(epochs)
    pick = set(np.unique(np.linspace(0, len(epochs) - 1, min(len(epochs), rows)).round().astype(int)).tolist())
    if chosen is not None and chosen in epochs.tolist():
        pick.add(int(np.flatnonzero(epochs == chosen)[0]))
    pick = sorted(pick)
    shares = [_bins(counts[e], float(lo[e]), float(hi[e])) for e in pick]
    top = max((s.max() for _, _, s in shares), default=1.0) or 1.0
    frames = []
    for r, (e, (left, right, share)) in enumerate(zip(pick, shares)):
        frames.append(pd.DataFrame({"epoch": int(epochs[e]), "row": r, "x": (left + right) / 2, "share": share,
                                    "y": r + overlap * share / top, "base": float(r),
                                    "chosen": int(epochs[e]) == chosen}))
    frame = pd.concat(frames, ignore_index=True)
    ticks = list(range(len(pick)))
    return {"height": 60 + 30 * len(pick), "datasets": {"main": frame}, "data": {"name": "main"},
            "mark": {"type": "area", "interpolate": "step", "fillOpacity": 0.85, "stroke": "#333", "strokeWidth": 0.6},
            "encoding": {
                "x": q("x", title, axis={"format": ".2~g"}),
                "y": q("y", "epoch", scale={"zero": False, "domain": [0, len(pick) - 1 + overlap]},
                       axis={"values": ticks, "labelExpr": _epoch_labels([int(epochs[e]) for e in pick], ticks),
                             "grid": False}),
                "y2": {"field": "base"},
                "detail": {"field": "row", "type": "ordinal"},
                "order": {"field": "row", "sort": "descending"},
                "color": {"condition": {"test": "datum.chosen", "value": "#e4572e"}, "value": "#9ecae9"},
                "tooltip": [tip("epoch", "d"), tip("x", ".3~g", "value"), tip("share", ".1%", "share of values")]}}


def _epoch_labels(epochs: list[int], ticks: list[int]) -> str:
    """A Vega expression mapping row numbers to the epochs they show."""
    names = {i: epochs[i] for i in ticks}
    expr = "''"
    for i, e in names.items():
        expr = f"datum.value == {i} ? '{e}' : ({expr})"
    return expr


def over_epochs(epochs: np.ndarray, values: np.ndarray, labels: list[str], title: str, chosen: int | None = None,
                log: bool = True, rule: float | None = None, height: int = 260, percent: bool = False) -> dict:
    """One line per layer (values (E, K), NaN gaps left out) over epochs; a vertical rule at the
    chosen epoch, and a dashed horizontal one at `rule`."""
    values = np.asarray(values, float)
    frame = pd.DataFrame({"epoch": np.repeat(np.asarray(epochs), len(labels)),
                          "layer": np.tile(labels, len(epochs)), "v": values.reshape(-1)})
    frame = frame[np.isfinite(frame["v"]) & ((frame["v"] > 0) if log else True)]
    scale = {"type": "log"} if log else ({"domain": [0, 1]} if percent else {})
    fmt = "%" if percent else ".2~e" if log else ".3~g"
    layers = [{"mark": {"type": "line", "point": {"size": 18}},
               "encoding": {"x": q("epoch", "epoch", axis={"tickMinStep": 1}),
                            "y": q("v", title, scale=scale, axis={"format": fmt}),
                            "color": {"field": "layer", "type": "nominal", "sort": labels, "title": "layer",
                                      "scale": {"scheme": "viridis"}},
                            "tooltip": [tip("layer", kind="nominal"), tip("epoch", "d"),
                                        tip("v", ".1%" if percent else ".3~e", title)]}}]
    if chosen is not None:
        layers.append({"data": {"values": [{"epoch": chosen}]}, "mark": {"type": "rule", "color": "#e4572e"},
                       "encoding": {"x": q("epoch")}})
    if rule is not None:
        layers.append({"data": {"values": [{"v": rule}]}, "mark": {"type": "rule", "strokeDash": [4, 4],
                                                                    "color": "#888"},
                       "encoding": {"y": q("v")}})
    return {"height": height, "datasets": {"main": frame}, "data": {"name": "main"}, "layer": layers}


def per_layer(values: np.ndarray, labels: list[str], title: str, log: bool = True, height: int = 220,
              compare: np.ndarray | None = None, names: tuple[str, str] = ("this run", "other run")) -> dict:
    """A bar per layer (input side left): one measure at one epoch; with `compare`, a second run's
    bars beside each (same layers)."""
    v = np.asarray(values, float)
    runs = [(names[0], v)] + ([(names[1], np.asarray(compare, float))] if compare is not None else [])
    frame = pd.concat([pd.DataFrame({"layer": labels, "run": n, "v": x}) for n, x in runs], ignore_index=True)
    frame = frame[np.isfinite(frame["v"]) & ((frame["v"] > 0) if log else True)]
    scale, base = {}, {}
    if log and len(frame):              # a bar on a log axis needs a floor to stand on (0 is -infinity there)
        lo, hi = float(frame["v"].min()), float(frame["v"].max())
        floor = 10 ** np.floor(np.log10(lo))
        scale = {"type": "log", "domain": [floor, 10 ** np.ceil(np.log10(hi * 1.0001))]}
        base = {"y2": {"datum": floor}}
    enc = {"x": {"field": "layer", "type": "nominal", "sort": labels, "title": "layer (input side left)",
                 "axis": {"labelAngle": -30}},
           "y": q("v", title, scale=scale, axis={"format": ".1~e" if log else ".3~g"}), **base,
           "tooltip": [tip("layer", kind="nominal"), tip("run", kind="nominal"), tip("v", ".3~e", title)]}
    if compare is not None:
        enc["xOffset"] = {"field": "run", "type": "nominal", "sort": list(names)}
        enc["color"] = {"field": "run", "type": "nominal", "sort": list(names), "title": None,
                        "scale": {"range": ["#4c78a8", "#e4572e"]}}
    return {"height": height, "datasets": {"main": frame}, "data": {"name": "main"},
            "mark": {"type": "bar", **({} if compare is not None else {"color": "#4c78a8"})}, "encoding": enc}
