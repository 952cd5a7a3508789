"""An augmented batch as one image: each original above its augmented version (uint8, pure)."""
from __future__ import annotations

import numpy as np

from playground.viz.filters import BG, mosaic


def tile(x: np.ndarray, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """An image (C, H, W) -> (H, W, 3) uint8 on a fixed scale lo..hi (not min-max: brightness and
    contrast changes must show)."""
    t = np.clip((x - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    img = t.transpose(1, 2, 0) if x.shape[0] == 3 else np.repeat(t[0][..., None], 3, -1)
    return (img * 255).round().astype(np.uint8)


def pairs_grid(originals: np.ndarray, augmented: np.ndarray, cols: int = 8, size: int = 56,
               lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    """originals, augmented (N, C, H, W) -> one uint8 mosaic (rows, cols, 3): per sample a tile with
    the original on top, a grey line, and its augmented version below; each image about size pixels
    wide; cols pairs per row."""
    n, _, h, w = originals.shape
    line = np.empty((1, w, 3), np.uint8)
    line[:] = BG
    tiles = [np.concatenate([tile(originals[k], lo, hi), line, tile(augmented[k], lo, hi)]) for k in range(n)]
    return mosaic(tiles, min(cols, n), max(1, size // max(h, w)))
