"""Training curves (Vega-Lite specs) and the 2-D decision boundary (an image).

Curves are plain Vega-Lite dicts whose data sit in named "datasets" (pandas frames; Streamlit's
st.vega_lite_chart sends them as Arrow). They were Altair charts: building and validating those
took ~130 ms per chart per poll on this project's 2-core server, so two students watching live runs
kept a core busy and the pages slowed down; a dict takes well under a millisecond.

Chart specs depend only on the kind of chart, never on the data (the datasets have fixed names),
so a live page that re-sends a chart each tick changes only its data and Vega/Plotly redraw in
place (and keep the user's zoom).
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd

# Points sent to the browser per series: about one per pixel of a half-width chart (~650). A live panel redraws
# them twice a second, and the browser's work grows with them: a watching browser's main thread was busy
# 63-75% of the time with 1,500, 42-53% with 800; with 600 (and 200 epochs, below) 38% instead of 42% (medians
# of 6 samples, alternating, nothing else running).
MAX_POINTS = 600
COLORS = {"train": "#1f77b4", "validation": "#e4572e"}


def bucket(n: int, max_points: int = MAX_POINTS) -> int:
    """Items per bucket so that n items make at most max_points buckets (1 for none)."""
    return -(-n // max_points) or 1


def downsample(x: list, y: list, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Average y over equal buckets so at most max_points remain (x: each bucket's last value)."""
    x, y = np.asarray(x), np.asarray(y, dtype=float)
    if len(x) <= max_points:
        return x, y
    k = bucket(len(x), max_points)
    n = len(x) // k * k
    xs, ys = x[k - 1:n:k], y[:n].reshape(-1, k).mean(1)
    if n < len(x):
        xs, ys = np.append(xs, x[-1]), np.append(ys, y[n:].mean())
    return xs, ys


def ema(y: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard-style exponential smoothing with debiasing; weight 0 = none, 0.99 = heavy."""
    out, acc = np.empty_like(y, dtype=float), 0.0
    for i, v in enumerate(y):
        acc = weight * acc + (1 - weight) * v
        out[i] = acc / (1 - weight ** (i + 1))
    return out


def every_kth(n: int, max_points: int) -> np.ndarray:
    """Indices 0, k, 2k, ... of n items, and the last one: about max_points of them at most."""
    idx = np.arange(0, n, bucket(n, max_points))
    return idx if not n or idx[-1] == n - 1 else np.append(idx, n - 1)


def ramp(t: np.ndarray, low, mid, high) -> np.ndarray:
    """A two-sided colour scale, float RGB (…, 3): t = -1 is `low`, 0 is `mid`, +1 is `high`,
    linear in between (t of shape (…))."""
    low, mid, high = (np.asarray(c, np.float32) for c in (low, mid, high))
    t = np.asarray(t, np.float32)[..., None]
    return np.where(t < 0, mid + (low - mid) * -t, mid + (high - mid) * t)


def _stretch(a: np.ndarray, m: int, axis: int) -> np.ndarray:
    """a resampled to m points along axis, linearly, its first and last points kept (bilinear
    interpolation with aligned corners, one axis at a time; numpy: no thread pool in the web server)."""
    n = a.shape[axis]
    if n == 1:
        return np.repeat(a, m, axis=axis)
    pos = np.linspace(0, n - 1, m, dtype=np.float32)
    i0 = np.minimum(pos.astype(np.intp), n - 2)
    f = (pos - i0).reshape([m if k == axis else 1 for k in range(a.ndim)])
    lo, hi = np.take(a, i0, axis=axis), np.take(a, i0 + 1, axis=axis)
    return lo + (hi - lo) * f


def ramp_u8(t: np.ndarray, low, mid, high, levels: int = 256) -> np.ndarray:
    """ramp() as uint8 RGB through a lookup table of 2 * levels + 1 colours (t is clipped to [-1, 1]):
    within one unit of ramp(), at a fifth of its cost on a 380 x 380 image redrawn twice a second."""
    lut = ramp(np.linspace(-1, 1, 2 * levels + 1), low, mid, high).astype(np.uint8)
    return lut[np.rint((np.clip(t, -1, 1) + 1) * levels).astype(np.intp)]


def q(field: str, title: str | None = None, **kw) -> dict:
    """A quantitative Vega-Lite encoding channel."""
    return {"field": field, "type": "quantitative", **({"title": title} if title is not None else {}), **kw}


def tip(field: str, fmt: str | None = None, title: str | None = None, kind: str = "quantitative") -> dict:
    return {"field": field, "type": kind, **({"format": fmt} if fmt else {}), **({"title": title} if title else {})}


def step_loss_chart(step_x: list, step_loss: list, smoothing: float = 0.6, log_y: bool = False,
                    diverged_at: int | None = None, height: int = 260) -> dict:
    """Training loss per step: raw (faint) and smoothed; a red rule where a run diverged."""
    x, y = downsample(step_x, step_loss)
    main = pd.DataFrame({"step": x, "loss": y, "smoothed": ema(y, smoothing) if len(y) else y})
    rule = pd.DataFrame({"step": [diverged_at] if diverged_at else []}, dtype=float)
    scale = {"type": "log"} if log_y else {"zero": False}
    x_enc = q("step", "step")
    about = "Training loss per step, raw (faint) and smoothed"     # the same every tick: the numbers are in words
    return {"height": height, "description": about, "datasets": {"main": main, "rule": rule}, "layer": [
        {"data": {"name": "main"}, "mark": {"type": "line", "opacity": 0.3, "color": COLORS["train"]},
         "encoding": {"x": x_enc, "y": q("loss", "training loss", scale=scale),
                      "tooltip": [tip("step"), tip("loss", ".4f")]}},
        {"data": {"name": "main"}, "mark": {"type": "line", "color": COLORS["train"], "strokeWidth": 2},
         "encoding": {"x": x_enc, "y": q("smoothed")}},
        {"data": {"name": "rule"}, "mark": {"type": "rule", "color": "#d62728", "strokeDash": [4, 3], "strokeWidth": 2},
         "encoding": {"x": q("step")}},
    ]}


def step_loss_caption(step_x: list) -> str:
    """The step-loss chart's title: what its faint line is. Past MAX_POINTS points each point drawn is the mean
    of a bucket of them (downsample), and a long run's history has averaged its old steps in pairs: the faint
    line is then not one step's loss, and the title says how many steps each point is, on average."""
    n = len(step_x)
    per = int(step_x[-1]) / -(-n // bucket(n)) if n else 1.0      # steps per point drawn (buckets as downsample's)
    faint = "raw" if per < 1.5 else f"means of about {per:,.0f} steps each"
    return f"Training loss per step (faint: {faint}, bold: smoothed)"


def step_loss_words(step_x: list, step_loss: list, diverged_at: int | None = None) -> str:
    """The step-loss chart in words, with its numbers: for a screen reader and the back of a room. The steps
    are counted by the last one's number: a long run's history keeps every other step (it said 11,060 steps
    at step 21,080)."""
    if not len(step_loss):
        return "Training loss per step: no step yet."
    return (f"Training loss per step: {int(step_x[-1]):,} steps, from {step_loss[0]:.3g} to {step_loss[-1]:.3g}"
            + (f"; diverged at step {diverged_at:,}" if diverged_at else "") + ".")


def epoch_words(epochs: list[dict], metric: str) -> str:
    """An epoch chart in words: per split, the first and the last value."""
    from playground.train.tasks import METRIC_LABELS

    ends = [f"{name} {series[0]:.3g} to {series[-1]:.3g}"
            for name, key in (("training", "train"), ("validation", "val"))
            if (series := [e[f"{key}_{metric}"] for e in epochs if f"{key}_{metric}" in e])]
    title = METRIC_LABELS.get(metric, metric)
    return (f"{title[:1].upper() + title[1:]} per epoch, {len(epochs)} epoch{'s' if len(epochs) != 1 else ''}"
            + (": " + "; ".join(ends) if ends else "") + ".")


def lr_chart(marks: list, height: int = 110) -> dict:
    """The learning rate against step, from a history's marks (step, samples, time, lr)."""
    df = pd.DataFrame({"step": [m[0] for m in marks], "lr": [m[3] for m in marks]}, columns=["step", "lr"])
    return {"height": height, "datasets": {"main": df}, "data": {"name": "main"},
            "mark": {"type": "line", "color": "#7f7f7f", "interpolate": "step-after"},
            "encoding": {"x": q("step", "step"), "y": q("lr", "learning rate", axis={"format": "~g"}),
                         "tooltip": [tip("step"), tip("lr", ".3~g")]}}


def lr_finder_chart(lrs, losses, smoothed, suggestion: float | None, height: int = 220) -> dict:
    """LR range test: loss (faint) and smoothed loss against the learning rate (log x), with the
    suggestion marked."""
    df = pd.DataFrame({"lr": lrs, "loss": losses, "smoothed": smoothed})
    rule = pd.DataFrame({"lr": [suggestion] if suggestion else []}, dtype=float)
    x = q("lr", "learning rate", scale={"type": "log"}, axis={"format": "~g"})
    return {"height": height, "datasets": {"main": df, "rule": rule}, "layer": [
        {"data": {"name": "main"}, "mark": {"type": "line", "opacity": 0.3, "color": COLORS["train"]},
         "encoding": {"x": x, "y": q("loss", "training loss")}},
        {"data": {"name": "main"}, "mark": {"type": "line", "color": COLORS["train"], "strokeWidth": 2},
         "encoding": {"x": x, "y": q("smoothed"), "tooltip": [tip("lr", ".3~g"), tip("smoothed", ".4f")]}},
        {"data": {"name": "rule"}, "mark": {"type": "rule", "color": COLORS["validation"], "strokeWidth": 2},
         "encoding": {"x": q("lr")}},
    ]}


MAX_EPOCH_POINTS = 200     # epochs drawn at most (every k-th, and the last): a 2-D toy runs 1,000s of epochs
DOTS_UP_TO = 60            # epochs up to which each one is also drawn as a dot


BOUNDED = {"acc", "token_acc", "seq_acc", "r2"}      # metrics whose best value is 1


def epoch_chart(epochs: list[dict], metric: str, height: int = 220) -> dict:
    """Train and validation `metric` ("loss", "acc", "r2", ...: the key after train_/val_) per epoch,
    one line each where the records have it (with a dot per epoch while there are few)."""
    from playground.train.tasks import METRIC_LABELS

    shown = [epochs[i] for i in every_kth(len(epochs), MAX_EPOCH_POINTS)]
    rows = [{"epoch": e["epoch"], "split": split, "value": e[f"{key}_{metric}"]}
            for e in shown for split, key in (("train", "train"), ("validation", "val")) if f"{key}_{metric}" in e]
    df = pd.DataFrame(rows, columns=["epoch", "split", "value"])
    title = METRIC_LABELS.get(metric, metric)
    # accuracy, R²: from where the curves are up to 1, so the last percent points stay visible
    scale = {"zero": False, "domainMax": 1} if metric in BOUNDED else {"zero": False}
    color = {"field": "split", "type": "nominal", "title": None,
             "scale": {"domain": list(COLORS), "range": list(COLORS.values())}, "legend": {"orient": "bottom"}}
    about = f"{title} per epoch, training and validation"
    return {"height": height, "description": about, "datasets": {"main": df}, "data": {"name": "main"},
            "mark": {"type": "line", "point": len(epochs) <= DOTS_UP_TO},
            "encoding": {"x": q("epoch", "epoch", axis={"tickMinStep": 1, "format": "d"}),
                         "y": q("value", title, scale=scale), "color": color,
                         "tooltip": [tip("epoch"), tip("split", kind="nominal"), tip("value", ".4f")]}}


CLASS_RGB = np.array([[245, 147, 34], [8, 119, 189]], dtype=np.float32)     # class 0 orange, class 1 blue
MIDDLE_RGB = np.array([232, 234, 235], dtype=np.float32)                     # P = 0.5: light grey
EDGE_RGB = np.array([160, 160, 160], dtype=np.uint8)
OUTLINE_RGB = np.array([45, 45, 45], dtype=np.uint8)        # a thin dark edge: dots show on either colour


def boundary_image(boundary: dict | None, X_train, y_train, X_val, y_val, size: int = 360,
                   scale: float | None = None) -> np.ndarray:
    """The decision boundary as an RGB image (size, size, 3), uint8, TensorFlow Playground style:
    the background shades from orange (P(class 1) = 0) through light grey (0.5) to blue (1); training
    points are filled dots in their class colour, validation points rings. Up is +x2 (the grid's
    last row), right is +x1.

    Regression (scale = the largest |target| to show): the background is the prediction and the dots
    are the targets, on one scale from orange (-scale) through grey (0) to blue (+scale).

    An image rather than a Plotly figure: the page redraws it twice a second while a run trains,
    and plotly.js restyling 500 SVG points took most of a core in the browser (measured with
    Chromium's profiler); an image costs the browser nothing and is built here in a few ms."""
    X_all = np.concatenate([np.asarray(X_train, np.float32), np.asarray(X_val, np.float32)])
    if boundary is not None:
        xs, ys = np.asarray(boundary["xs"], np.float32), np.asarray(boundary["ys"], np.float32)
        p = np.asarray(boundary["p"], np.float32)                                     # (rows=y, cols=x)
        p = _stretch(_stretch(p, size, 0), size, 1)                                    # bilinear, corners kept
        p = p[::-1]                                                                    # image row 0 = top = max y
        t = 2 * p - 1 if scale is None else np.clip(p / scale, -1, 1)
        img = ramp_u8(t, CLASS_RGB[0], MIDDLE_RGB, CLASS_RGB[1])                 # (size, size, 3)
        x_lo, x_hi, y_lo, y_hi = xs[0], xs[-1], ys[0], ys[-1]
    else:
        img = np.full((size, size, 3), 250, np.uint8)
        lo, hi = X_all.min(0), X_all.max(0)
        pad = (hi - lo) * 0.08
        (x_lo, y_lo), (x_hi, y_hi) = lo - pad, hi + pad
    col = np.round((np.asarray(X_all[:, 0]) - x_lo) / (x_hi - x_lo) * (size - 1)).astype(int)
    row = np.round((y_hi - np.asarray(X_all[:, 1])) / (y_hi - y_lo) * (size - 1)).astype(int)
    labels = np.concatenate([np.asarray(y_train), np.asarray(y_val)])
    labels = labels[:, 0] if labels.ndim == 2 else labels                  # regression targets are (N, 1)
    if scale is None:
        point_rgb = CLASS_RGB[labels.astype(int)].astype(np.uint8)
    else:
        point_rgb = ramp(np.clip(labels / scale, -1, 1), CLASS_RGB[0], MIDDLE_RGB, CLASS_RGB[1]).astype(np.uint8)
    return _stamp(img, row, col, point_rgb, len(np.asarray(y_train)))


def _stamp(img: np.ndarray, row: np.ndarray, col: np.ndarray, point_rgb: np.ndarray, n_filled: int) -> np.ndarray:
    """img with a dot per point at (row, col) in its colour, a thin dark edge around each: the first
    n_filled filled (training points), the rest rings (validation points), each drawn over the ones
    before it; and a grey frame. The dots' pixels are worked out once per set of points and image size
    (the live panel redraws the same points under a new boundary twice a second: ~7 ms a redraw drawn
    one dot at a time, ~0.3 ms as one assignment)."""
    rows, cols, rgb = _dots(row.astype(np.intp).tobytes(), col.astype(np.intp).tobytes(),
                            np.ascontiguousarray(point_rgb, np.uint8).tobytes(), n_filled, img.shape[0])
    img[rows, cols] = rgb                                   # in drawing order: a later dot covers an earlier one
    img[0, :], img[-1, :], img[:, 0], img[:, -1] = EDGE_RGB, EDGE_RGB, EDGE_RGB, EDGE_RGB
    return img


@functools.lru_cache(maxsize=16)
def _dots(row_bytes: bytes, col_bytes: bytes, rgb_bytes: bytes, n_filled: int, size: int):
    """The pixels (rows, cols) and colours (K, 3) of _stamp's dots, in drawing order: for each point its
    edge, then its disc (training) or ring (validation); points whose dot would leave the image are left out."""
    row, col = np.frombuffer(row_bytes, np.intp), np.frombuffer(col_bytes, np.intp)
    point_rgb = np.frombuffer(rgb_bytes, np.uint8).reshape(-1, 3)
    r = max(3, size // 90)
    h = r + 1
    yy, xx = np.mgrid[-h:h + 1, -h:h + 1]
    dist = np.sqrt(yy ** 2 + xx ** 2)
    outline = (dist > r - 0.5) & (dist <= r + 0.6)            # both: a thin dark edge
    fills = (dist <= r - 0.5, (dist > r - 2.3) & (dist <= r - 0.5))     # a training point's disc, a ring
    inside = (row - h >= 0) & (col - h >= 0) & (row + h + 1 <= size) & (col + h + 1 <= size)
    parts = []
    for filled, fill in zip((True, False), fills):
        k = np.flatnonzero(inside & ((np.arange(len(row)) < n_filled) == filled))
        dy = np.concatenate([yy[outline], yy[fill]])          # one dot: its edge's pixels, then its fill's
        dx = np.concatenate([xx[outline], xx[fill]])
        rgb = np.empty((len(k), len(dy), 3), np.uint8)
        rgb[:, :outline.sum()] = OUTLINE_RGB
        rgb[:, outline.sum():] = point_rgb[k][:, None]
        parts.append(((row[k, None] + dy).ravel(), (col[k, None] + dx).ravel(), rgb.reshape(-1, 3)))
    return tuple(np.concatenate(p) for p in zip(*parts))      # the filled points (the first) drawn first


def class_colours(k: int) -> np.ndarray:
    """(k, 3) float RGB: the decision boundary's orange and blue for two classes, else palette.CLASSES (cycled)."""
    from playground.viz.palette import CLASSES, cycled, rgb

    return CLASS_RGB.copy() if k == 2 else (rgb(cycled(CLASSES, k)) * 255).astype(np.float32)


def plane_image(arrays: dict, size: int = 360) -> np.ndarray:
    """playground.inspect.plane's arrays as an RGB image (size, size, 3) uint8, up +y, right +x: each
    point of the plane in its predicted class's colour, paler where the model is less sure
    (classification), or the prediction from orange (lowest) through grey to blue (highest,
    regression); the split's rows as dots in their own class's colour (or target's shade)."""
    xs, ys = np.asarray(arrays["xs"], np.float32), np.asarray(arrays["ys"], np.float32)
    labels = np.asarray(arrays["labels"])
    if "cls" in arrays:
        k = len(arrays["class_names"])
        colours = class_colours(k)
        cls = np.asarray(arrays["cls"])[::-1]                                  # image row 0 = top = max y
        conf = np.asarray(arrays["conf"], np.float32)[::-1]
        sure = np.clip((conf - 1 / k) / (1 - 1 / k), 0, 1)[..., None]          # 0 at chance, 1 when certain
        small = 255 + (colours[cls] - 255) * (0.12 + 0.5 * sure)              # from near white to half the colour
        rows = np.minimum(np.arange(size) * len(ys) // size, len(ys) - 1)
        cols = np.minimum(np.arange(size) * len(xs) // size, len(xs) - 1)
        img = small[rows][:, cols].astype(np.uint8)
        point_rgb = colours[labels.astype(int)].astype(np.uint8)
    else:
        pred = np.asarray(arrays["pred"], np.float32)
        lo, hi = float(min(pred.min(), labels.min())), float(max(pred.max(), labels.max()))
        span = (hi - lo) or 1.0
        t = _stretch(_stretch(2 * (pred - lo) / span - 1, size, 0), size, 1)[::-1]
        img = ramp_u8(t, CLASS_RGB[0], MIDDLE_RGB, CLASS_RGB[1])
        point_rgb = ramp(2 * (labels - lo) / span - 1, CLASS_RGB[0], MIDDLE_RGB, CLASS_RGB[1]).astype(np.uint8)
    px, py = np.asarray(arrays["px"], np.float32), np.asarray(arrays["py"], np.float32)
    col = np.round((px - xs[0]) / (xs[-1] - xs[0]) * (size - 1)).astype(int)
    row = np.round((ys[-1] - py) / (ys[-1] - ys[0]) * (size - 1)).astype(int)
    return _stamp(np.ascontiguousarray(img), row, col, point_rgb, len(px))


def fit_chart(fit: dict | None, X_train, y_train, X_val, y_val, height: int = 300) -> dict:
    """1-D regression: the training and validation points, and the model's curve over them
    (fit = {"xs", "pred"} from the engine's decision_grid, or None before the first one)."""
    pts = pd.DataFrame({"x": np.concatenate([np.asarray(X_train)[:, 0], np.asarray(X_val)[:, 0]]),
                        "y": np.concatenate([np.asarray(y_train)[:, 0], np.asarray(y_val)[:, 0]]),
                        "split": ["train"] * len(X_train) + ["validation"] * len(X_val)})
    line = pd.DataFrame({"x": fit["xs"] if fit else [], "y": fit["pred"] if fit else []}, columns=["x", "y"],
                        dtype=float)
    color = {"field": "split", "type": "nominal", "title": None,
             "scale": {"domain": list(COLORS), "range": list(COLORS.values())}, "legend": {"orient": "bottom"}}
    return {"height": height, "datasets": {"points": pts, "line": line}, "layer": [
        {"data": {"name": "points"}, "mark": {"type": "point", "filled": True, "size": 40, "opacity": 0.8},
         "encoding": {"x": q("x", "x"), "y": q("y", "y"), "color": color,
                      "tooltip": [tip("x", ".3f"), tip("y", ".3f"), tip("split", kind="nominal")]}},
        {"data": {"name": "line"}, "mark": {"type": "line", "color": "#333", "strokeWidth": 2.5},
         "encoding": {"x": q("x"), "y": q("y")}},
    ]}
