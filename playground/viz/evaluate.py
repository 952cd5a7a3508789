"""Evaluation figures (Vega-Lite specs, pure functions of the evaluation's arrays): the confusion
matrix, ROC and precision-recall curves with the point a threshold puts on them, and a frame of
per-class metrics."""
from __future__ import annotations

import numpy as np
import pandas as pd

from playground.viz.curves import every_kth, q, tip

MAX_CURVE_POINTS = 800        # points of a ROC / PR curve sent to the browser


def confusion_words(cm: np.ndarray, names: list[str]) -> str:
    """A confusion matrix in words: its classes, the accuracy, and the most frequent confusion."""
    cm = np.asarray(cm, dtype=float)
    total = cm.sum()
    text = (f"Confusion matrix, {len(names)} classes, accuracy {np.trace(cm) / total:.0%}" if total else
            f"Confusion matrix, {len(names)} classes, no examples")
    off = cm * (1 - np.eye(len(cm)))
    if off.max() > 0:
        t, p = np.unravel_index(int(off.argmax()), off.shape)
        text += f"; most confused: {names[t]} read as {names[p]}, {int(off[t, p]):,} times"
    return text + "."


def confusion_chart(confusion: np.ndarray, class_names: list, normalize: bool = False, size: int = 360) -> dict:
    """Heatmap of a confusion matrix, rows = true class, columns = predicted; each cell says its count
    (and its share of the true class when normalize, which also colours by that share)."""
    cm = np.asarray(confusion, dtype=float)
    rows = cm.sum(1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)           # (C, C) per true class
    names = [str(c) for c in class_names]
    t, p = np.meshgrid(np.arange(len(names)), np.arange(len(names)), indexing="ij")
    frame = pd.DataFrame({"true": np.array(names)[t.ravel()], "predicted": np.array(names)[p.ravel()],
                          "count": cm.ravel().astype(int), "share": share.ravel()})
    frame["label"] = [f"{s:.0%}" if normalize else f"{c:,}" for c, s in zip(frame["count"], frame["share"])]
    value = "share" if normalize else "count"
    dark = 0.5 if normalize else max(cm.max(), 1) / 2
    order = {"sort": names}
    small = len(names) <= 12                                                      # room for the numbers
    return {"width": size, "height": size, "description": confusion_words(cm, names),
            "datasets": {"main": frame}, "data": {"name": "main"},
            "encoding": {"x": {"field": "predicted", "type": "nominal", "title": "predicted class", **order,
                               "axis": {"labelAngle": 0}},
                         "y": {"field": "true", "type": "nominal", "title": "true class", **order}},
            "layer": [
                {"mark": "rect", "encoding": {
                    "color": q(value, "share of the true class" if normalize else "examples",
                               scale={"scheme": "blues", **({"domain": [0, 1]} if normalize else {})}),
                    "tooltip": [tip("true", kind="nominal"), tip("predicted", kind="nominal"), tip("count", ",d"),
                                tip("share", ".1%", "share of the true class")]}},
                *([{"mark": {"type": "text", "fontSize": 11 if len(names) > 6 else 13},
                    "encoding": {"text": {"field": "label", "type": "nominal"},
                                 "color": {"condition": {"test": f"datum['{value}'] > {dark}", "value": "white"},
                                           "value": "black"}}}] if small else []),
            ]}


def _thin(*cols: np.ndarray, max_points: int = MAX_CURVE_POINTS) -> list[np.ndarray]:
    """Every k-th point of a curve (and its last), so long validation sets stay light to draw."""
    idx = every_kth(len(cols[0]), max_points)
    return [c[idx] for c in cols]


def _curve(x: np.ndarray, y: np.ndarray, thresholds: np.ndarray, point: tuple[float, float] | None,
           x_title: str, y_title: str, diagonal: bool, height: int) -> dict:
    x, y, t = _thin(np.asarray(x, float), np.asarray(y, float), np.asarray(thresholds, float))
    main = pd.DataFrame({"x": x, "y": y, "threshold": t})
    dot = pd.DataFrame({"x": [point[0]] if point else [], "y": [point[1]] if point else []}, dtype=float)
    ref = pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]})
    enc = {"x": q("x", x_title, scale={"domain": [0, 1]}), "y": q("y", y_title, scale={"domain": [0, 1]})}
    layers = [{"data": {"name": "main"}, "mark": {"type": "line", "interpolate": "step-after" if not diagonal
                                                   else "linear", "color": "#1f77b4"},
               "encoding": {**enc, "tooltip": [tip("x", ".3f", x_title), tip("y", ".3f", y_title),
                                               tip("threshold", ".3f", "threshold")]}},
              {"data": {"name": "dot"}, "mark": {"type": "point", "filled": True, "size": 120, "color": "#e4572e"},
               "encoding": enc}]
    if diagonal:
        layers.insert(0, {"data": {"name": "ref"}, "mark": {"type": "line", "strokeDash": [4, 4], "color": "#999"},
                          "encoding": enc})
    return {"height": height, "datasets": {"main": main, "dot": dot, "ref": ref}, "layer": layers}


def roc_chart(fpr, tpr, thresholds, point: tuple[float, float] | None = None, height: int = 300) -> dict:
    """ROC curve (true positive rate against false positive rate), the chance diagonal, and the
    (fpr, tpr) point of the chosen threshold."""
    return _curve(fpr, tpr, thresholds, point, "false positive rate", "true positive rate (recall)", True, height)


def pr_chart(precision, recall, thresholds, point: tuple[float, float] | None = None, height: int = 300) -> dict:
    """Precision-recall curve and the (recall, precision) point of the chosen threshold.
    scikit-learn's arrays have one more precision/recall than thresholds: the last point (recall 0)
    has none, and gets 1.0, where nothing is predicted positive."""
    t = np.append(np.asarray(thresholds, float), 1.0)
    return _curve(recall, precision, t, point, "recall", "precision", False, height)


def class_table(class_names: list, precision, recall, f1, support) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support, one row per class."""
    return pd.DataFrame({"class": [str(c) for c in class_names], "precision": precision, "recall": recall,
                         "F1": f1, "support": np.asarray(support, dtype=int)})
