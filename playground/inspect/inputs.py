"""The inputs an inspector looks at: an example of the run's own split (split_arrays, example), or an
input of the user's own (an uploaded image or a drawing), made to look like the run's data: its
channel count, its height and width, its value range, and (for grey digits) a light figure on a dark
background, as MNIST and the digits set have. The result feeds the same inspectors as a validation
example (activations(frozen, x=...), conv_cell(frozen, x=...)), which check it with check_input."""
from __future__ import annotations

import io

import numpy as np
import torch

from playground.errors import DataError, PlaygroundError

MAX_BYTES = 10 * 2**20          # uploads above 10 MB are refused before PIL opens them
DIGIT_BOX = 20 / 28             # MNIST centres each digit in a 20x20 box of its 28x28 image


def split_arrays(frozen, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(X, y) of the frozen run's split, "val" or "train"; a clear error for any other name."""
    if split not in ("val", "train"):
        raise PlaygroundError(f"split: '{split}' is not one of val, train")
    d = frozen.data
    return (d.X_val, d.y_val) if split == "val" else (d.X_train, d.y_train)


def example(frozen, sample: int, split: str) -> torch.Tensor:
    """Input `sample` of the split, (C, H, W) or (features,); a clear error outside it."""
    X, _ = split_arrays(frozen, split)
    if not 0 <= sample < len(X):
        raise PlaygroundError(f"sample: {sample} is outside the {split} split, which has {len(X)} examples "
                              f"(0 to {len(X) - 1})")
    return X[sample]


def check_input(frozen, x: torch.Tensor) -> torch.Tensor:
    """x, an input of the user's own, in the data's dtype; a clear error unless it has the data's shape."""
    want = tuple(frozen.data.X_train.shape[1:])
    if tuple(x.shape) != want:
        raise PlaygroundError(f"input: shape {'x'.join(map(str, x.shape))} does not match the run's data "
                              f"({'x'.join(map(str, want))}); resize it to that shape")
    return x.to(frozen.data.X_train.dtype)


def value_range(X: torch.Tensor) -> tuple[float, float]:
    """(lowest, highest) value of a data set's inputs: an image in [0, 1] is mapped onto it."""
    return float(X.min()), float(X.max())


def _fit(a: np.ndarray, h: int, w: int, centre: bool) -> tuple[np.ndarray, str | None]:
    """(h0, w0[, 3]) in [0, 1] -> (h, w[, 3]): resized whole, or (centre) cropped to the figure and
    centred in a box like MNIST's. The note says what was done."""
    from PIL import Image

    def resize(arr, size):
        img = Image.fromarray((arr * 255).round().astype(np.uint8))
        return np.asarray(img.resize(size, Image.Resampling.LANCZOS), np.float32) / 255

    if centre:
        ink = (a if a.ndim == 2 else a.max(-1)) > 0.1 * float(a.max())
        rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
        if len(rows):
            crop = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
            box = max(1, round(min(h, w) * DIGIT_BOX))
            scale = box / max(crop.shape[:2])
            ch, cw = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
            out = np.zeros((h, w) + a.shape[2:], np.float32)
            top, left = (h - ch) // 2, (w - cw) // 2
            out[top:top + ch, left:left + cw] = resize(crop, (cw, ch))
            return out, f"cropped to the figure and centred in a {box}x{box} box, as MNIST's digits are"
    note = None if a.shape[:2] == (h, w) else f"resized from {a.shape[1]}x{a.shape[0]} to {w}x{h} pixels"
    return (resize(a, (w, h)) if note else a.astype(np.float32)), note


def _prepare(img, shape: tuple, lo_hi: tuple[float, float], centre: bool, invert_light: bool,
             name: str) -> tuple[torch.Tensor, list[str]]:
    from PIL import Image

    c, h, w = shape
    if c not in (1, 3):
        raise DataError(f"{name}: this run's inputs have {c} channels; images can stand in only for 1-channel "
                        f"(grey) or 3-channel (colour) data; pick a validation example instead")
    notes = []
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255) if invert_light else (0, 0, 0, 255))
        img = Image.alpha_composite(bg, img.convert("RGBA"))
        notes.append("transparent pixels filled with " + ("white" if invert_light else "black"))
    if c == 1 and img.mode != "L":
        notes.append("converted to grey")
    img = img.convert("L" if c == 1 else "RGB")
    a = np.asarray(img, np.float32) / 255                                   # (h0, w0) or (h0, w0, 3) in [0, 1]
    if c == 1 and invert_light and a.mean() > 0.5:
        a = 1 - a
        notes.append("mostly light, so inverted to a light figure on a dark background like the training data")
    a, note = _fit(a, h, w, centre)
    notes += [note] if note else []
    lo, hi = lo_hi
    if (lo, hi) != (0.0, 1.0):
        notes.append(f"scaled to the data's range {lo:.3g} to {hi:.3g}")
    x = torch.from_numpy(lo + a * (hi - lo)).float()
    return (x[None] if c == 1 else x.permute(2, 0, 1)).contiguous(), notes


def image_input(raw: bytes, shape: tuple, lo_hi: tuple[float, float] = (0.0, 1.0), name: str = "the file",
                centre: bool = False) -> tuple[torch.Tensor, list[str]]:
    """An uploaded file's bytes -> (input (C, H, W) like the data's, notes on what was done to it).
    Raises DataError for a file that is too large or not an image."""
    from PIL import Image, UnidentifiedImageError

    if len(raw) > MAX_BYTES:
        raise DataError(f"'{name}' is {len(raw) / 2**20:.1f} MB; images up to {MAX_BYTES // 2**20} MB are accepted: "
                        f"upload a smaller PNG or JPEG (a digit needs only a few hundred pixels a side)")
    try:
        img = Image.open(io.BytesIO(raw))
        img.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as e:
        raise DataError(f"'{name}' is not an image that can be read ({type(e).__name__}): upload a PNG or JPEG "
                        f"file") from None
    return _prepare(img, shape, lo_hi, centre, True, f"'{name}'")


def canvas_input(rgba: np.ndarray, shape: tuple, lo_hi: tuple[float, float] = (0.0, 1.0),
                 centre: bool = True) -> tuple[torch.Tensor, list[str]]:
    """A drawing (h, w, 4) uint8 RGBA, light strokes on a black canvas -> (input (C, H, W), notes).
    Raises DataError for an empty canvas."""
    from PIL import Image

    rgb = rgba[..., :3].astype(np.float32) * (rgba[..., 3:4].astype(np.float32) / 255)   # over black
    if rgb.max() < 13:                                                      # nothing drawn (5% of white)
        raise DataError("the canvas is empty: draw a digit on it (a light stroke on the dark square)")
    return _prepare(Image.fromarray(rgb.round().astype(np.uint8)), shape, lo_hi, centre, False, "the drawing")
