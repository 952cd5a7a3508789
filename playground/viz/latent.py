"""Figures of a latent space: the codes as a scatter coloured by label (clickable points, and a
clickable background grid that says where an empty spot was clicked), the decoded "manifold" grid,
image strips, and the variational autoencoder's loss terms over training. Pure: arrays in, a
Vega-Lite spec (dict) or a Plotly figure out."""
from __future__ import annotations

import numpy as np
import pandas as pd

from playground.viz.curves import tip
from playground.viz.filters import data_url
from playground.viz.palette import CLASSES, SHAPES, cycled

CHOSEN = "#d62728"
SPOT = 40                        # the clickable background grid: SPOT x SPOT cells over the drawn range


def thumbnails(X: np.ndarray, size: int = 56) -> list[str]:
    """PNG data URLs of images (N, C, H, W) in [0, 1] (grey or RGB), for hover tooltips."""
    from PIL import Image

    return [data_url(np.asarray(Image.fromarray(_uint8(x)).resize((size, size), Image.NEAREST))) for x in X]


def _uint8(x: np.ndarray) -> np.ndarray:
    """An image (C, H, W) or (H, W) with values in [0, 1] as uint8 (H, W) or (H, W, 3), not rescaled
    (a decoder's faint output stays faint)."""
    x = np.asarray(x, np.float32)
    if x.ndim == 3:
        x = x[0] if x.shape[0] == 1 else x.transpose(1, 2, 0)
    return (np.clip(x, 0, 1) * 255).round().astype(np.uint8)


def padded_range(values: np.ndarray, pad: float = 0.05) -> tuple[float, float]:
    lo, hi = float(np.min(values)), float(np.max(values))
    span = hi - lo if hi > lo else 1.0
    return lo - pad * span, hi + pad * span


def scatter_spec(projection: np.ndarray, labels: np.ndarray, class_names: list[str], axes: tuple[str, str],
                 thumbs: list[str] | None = None, chosen: int | None = None, neighbours=(), spot=None,
                 clickable_space: bool = False, title: str = "", height: int = 520,
                 spread: np.ndarray | None = None) -> dict:
    """The codes drawn in 2-D, one colour per class (a fixed colour per class name, so scrubbing
    never recolours). Points are clickable (selection "point" on index); with clickable_space, so is
    the empty space behind them (selection "spot" on the centre (sx, sy) of a SPOT x SPOT grid).
    chosen and its neighbours are ringed; spot (x, y) is marked with a cross; spread (N, 2) draws
    +-1 standard deviation bars (a variational code)."""
    frame = pd.DataFrame({"x": projection[:, 0].astype(float), "y": projection[:, 1].astype(float),
                          "index": np.arange(len(projection)),
                          "label": [str(class_names[int(v)]) if class_names else f"{float(v):.3g}" for v in labels]})
    if thumbs is not None:
        frame["image"] = thumbs
    xr, yr = padded_range(frame.x), padded_range(frame.y)
    scale_x, scale_y = {"domain": list(xr), "nice": False, "zero": False}, {"domain": list(yr), "nice": False,
                                                                              "zero": False}
    enc_x = {"field": "x", "type": "quantitative", "title": axes[0], "scale": scale_x}
    enc_y = {"field": "y", "type": "quantitative", "title": axes[1], "scale": scale_y}
    datasets = {"points": frame}
    layers = []
    if clickable_space:
        datasets["space"], layer = _space_layer(xr, yr, enc_x, enc_y)
        layers.append(layer)
    if spread is not None:
        layers += _spread_layers(frame, spread, enc_x, enc_y, class_names)
    tooltip = ([{"field": "image", "type": "nominal"}] if thumbs is not None else []) + [
        tip("label", kind="nominal", title="label"), tip("index", title="example"), tip("x", ".3f", axes[0]),
        tip("y", ".3f", axes[1])]
    layers.append({"data": {"name": "points"},
                   "mark": {"type": "point", "filled": True, "size": 34, "opacity": 0.8, "cursor": "pointer"},
                   "params": [{"name": "point", "select": {"type": "point", "fields": ["index"], "on": "click",
                                                           "clear": False}}],
                   "encoding": {"x": enc_x, "y": enc_y,
                                "color": {"field": "label", "type": "nominal", "scale": _colours(class_names),
                                          "legend": {"title": "label", "symbolOpacity": 1,
                                                     "orient": "top", "direction": "horizontal", "columns": 20}},
                                # a second cue: a shape per class (the legend shows both)
                                "shape": {"field": "label", "type": "nominal", "scale": _shapes(class_names),
                                          "legend": None if not class_names else {"title": "label"}},
                                "tooltip": tooltip}})
    if len(neighbours) or chosen is not None:
        datasets["marked"], layer = _marked_layer(frame, chosen, neighbours, enc_x, enc_y)
        layers.append(layer)
    if spot is not None:
        datasets["spot"] = pd.DataFrame({"x": [float(spot[0])], "y": [float(spot[1])]})
        layers.append({"data": {"name": "spot"}, "mark": {"type": "point", "shape": "cross", "size": 300,
                                                          "color": CHOSEN, "filled": True, "opacity": 1},
                       "encoding": {"x": enc_x, "y": enc_y}})
    spec = {"height": height, "datasets": datasets, "layer": layers, "config": {"view": {"stroke": "#ddd"}}}
    if title:
        spec["title"] = title
    return spec


def _space_layer(xr: tuple, yr: tuple, enc_x: dict, enc_y: dict) -> tuple[pd.DataFrame, dict]:
    """The clickable empty space: a SPOT x SPOT grid of invisible cells over the plot, each selecting
    its centre (sx, sy)."""
    xs = np.linspace(*xr, SPOT + 1)
    ys = np.linspace(*yr, SPOT + 1)
    gx, gy = np.meshgrid((xs[:-1] + xs[1:]) / 2, (ys[:-1] + ys[1:]) / 2)
    dx, dy = (xr[1] - xr[0]) / SPOT / 2, (yr[1] - yr[0]) / SPOT / 2
    cells = pd.DataFrame({"sx": gx.ravel(), "sy": gy.ravel(), "x0": gx.ravel() - dx,
                          "x1": gx.ravel() + dx, "y0": gy.ravel() - dy, "y1": gy.ravel() + dy})
    return cells, {"data": {"name": "space"}, "mark": {"type": "rect", "fill": "#888", "fillOpacity": 0.001,
                                                       "cursor": "crosshair", "tooltip": None},
                   "params": [{"name": "spot", "select": {"type": "point", "fields": ["sx", "sy"], "on": "click",
                                                          "clear": False}}],
                   "encoding": {"x": {**enc_x, "field": "x0"}, "x2": {"field": "x1"},
                                "y": {**enc_y, "field": "y0"}, "y2": {"field": "y1"}}}


def _spread_layers(frame: pd.DataFrame, spread: np.ndarray, enc_x: dict, enc_y: dict,
                   class_names: list[str]) -> list[dict]:
    """+-1 standard deviation bars in x and in y; adds their ends (x_lo, x_hi, y_lo, y_hi) to frame."""
    frame["x_lo"], frame["x_hi"] = frame.x - spread[:, 0], frame.x + spread[:, 0]
    frame["y_lo"], frame["y_hi"] = frame.y - spread[:, 1], frame.y + spread[:, 1]
    return [{"data": {"name": "points"}, "mark": {"type": "rule", "opacity": 0.25, "strokeWidth": 1},
             "encoding": {a: {**(enc_x if a == "x" else enc_y), "field": f"{a}_lo"},
                          f"{a}2": {"field": f"{a}_hi"},
                          b: enc_y if b == "y" else enc_x,
                          "color": {"field": "label", "type": "nominal", "legend": None,
                                    "scale": _colours(class_names)}}}
            for a, b in (("x", "y"), ("y", "x"))]


def _marked_layer(frame: pd.DataFrame, chosen: int | None, neighbours, enc_x: dict,
                  enc_y: dict) -> tuple[pd.DataFrame, dict]:
    """Rings around the chosen point (large, CHOSEN's colour) and its neighbours."""
    marked = [int(i) for i in neighbours] + ([int(chosen)] if chosen is not None else [])
    ring = frame.iloc[marked].assign(kind=["neighbour"] * len(neighbours) + ["chosen"] * (chosen is not None))
    return ring, {"data": {"name": "marked"},
                  "mark": {"type": "point", "filled": False, "strokeWidth": 2.5},
                  "encoding": {"x": enc_x, "y": enc_y,
                               "size": {"condition": {"test": "datum.kind == 'chosen'", "value": 260},
                                        "value": 110},
                               "color": {"condition": {"test": "datum.kind == 'chosen'", "value": CHOSEN},
                                         "value": "#222"}}}


def _colours(class_names: list[str]) -> dict:
    """A fixed colour per class name, apart for the common colour-vision deficiencies (palette.CLASSES)."""
    if not class_names:
        return {"scheme": "viridis"}
    return {"domain": [str(c) for c in class_names], "range": cycled(CLASSES, len(class_names))}


def _shapes(class_names: list[str]) -> dict:
    """A marker shape per class name: the cue that does not depend on colour."""
    return {"domain": [str(c) for c in class_names], "range": cycled(SHAPES, len(class_names))} if class_names else {}


def tile(images: np.ndarray, cols: int, gap: int = 1) -> np.ndarray:
    """Images (N, C, H, W) in [0, 1] tiled row by row into one uint8 picture (grey or RGB), with
    `gap` pixels of mid grey between them (values are not rescaled)."""
    n = len(images)
    rows = -(-n // cols)
    first = _uint8(images[0])
    h, w = first.shape[:2]
    shape = (rows * (h + gap) - gap, cols * (w + gap) - gap) + first.shape[2:]
    out = np.full(shape, 128, np.uint8)
    for k, x in enumerate(images):
        r, c = divmod(k, cols)
        out[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = _uint8(x)
    return out


def manifold_figure(images: np.ndarray, n: int, x_range: tuple[float, float], y_range: tuple[float, float],
                    axes: tuple[str, str], spot=None, height: int = 520):
    """The decoder's output on an n x n grid of codes (images row by row from the top, as
    latent.grid_codes orders them), as one picture whose axes are in code units."""
    import plotly.graph_objects as go

    pic = tile(images, n, gap=0)
    H, W = pic.shape[:2]
    xs = np.linspace(*x_range, W)
    ys = np.linspace(*y_range, H)[::-1]
    z = pic if pic.ndim == 2 else pic.mean(-1)
    fig = go.Figure(go.Heatmap(z=z, x=xs, y=ys, colorscale="gray", showscale=False, zmin=0, zmax=255,
                               hovertemplate=f"{axes[0]} %{{x:.2f}}<br>{axes[1]} %{{y:.2f}}<extra></extra>"))
    if spot is not None:
        fig.add_trace(go.Scatter(x=[spot[0]], y=[spot[1]], mode="markers", hoverinfo="skip",
                                 marker={"symbol": "x-thin", "size": 16, "line": {"width": 3, "color": CHOSEN}}))
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10}, showlegend=False,
                      xaxis={"title": axes[0], "constrain": "domain"},
                      yaxis={"title": axes[1], "scaleanchor": "x", "scaleratio": (x_range[1] - x_range[0]) /
                             (y_range[1] - y_range[0]) * H / W if y_range[1] > y_range[0] else 1})
    return fig


def loss_terms_spec(epochs: list[dict], height: int = 260) -> dict:
    """A variational autoencoder's two loss terms per epoch (training and validation): the
    reconstruction loss (per value: pixel) and the KL divergence from the prior (nats per example; the
    loss adds it divided by the values per example). Each term on a y scale of its own."""
    rows = []
    for e in epochs:
        for split in ("train", "val"):
            for term, name in (("recon", "reconstruction (per pixel)"), ("kl", "KL (nats per example)")):
                v = e.get(f"{split}_{term}")
                if v is not None:
                    rows.append({"epoch": e["epoch"], "value": float(v), "term": name,
                                 "split": "training" if split == "train" else "validation"})
    frame = pd.DataFrame(rows, columns=["epoch", "value", "term", "split"])
    return {"datasets": {"main": frame}, "data": {"name": "main"},
            "facet": {"column": {"field": "term", "type": "nominal", "title": None}},
            "resolve": {"scale": {"y": "independent"}},            # the two terms are in different units
            "spec": {"height": height, "width": 220, "mark": {"type": "line", "point": True},
                     "encoding": {"x": {"field": "epoch", "type": "quantitative", "axis": {"tickMinStep": 1}},
                                  "y": {"field": "value", "type": "quantitative", "title": None},
                                  "color": {"field": "term", "type": "nominal", "title": None, "legend": None},
                                  "strokeDash": {"field": "split", "type": "nominal", "title": None},
                                  "tooltip": [tip("epoch"), tip("term", kind="nominal"),
                                              tip("split", kind="nominal"), tip("value", ".4f")]}}}


def class_error_spec(class_names: list[str], ae: np.ndarray, pca: np.ndarray | None, height: int = 240) -> dict:
    """Mean reconstruction error (MSE per value) per class: the network's, and PCA's beside it."""
    rows = [{"class": str(c), "model": "autoencoder", "mse": float(v)} for c, v in zip(class_names, ae)]
    if pca is not None:
        rows += [{"class": str(c), "model": "PCA, same dims", "mse": float(v)} for c, v in zip(class_names, pca)]
    frame = pd.DataFrame(rows)
    return {"height": height, "datasets": {"main": frame}, "data": {"name": "main"}, "mark": "bar",
            "encoding": {"x": {"field": "class", "type": "nominal", "sort": [str(c) for c in class_names],
                               "axis": {"labelAngle": 0}},
                         "xOffset": {"field": "model"},
                         "y": {"field": "mse", "type": "quantitative", "title": "reconstruction MSE"},
                         "color": {"field": "model", "type": "nominal", "title": None,
                                   "scale": {"range": ["#4c78a8", "#bbbbbb"]}},
                         "tooltip": [tip("class", kind="nominal"), tip("model", kind="nominal"), tip("mse", ".4f")]}}

