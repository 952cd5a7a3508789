"""Filters and feature maps as images (uint8 arrays, pure functions of the inspector's arrays).

Kernels are a few pixels wide, so every value becomes a block of `cell` x `cell` screen pixels
(nearest neighbour: a browser scaling a 3x3 image up would blur it into a gradient that is not in
the weights). Weights use a diverging scale (blue negative, white zero, red positive); feature maps
a grey scale from black (lowest) to white (highest).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from playground.viz.curves import q, ramp, tip

GAP = 3                                    # pixels between tiles
BG = np.array([200, 200, 200], np.uint8)   # grey between tiles: a white (zero) tile keeps its edge
NEG, POS = np.array([33, 102, 172], float), np.array([178, 24, 43], float)   # ColorBrewer RdBu ends


def diverging(values: np.ndarray, limit: float) -> np.ndarray:
    """(…) values -> (…, 3) uint8: -limit blue, 0 white, +limit red."""
    t = np.clip(values / limit, -1, 1) if limit > 0 else np.zeros(values.shape)
    return ramp(t, NEG, (255, 255, 255), POS).round().astype(np.uint8)


def grey(values: np.ndarray) -> np.ndarray:
    """(…) values -> (…, 3) uint8, min-max scaled. A map of zeros is black (a ReLU silent for this
    input); another constant map is mid grey."""
    lo, hi = float(values.min()), float(values.max())
    t = (values - lo) / (hi - lo) if hi > lo else np.full(values.shape, 0.0 if hi == 0 else 0.5)
    return np.repeat((t * 255).round().astype(np.uint8)[..., None], 3, -1)


def _mosaic(tiles: list[np.ndarray], cols: int, cell: int) -> np.ndarray:
    """Tiles (h, w, 3) of one size, upscaled by cell, laid out in rows of cols with GAP between."""
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // cols)
    th, tw = h * cell, w * cell
    out = np.empty((rows * th + (rows + 1) * GAP, cols * tw + (cols + 1) * GAP, 3), np.uint8)
    out[:] = BG
    for k, tile in enumerate(tiles):
        r, c = divmod(k, cols)
        y, x = GAP + r * (th + GAP), GAP + c * (tw + GAP)
        out[y:y + th, x:x + tw] = tile.repeat(cell, 0).repeat(cell, 1)
    return out


def filter_grid(weight: np.ndarray, shared: bool = True, cell: int | None = None) -> np.ndarray:
    """Kernels (out, in, kh, kw) as a mosaic: a row per filter, a column per input channel (with
    one input channel, up to 8 filters per row). shared: one colour scale for the whole layer
    (compare filters); else each filter scaled to its own largest |weight| (see a weak one's shape)."""
    out_c, in_c, kh, kw = weight.shape
    cell = cell or max(4, min(24, 96 // max(kh, kw)))
    layer_max = float(np.abs(weight).max())
    tiles = []
    for o in range(out_c):
        limit = layer_max if shared else float(np.abs(weight[o]).max())
        tiles.extend(diverging(weight[o, i], limit) for i in range(in_c))
    return _mosaic(tiles, in_c if in_c > 1 else min(out_c, 8), cell)


def feature_grid(maps: np.ndarray, cols: int = 8, size: int = 72) -> np.ndarray:
    """Feature maps (C, H, W) as a mosaic of cols per row, each map scaled on its own, each tile
    about size pixels wide."""
    c, h, w = maps.shape
    cell = max(1, size // max(h, w))
    return _mosaic([grey(maps[k]) for k in range(c)], min(cols, c), cell)


def input_image(x: np.ndarray, size: int = 168) -> np.ndarray:
    """An input (C, H, W): RGB when it has 3 channels, grey otherwise (min-max scaled)."""
    if x.shape[0] == 3:
        lo, hi = float(x.min()), float(x.max())
        img = ((x.transpose(1, 2, 0) - lo) / (hi - lo if hi > lo else 1) * 255).round().astype(np.uint8)
    else:
        img = grey(x[0])
    cell = max(1, size // max(x.shape[1:]))
    return img.repeat(cell, 0).repeat(cell, 1)


def probs_chart(probs: np.ndarray, class_names: list, true: str, height: int = 200) -> dict:
    """The predicted probability of each class as bars; the true class in orange."""
    names = [str(c) for c in class_names]
    frame = pd.DataFrame({"class": names, "p": np.asarray(probs, float), "true": [n == true for n in names]})
    return {"height": height, "datasets": {"main": frame}, "data": {"name": "main"}, "mark": "bar",
            "encoding": {"x": {"field": "class", "type": "nominal", "sort": names, "axis": {"labelAngle": 0}},
                         "y": q("p", "probability", scale={"domain": [0, 1]}),
                         "color": {"condition": {"test": "datum.true", "value": "#e4572e"}, "value": "#1f77b4"},
                         "tooltip": [tip("class", kind="nominal"), tip("p", ".3f", "probability")]}}
