"""Attention as figures: pure functions from the attention inspector's arrays to Vega-Lite specs
(heatmaps with the tokens on both axes, the all-heads grid, the head view's lines, the score curves
over training, one cell's arithmetic) and uint8 images (a vision transformer's patches on its input).

Every heatmap reads the same way: row = the query position (who reads), column = the key position
(where it reads from), a darker cell = more weight; each row sums to 1.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from playground.viz.curves import q, tip
from playground.viz.filters import grey

SCHEME = "blues"
CHOSEN = "#e4572e"


def token_labels(tokens, kind: str = "tokens") -> list[str]:
    """Axis labels, one per position: "position: token" for token sequences, the patch number for
    image patches (p0 top-left, row by row)."""
    if kind != "tokens":
        return [f"p{i}" for i in range(len(tokens))]
    return [f"{i}: {int(t)}" for i, t in enumerate(tokens)]


def _labels_expr(labels: list[str]) -> str:
    return f"{json.dumps(labels)}[datum.value]"


def _frame(m: np.ndarray) -> pd.DataFrame:
    L = m.shape[-1]
    rr, cc = np.mgrid[0:m.shape[0], 0:L]
    return pd.DataFrame({"row": rr.ravel(), "col": cc.ravel(), "weight": np.asarray(m, float).ravel()})


def heatmap_spec(matrix: np.ndarray, labels: list[str], row: int | None = None, col: int | None = None,
                 title: str = "", cell: int | None = None, clickable: bool = True) -> dict:
    """One (L, L) attention matrix with the labels on both axes; the chosen cell outlined; a click
    selects a cell (the point selection "cell" on row, col)."""
    L = matrix.shape[-1]
    cell = cell or max(14, min(60, 360 // L))
    frame = _frame(matrix)
    frame["query"] = [labels[r] for r in frame.row]
    frame["key"] = [labels[c] for c in frame.col]
    chosen = f"datum.row == {int(row)} && datum.col == {int(col)}" if row is not None and col is not None else "false"
    axis = {"labelExpr": _labels_expr(labels), "labelAngle": 0, "labelFontSize": 11}
    spec = {"width": L * cell, "height": L * cell, "datasets": {"main": frame}, "data": {"name": "main"},
            "mark": {"type": "rect", "cursor": "pointer" if clickable else "default"},
            "encoding": {
                "x": {"field": "col", "type": "ordinal", "title": "key: where it reads from", "axis": axis},
                "y": {"field": "row", "type": "ordinal", "title": "query: who reads", "axis": axis},
                "color": {"field": "weight", "type": "quantitative",
                          "scale": {"scheme": SCHEME, "domain": [0, 1]}, "legend": {"title": "weight"}},
                "stroke": {"condition": {"test": chosen, "value": CHOSEN}, "value": "transparent"},
                "strokeWidth": {"condition": {"test": chosen, "value": 3}, "value": 0},
                "tooltip": [tip("query", kind="nominal"), tip("key", kind="nominal"), tip("weight", ".3f")]},
            # the size is the cells' (pad), not the whole chart's: with 4 tokens a 160 px square also had to
            # hold the title, both axes and the legend, and drew a sliver
            "autosize": {"type": "pad"},
            "config": {"view": {"stroke": "transparent"}}}
    if title:
        spec["title"] = title
    if clickable:
        spec["params"] = [{"name": "cell", "select": {"type": "point", "fields": ["row", "col"], "on": "click",
                                                      "clear": False}}]
    return spec


def grid_spec(weights: np.ndarray, layer_numbers: list[int], labels: list[str], cell: int | None = None) -> dict:
    """Every layer x head at once (bertviz's model view): small heatmaps, rows = layers, columns = heads."""
    A, H, L, _ = weights.shape
    cell = cell or max(4, min(14, 150 // L))
    parts = []
    for a in range(A):
        for h in range(H):
            f = _frame(weights[a, h])
            f["layer"], f["head"] = f"layer {layer_numbers[a]}", f"head {h}"
            parts.append(f)
    frame = pd.concat(parts, ignore_index=True)
    frame["query"] = [labels[r] for r in frame.row]
    frame["key"] = [labels[c] for c in frame.col]
    return {"datasets": {"main": frame}, "data": {"name": "main"},
            "facet": {"row": {"field": "layer", "type": "nominal", "title": None,
                              "sort": [f"layer {n}" for n in layer_numbers]},
                      "column": {"field": "head", "type": "nominal", "title": None,
                                 "sort": [f"head {h}" for h in range(H)]}},
            "spec": {"width": L * cell, "height": L * cell, "mark": "rect",
                     "encoding": {"x": {"field": "col", "type": "ordinal", "axis": None},
                                  "y": {"field": "row", "type": "ordinal", "axis": None},
                                  "color": {"field": "weight", "type": "quantitative",
                                            "scale": {"scheme": SCHEME, "domain": [0, 1]},
                                            "legend": {"title": "weight"}},
                                  "tooltip": [tip("layer", kind="nominal"), tip("head", kind="nominal"),
                                              tip("query", kind="nominal"), tip("key", kind="nominal"),
                                              tip("weight", ".3f")]}},
            "resolve": {"scale": {"color": "shared"}},
            "config": {"view": {"stroke": "#ccc"}, "facet": {"spacing": 6}}}


def head_view_spec(weights: np.ndarray, labels: list[str], heads: list[int], row: int | None = None,
                   min_weight: float = 0.02) -> dict:
    """bertviz's head view for one layer: the tokens twice, queries on the left and keys on the right,
    a line from each query to each key it reads from, as opaque as its weight (one colour per head;
    lines under min_weight left out). `row` highlights one query's lines."""
    H, L, _ = weights.shape
    rows = []
    for h in heads:
        for i in range(L):
            for j in range(L):
                w = float(weights[h, i, j])
                if w >= min_weight and (row is None or i == row):
                    rows.append({"head": f"head {h}", "i": i, "j": j, "weight": w, "from": labels[i], "to": labels[j]})
    lines = pd.DataFrame(rows, columns=["head", "i", "j", "weight", "from", "to"])
    lines["x"], lines["x2"] = 0.04, 0.96                  # a gap between the words and the lines
    toks = pd.DataFrame({"pos": list(range(L)) * 2, "label": labels * 2, "x": [0.0] * L + [1.0] * L,
                         "side": ["query"] * L + ["key"] * L})
    y = {"scale": {"domain": [-0.5, L - 0.5], "reverse": True}, "axis": None}
    return {"height": max(180, 26 * L), "width": 320, "datasets": {"lines": lines, "toks": toks}, "layer": [
        {"data": {"name": "lines"}, "mark": {"type": "rule", "strokeWidth": 2},
         "encoding": {"x": {"field": "x", "type": "quantitative", "scale": {"domain": [-0.45, 1.45]}, "axis": None},
                      "x2": {"field": "x2"}, "y": {"field": "i", "type": "quantitative", **y}, "y2": {"field": "j"},
                      "color": {"field": "head", "type": "nominal", "legend": {"title": None, "orient": "bottom"}},
                      "opacity": {"field": "weight", "type": "quantitative", "scale": {"domain": [0, 1]},
                                  "legend": None},
                      "tooltip": [tip("head", kind="nominal"), tip("from", kind="nominal", title="query"),
                                  tip("to", kind="nominal", title="key"), tip("weight", ".3f")]}},
        {"data": {"name": "toks"}, "mark": {"type": "text", "fontSize": 12, "fontWeight": "bold"},
         "encoding": {"x": {"field": "x", "type": "quantitative"}, "y": {"field": "pos", "type": "quantitative", **y},
                      "text": {"field": "label"},
                      "align": {"condition": {"test": "datum.side == 'query'", "value": "right"}, "value": "left"},
                      "dx": {"condition": {"test": "datum.side == 'query'", "value": -6}, "value": 6}}}],
        "config": {"view": {"stroke": "transparent"}}}


def scores_spec(epochs: np.ndarray, scores: np.ndarray, layer_numbers: list[int], title: str,
                epoch: int | None = None, chance: float | None = None) -> dict:
    """A pattern's score per head over training: epochs (E,), scores (E, A, H); a rule at the epoch
    shown and a dashed line at the uniform-attention level."""
    E, A, H = scores.shape
    frame = pd.DataFrame([{"epoch": int(epochs[e]), "score": float(scores[e, a, h]),
                           "head": f"layer {layer_numbers[a]} head {h}"} for e in range(E) for a in range(A)
                          for h in range(H)])
    layers = [{"data": {"name": "main"}, "mark": {"type": "line", "point": True},
               "encoding": {"x": q("epoch", "epoch", axis={"tickMinStep": 1, "format": "d"}),
                            "y": q("score", title, scale={"domain": [0, 1]}),
                            "color": {"field": "head", "type": "nominal", "title": None},
                            "tooltip": [tip("head", kind="nominal"), tip("epoch"), tip("score", ".3f")]}}]
    extra = {}
    if epoch is not None:
        extra["at"] = pd.DataFrame({"epoch": [int(epoch)]})
        layers.append({"data": {"name": "at"}, "mark": {"type": "rule", "color": "#888", "strokeDash": [2, 2]},
                       "encoding": {"x": q("epoch", "epoch")}})
    if chance is not None:
        extra["chance"] = pd.DataFrame({"score": [float(chance)]})
        layers.append({"data": {"name": "chance"}, "mark": {"type": "rule", "color": "#bbb", "strokeDash": [6, 4]},
                       "encoding": {"y": q("score", title)}})
    return {"height": 220, "datasets": {"main": frame, **extra}, "layer": layers}


def cell_spec(products: np.ndarray, q_vec: np.ndarray, k_vec: np.ndarray) -> dict:
    """One cell's dot product as bars: q_d x k_d for each dimension d of the head (their sum is q.k)."""
    frame = pd.DataFrame({"d": np.arange(len(products)), "product": np.asarray(products, float),
                          "q": np.asarray(q_vec, float), "k": np.asarray(k_vec, float)})
    return {"height": 160, "datasets": {"main": frame}, "data": {"name": "main"}, "mark": "bar",
            "encoding": {"x": {"field": "d", "type": "ordinal", "title": "dimension d of the head",
                               "axis": {"labelAngle": 0}},
                         "y": q("product", "q_d × k_d"),
                         "color": {"condition": {"test": "datum.product < 0", "value": "#2166ac"}, "value": "#b2182b"},
                         "tooltip": [tip("d", kind="ordinal"), tip("q", ".4f"), tip("k", ".4f"),
                                     tip("product", ".4f", "q × k")]}}


def softmax_spec(scores: np.ndarray, weights: np.ndarray, labels: list[str], col: int) -> dict:
    """The row's scores before the softmax (masked ones marked) and the weights after, the chosen key in orange."""
    L = len(weights)
    finite = np.isfinite(scores)
    frame = pd.DataFrame({"pos": np.arange(L), "key": labels, "weight": np.asarray(weights, float),
                          "score": np.where(finite, scores, 0.0).astype(float),
                          "masked": ~finite, "chosen": np.arange(L) == col})
    x = {"field": "pos", "type": "ordinal", "title": "key", "axis": {"labelExpr": _labels_expr(labels),
                                                                       "labelAngle": 0}}
    color = {"condition": {"test": "datum.chosen", "value": CHOSEN}, "value": "#1f77b4"}
    tips = [tip("key", kind="nominal"), tip("score", ".3f", "scaled score"), tip("weight", ".3f", "softmax weight"),
            tip("masked", kind="nominal")]
    return {"datasets": {"main": frame}, "data": {"name": "main"}, "hconcat": [
        {"height": 150, "width": 260, "title": "scores q·k / √d_k (masked: -∞, drawn at 0)", "mark": "bar",
         "encoding": {"x": x, "y": q("score", "score"), "color": color, "opacity": {
             "condition": {"test": "datum.masked", "value": 0.25}, "value": 1}, "tooltip": tips}},
        {"height": 150, "width": 260, "title": "softmax over the row", "mark": "bar",
         "encoding": {"x": x, "y": q("weight", "weight", scale={"domain": [0, 1]}), "color": color,
                      "tooltip": tips}}]}


def patch_overlay(image: np.ndarray, grid: np.ndarray, size: int = 196, alpha: float = 0.6) -> np.ndarray:
    """A vision transformer's input (C, H, W) in grey with a (side, side) map of patch weights laid
    over it in orange, scaled to the map's largest value (so colours are relative to this image)."""
    plane = image.mean(0) if image.ndim == 3 else image
    base = grey(plane).astype(float)                                          # (H, W, 3)
    H, W = plane.shape
    side = grid.shape[0]
    heat = np.kron(grid / grid.max() if grid.max() > 0 else grid, np.ones((H // side, W // side)))
    heat = np.pad(heat, ((0, H - heat.shape[0]), (0, W - heat.shape[1])))
    tint = np.array([228, 87, 46], float)
    img = base * (1 - alpha * heat[..., None]) + tint * alpha * heat[..., None]
    scale = max(1, size // max(H, W))
    return img.round().astype(np.uint8).repeat(scale, 0).repeat(scale, 1)
