"""Filters and feature maps as images (uint8 arrays, pure functions of the inspector's arrays).

Kernels are a few pixels wide, so every value becomes a block of `cell` x `cell` screen pixels
(nearest neighbour: a browser scaling a 3x3 image up would blur it into a gradient that is not in
the weights). Weights use a diverging scale (blue negative, white zero, red positive); feature maps
a grey scale from black (lowest) to white (highest).
"""
from __future__ import annotations

import base64
import html
import io

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


def mosaic(tiles: list[np.ndarray], cols: int, cell: int) -> np.ndarray:
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
    return mosaic(tiles, in_c if in_c > 1 else min(out_c, 8), cell)


def feature_grid(maps: np.ndarray, cols: int = 8, size: int = 72) -> np.ndarray:
    """Feature maps (C, H, W) as a mosaic of cols per row, each map scaled on its own, each tile
    about size pixels wide."""
    c, h, w = maps.shape
    cell = max(1, size // max(h, w))
    return mosaic([grey(maps[k]) for k in range(c)], min(cols, c), cell)


def input_image(x: np.ndarray, size: int = 168) -> np.ndarray:
    """An input (C, H, W): RGB when it has 3 channels, grey otherwise (min-max scaled)."""
    if x.shape[0] == 3:
        lo, hi = float(x.min()), float(x.max())
        img = ((x.transpose(1, 2, 0) - lo) / (hi - lo if hi > lo else 1) * 255).round().astype(np.uint8)
    else:
        img = grey(x[0])
    cell = max(1, size // max(x.shape[1:]))
    return img.repeat(cell, 0).repeat(cell, 1)


def data_url(img: np.ndarray) -> str:
    """A picture (H, W) grey or (H, W, 3) RGB, uint8, as a PNG data URL: drawn inside a page's HTML, with
    no file of its own for the browser to fetch."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def figure_strip(images: list[np.ndarray], captions: list[str], alts: list[str], width: int = 84) -> str:
    """Pictures in a row that wraps, each with its caption under it, as one block of HTML: a page draws it
    as one element. (Nine pictures drawn one by one, each a file fetched and laid out on its own, were
    about half of the Filters page's redraw on an epoch scrub.)"""
    tiles = "".join(
        f'<figure style="margin:0;width:{width}px">'
        f'<img src="{data_url(img)}" width="{width}" alt="{html.escape(alt)}" '
        f'style="display:block;image-rendering:pixelated">'
        f'<figcaption style="font-size:0.8rem;line-height:1.35;opacity:0.65;margin-top:4px">{html.escape(caption)}'
        f'</figcaption></figure>'
        for img, caption, alt in zip(images, captions, alts, strict=True))
    return f'<div style="display:flex;flex-wrap:wrap;gap:12px 16px">{tiles}</div>'


def probs_chart(probs: np.ndarray, class_names: list, true: str, height: int = 200) -> dict:
    """The predicted probability of each class as bars; the true class in orange."""
    names = [str(c) for c in class_names]
    frame = pd.DataFrame({"class": names, "p": np.asarray(probs, float), "true": [n == true for n in names]})
    return {"height": height, "datasets": {"main": frame}, "data": {"name": "main"}, "mark": "bar",
            "encoding": {"x": {"field": "class", "type": "nominal", "sort": names, "axis": {"labelAngle": 0}},
                         "y": q("p", "probability", scale={"domain": [0, 1]}),
                         "color": {"condition": {"test": "datum.true", "value": "#e4572e"}, "value": "#1f77b4"},
                         "tooltip": [tip("class", kind="nominal"), tip("p", ".3f", "probability")]}}


# ---- one convolution cell by hand ------------------------------------------------------------------

PAD = np.array([190, 215, 235], np.uint8)        # padding cells around an input: pale blue, not black
WINDOW = np.array([228, 87, 46], np.uint8)       # the receptive window's outline (orange-red)


def map_spec(values: np.ndarray, row: int, col: int, cell: int | None = None) -> dict:
    """A feature map (H, W) as a clickable heatmap: rect marks with a point selection "cell" on
    (row, col) (Streamlit returns the clicked datum); the chosen cell outlined in orange."""
    h, w = values.shape
    cell = cell or max(6, min(28, 280 // max(h, w)))
    rr, cc = np.mgrid[0:h, 0:w]
    frame = pd.DataFrame({"row": rr.ravel(), "col": cc.ravel(), "value": values.ravel().astype(float)})
    chosen = f"datum.row == {int(row)} && datum.col == {int(col)}"
    return {"width": w * cell, "height": h * cell, "datasets": {"main": frame}, "data": {"name": "main"},
            "params": [{"name": "cell", "select": {"type": "point", "fields": ["row", "col"], "on": "click",
                                                    "clear": False}}],
            "mark": {"type": "rect", "cursor": "pointer"},
            "encoding": {
                "x": {"field": "col", "type": "ordinal", "title": "col", "axis": {"labelAngle": 0}},
                "y": {"field": "row", "type": "ordinal", "title": "row"},
                "color": {"field": "value", "type": "quantitative", "scale": {"scheme": "greys", "reverse": True},
                          "legend": {"title": "output"}},
                "stroke": {"condition": {"test": chosen, "value": "#e4572e"}, "value": "transparent"},
                "strokeWidth": {"condition": {"test": chosen, "value": 3}, "value": 0},
                "tooltip": [tip("row", kind="ordinal"), tip("col", kind="ordinal"), tip("value", ".4f", "output")]},
            "config": {"view": {"stroke": "transparent"}}}


def window_image(plane: np.ndarray, pads: list[int], top: int, left: int, span: list[int],
                 size: int = 224) -> np.ndarray:
    """One input plane (H, W) with the layer's padding around it (pale blue) and the receptive
    window outlined: top/left in input coordinates (negative inside the padding), span (rows, cols)."""
    pt, pb, pl, pr = pads
    h, w = plane.shape
    img = np.empty((h + pt + pb, w + pl + pr, 3), np.uint8)
    img[:] = PAD
    img[pt:pt + h, pl:pl + w] = grey(plane)
    cell = max(2, size // max(img.shape[:2]))
    big = img.repeat(cell, 0).repeat(cell, 1)
    y0, x0 = (top + pt) * cell, (left + pl) * cell
    y1, x1 = y0 + span[0] * cell, x0 + span[1] * cell
    t = max(1, cell // 4)
    for ys, xs in ((slice(y0, y0 + t), slice(x0, x1)), (slice(y1 - t, y1), slice(x0, x1)),
                   (slice(y0, y1), slice(x0, x0 + t)), (slice(y0, y1), slice(x1 - t, x1))):
        big[ys, xs] = WINDOW
    return big


def numbers_table(values: np.ndarray, title: str, diverging_scale: bool = True, padding: np.ndarray | None = None,
                  cell: int = 46) -> str:
    """A small grid (kh, kw) as an HTML table with each value written in its cell: weights and
    products blue-white-red around zero (the filters' scale), input values grey (black lowest);
    padding cells say "pad 0". HTML, not a chart: a browser draws it in a fraction of a Vega chart's
    time, and the page redraws three of them on every scrub."""
    kh, kw = values.shape
    v = values.astype(float)
    pad = np.zeros(v.shape, bool) if padding is None else padding.astype(bool)
    if diverging_scale:
        rgb = diverging(v, float(np.abs(v).max()))
    else:
        rgb = grey(v)
    ink = np.where(rgb.astype(float) @ np.array([0.299, 0.587, 0.114]) < 128, "#fff", "#000")
    font = 12 if kw <= 5 else 10
    rows = []
    for r in range(kh):
        cells = []
        for c in range(kw):
            bg = "#dbe9f6" if pad[r, c] else "#%02x%02x%02x" % tuple(int(x) for x in rgb[r, c])
            fg = "#555" if pad[r, c] else ink[r, c]
            text = "pad 0" if pad[r, c] else f"{v[r, c]:.2f}"
            cells.append(f'<td style="width:{cell}px;height:{cell * 3 // 4}px;background:{bg};color:{fg};'
                         f'border:1px solid #bbb;text-align:center;font-size:{font}px;padding:0">{text}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div style="font-size:13px;font-weight:600;margin-bottom:4px">{html.escape(title)}</div>'
            f'<table style="border-collapse:collapse;font-family:monospace">{"".join(rows)}</table>')


def partials_spec(partial: np.ndarray, first: int = 0, height: int = 180) -> dict:
    """The products' sum per input channel as bars (red positive, blue negative)."""
    frame = pd.DataFrame({"input channel": np.arange(len(partial)) + first, "sum": np.asarray(partial, float)})
    return {"height": height, "datasets": {"main": frame}, "data": {"name": "main"}, "mark": "bar",
            "encoding": {"x": {"field": "input channel", "type": "ordinal", "axis": {"labelAngle": 0}},
                         "y": q("sum", "sum of products"),
                         "color": {"condition": {"test": "datum.sum < 0", "value": "#2166ac"}, "value": "#b2182b"},
                         "tooltip": [tip("input channel", kind="ordinal"), tip("sum", ".4f")]}}
