"""Points drawn on the plane by hand: the chart a student clicks to add points of a class (an empty
spot is clickable: a grid of invisible cells, each selecting its centre), as a Vega-Lite spec."""
from __future__ import annotations

import numpy as np
import pandas as pd

from playground.data.uploads import DRAW_CLASSES, DRAW_RANGE

CELLS = 40                                       # clickable cells per side
COLOURS = ["#f59322", "#0877bd"]                 # the decision boundary's: class 0 orange, class 1 blue


def draw_spec(points: list, height: int = 380) -> dict:
    """points: [x, y, class index] each. Selection "spot" on (sx, sy), the clicked cell's centre."""
    lo, hi = DRAW_RANGE
    edges = np.linspace(lo, hi, CELLS + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    gx, gy = np.meshgrid(centres, centres)
    d = (hi - lo) / CELLS / 2
    cells = pd.DataFrame({"sx": gx.ravel(), "sy": gy.ravel(), "x0": gx.ravel() - d, "x1": gx.ravel() + d,
                          "y0": gy.ravel() - d, "y1": gy.ravel() + d})
    frame = pd.DataFrame({"x": [float(p[0]) for p in points], "y": [float(p[1]) for p in points],
                          "class": [DRAW_CLASSES[int(p[2])] for p in points]})
    scale = {"domain": [lo, hi], "nice": False, "zero": False}
    x, y = {"type": "quantitative", "scale": scale, "title": "x1"}, {"type": "quantitative", "scale": scale,
                                                                       "title": "x2"}
    return {"height": height, "datasets": {"cells": cells, "points": frame},
            "config": {"view": {"stroke": "#ccc"}},
            "layer": [
                {"data": {"name": "cells"}, "mark": {"type": "rect", "fill": "#888", "fillOpacity": 0.001,
                                                     "cursor": "crosshair", "tooltip": None},
                 "params": [{"name": "spot", "select": {"type": "point", "fields": ["sx", "sy"], "on": "click",
                                                        "clear": False}}],
                 "encoding": {"x": {**x, "field": "x0"}, "x2": {"field": "x1"}, "y": {**y, "field": "y0"},
                              "y2": {"field": "y1"}}},
                {"data": {"name": "points"}, "mark": {"type": "circle", "size": 90, "opacity": 0.9,
                                                      "stroke": "#2d2d2d", "strokeWidth": 1},
                 "encoding": {"x": {**x, "field": "x"}, "y": {**y, "field": "y"},
                              "color": {"field": "class", "type": "nominal",
                                        "scale": {"domain": DRAW_CLASSES, "range": COLOURS},
                                        "legend": {"orient": "top", "title": None}}}}]}
