"""Colours that stay apart for the common colour-vision deficiencies, and the second cue beside them.

About one boy in twelve sees red and green poorly. Every categorical colour the figures use comes
from here: CLASSES for classes (scatter points, regions), LINES for the lines of a comparison; each
goes with a marker shape (SHAPES) or a dash pattern (DASHES), so colour is never the only cue.
`simulate` is Machado, Oliveira & Fernandes (2009)'s model of full protanopia, deuteranopia and
tritanopia (applied in linear RGB); `delta_e` is CIEDE2000. tests/unit/test_palette.py checks the
smallest distance between any two colours of each palette, as seen with each deficiency.
"""
from __future__ import annotations

import numpy as np

# Okabe & Ito's palette first (vermillion, blue, bluish green, orange, sky blue, reddish purple,
# yellow, black), then a dark brown and a light grey for classes 9 and 10 (the pair that keeps the
# smallest distance highest under the three simulations, of 33 tried)
CLASSES = ["#D55E00", "#0072B2", "#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#F0E442", "#000000", "#7F3B08",
           "#BBBBBB"]
LINES = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#7F3B08"]   # no yellow on white
SHAPES = ["circle", "square", "triangle-up", "diamond", "cross", "triangle-down", "triangle-left", "triangle-right",
          "wedge", "stroke"]
DASHES = [[1, 0], [7, 3], [2, 2], [9, 3, 2, 3], [4, 4], [12, 2], [2, 5], [6, 2, 2, 2, 2, 2]]

MACHADO = {   # severity 1.0, linear RGB
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}


def cycled(colours: list, n: int) -> list:
    return [colours[i % len(colours)] for i in range(n)]


def rgb(hex_colours: list[str]) -> np.ndarray:
    """'#RRGGBB' strings -> (N, 3) floats in [0, 1]."""
    return np.array([[int(h[i:i + 2], 16) / 255 for i in (1, 3, 5)] for h in hex_colours])


def _linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _gamma(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0, 1)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


def simulate(colours: np.ndarray, kind: str) -> np.ndarray:
    """sRGB colours (N, 3) in [0, 1] as seen with `kind` (a key of MACHADO, or "normal")."""
    if kind == "normal":
        return colours
    return _gamma(_linear(colours) @ np.asarray(MACHADO[kind]).T)


def lab(colours: np.ndarray) -> np.ndarray:
    """sRGB (N, 3) in [0, 1] -> CIELAB (N, 3), D65 white."""
    xyz = _linear(colours) @ np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                                       [0.0193339, 0.1191920, 0.9503041]]).T
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def delta_e(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference between CIELAB colours (..., 3) (Sharma, Wu & Dalal 2005)."""
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, float), -1, 0)
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, float), -1, 0)
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar ** 7 / (c_bar ** 7 + 25 ** 7)))
    a1p, a2p = a1 * (1 + g), a2 * (1 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p, h2p = np.degrees(np.arctan2(b1, a1p)) % 360, np.degrees(np.arctan2(b2, a2p)) % 360
    dL, dC = L2 - L1, c2p - c1p
    dh = h2p - h1p
    dh = np.where(c1p * c2p == 0, 0, np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh)))
    dH = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    L_bar, c_bar_p = (L1 + L2) / 2, (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_bar = np.where(c1p * c2p == 0, h_sum,
                     np.where(np.abs(h1p - h2p) <= 180, h_sum / 2,
                              np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2)))
    t = (1 - 0.17 * np.cos(np.radians(h_bar - 30)) + 0.24 * np.cos(np.radians(2 * h_bar))
         + 0.32 * np.cos(np.radians(3 * h_bar + 6)) - 0.20 * np.cos(np.radians(4 * h_bar - 63)))
    sl = 1 + 0.015 * (L_bar - 50) ** 2 / np.sqrt(20 + (L_bar - 50) ** 2)
    sc, sh = 1 + 0.045 * c_bar_p, 1 + 0.015 * c_bar_p * t
    rt = (-2 * np.sqrt(c_bar_p ** 7 / (c_bar_p ** 7 + 25 ** 7))
          * np.sin(np.radians(60 * np.exp(-(((h_bar - 275) / 25) ** 2)))))
    return np.sqrt((dL / sl) ** 2 + (dC / sc) ** 2 + (dH / sh) ** 2 + rt * (dC / sc) * (dH / sh))


def closest_pair(hex_colours: list[str], kind: str = "normal") -> tuple[float, tuple[str, str]]:
    """The smallest CIEDE2000 distance between two of the colours as seen with `kind`, and the pair."""
    seen = lab(simulate(rgb(hex_colours), kind))
    i, j = np.triu_indices(len(hex_colours), 1)
    d = delta_e(seen[i], seen[j])
    k = int(np.argmin(d))
    return float(d[k]), (hex_colours[i[k]], hex_colours[j[k]])
