"""Explanations drawn (pure functions of the explain inspector's arrays).

Maps over an input are uint8 images: the input in grey (or colour) with the map laid over it, the
map's colour opaque where it is strong and clear where it is near zero, so the input shows through.
A map that is never negative (Grad-CAM, saliency) uses a heat scale from transparent through red to
yellow; a signed one (IG, SHAP, occlusion) red for evidence for the class and blue against, as SHAP
draws it. Each map is scaled to its own strongest value unless a shared limit is given: colours are
relative within one picture.

Tables get SHAP's own plots in Plotly: the waterfall from E[f] to f(x), the beeswarm and the bar.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from playground.viz.filters import diverging, grey

HEAT = np.array([[0, 0, 0], [180, 0, 0], [255, 120, 0], [255, 230, 60]], np.float32)   # low -> high
SIGNED = ("ig", "occlusion", "shap", "deepshap", "kernelshap", "guided")
RED, BLUE, GREY = "#d6283b", "#1f77d4", "#9a9a9a"


def signed(method: str) -> bool:
    return method in SIGNED


def limit_of(m: np.ndarray, is_signed: bool) -> float:
    """The value drawn at full strength: the 99.5th percentile of |map| (one extreme pixel would
    otherwise wash out the rest), or the largest value of a map that is never negative and smooth."""
    a = np.abs(m) if is_signed else np.clip(m, 0, None)
    v = float(np.percentile(a, 99.5)) if a.size > 64 else float(a.max())
    return v if v > 0 else float(a.max())


def heat(t: np.ndarray) -> np.ndarray:
    """t in [0, 1] (…) -> float RGB (…, 3) along HEAT."""
    t = np.clip(t, 0, 1) * (len(HEAT) - 1)
    i = np.minimum(t.astype(int), len(HEAT) - 2)
    f = (t - i)[..., None]
    return HEAT[i] * (1 - f) + HEAT[i + 1] * f


def base_image(x: np.ndarray) -> np.ndarray:
    """An input (C, H, W) as float RGB (H, W, 3) in [0, 255], dimmed so the colours over it read."""
    if x.shape[0] == 3:
        lo, hi = float(x.min()), float(x.max())
        img = (x.transpose(1, 2, 0) - lo) / (hi - lo if hi > lo else 1) * 255
    else:
        img = grey(x[0]).astype(np.float32)
    return img * 0.75


def overlay(x: np.ndarray, m: np.ndarray, is_signed: bool, limit: float | None = None, size: int = 168,
            strength: float = 0.85) -> np.ndarray:
    """The input x (C, H, W) with the map m (H, W) over it, (size, size, 3) uint8 (nearest-neighbour
    upscaled: each input pixel a block). limit: the value at full colour (default: this map's own)."""
    limit = limit_of(m, is_signed) if limit is None else limit
    base = base_image(x)
    if is_signed:
        t = np.clip(m / limit, -1, 1) if limit > 0 else np.zeros_like(m)
        colour = diverging(m, limit).astype(np.float32)
        alpha = np.abs(t)[..., None] * strength
    else:
        t = np.clip(m / limit, 0, 1) if limit > 0 else np.zeros_like(m)
        colour = heat(0.25 + 0.75 * t)
        alpha = t[..., None] * strength
    img = (base * (1 - alpha) + colour * alpha).round().astype(np.uint8)
    cell = max(1, size // max(m.shape))
    return img.repeat(cell, 0).repeat(cell, 1)


def legend(is_signed: bool) -> str:
    return ("red: raises the class's score, blue: lowers it; the strongest 0.5% of pixels at full colour"
            if is_signed else "dark to yellow: from no evidence to the strongest in this picture")


# ---- tables: SHAP's plots ---------------------------------------------------------------------------

def waterfall(values: np.ndarray, names: list[str], inputs: np.ndarray, expected: float, fx: float,
              top: int = 10, axis: str = "the class's score (logit)") -> go.Figure:
    """One prediction, SHAP's waterfall: from E[f] (the mean score over the background) to f(x),
    one bar per feature (largest |value| at the top), the rest summed in one bar."""
    order = np.argsort(-np.abs(values))
    shown, rest = order[:top], order[top:]
    labels = [f"{names[i]} = {inputs[i]:.3g}" for i in shown[::-1]]
    steps = [float(values[i]) for i in shown[::-1]]
    if len(rest):
        labels.insert(0, f"{len(rest)} other features")
        steps.insert(0, float(values[rest].sum()))
    fig = go.Figure(go.Waterfall(
        orientation="h", y=["E[f(x)]"] + labels + ["f(x)"], x=[expected] + steps + [fx],
        measure=["absolute"] + ["relative"] * len(steps) + ["total"], base=0,
        text=[f"{expected:.3f}"] + [f"{s:+.3f}" for s in steps] + [f"{fx:.3f}"], textposition="auto",
        increasing={"marker": {"color": RED}}, decreasing={"marker": {"color": BLUE}},
        totals={"marker": {"color": GREY}}, connector={"line": {"color": "#bbb", "width": 1}}))
    fig.update_layout(height=90 + 28 * (len(labels) + 2), margin=dict(l=10, r=40, t=30, b=30),
                      xaxis_title=axis, showlegend=False,
                      title=dict(text=f"E[f] = {expected:.3f}  →  f(x) = {fx:.3f}", font=dict(size=14)))
    return fig


def beeswarm(values: np.ndarray, inputs: np.ndarray, names: list[str], top: int = 10, seed: int = 0,
             axis: str = "SHAP value (effect on the class's score)") -> go.Figure:
    """Every row's SHAP value per feature (a dot each), features ranked by mean |SHAP| (top first),
    each dot coloured by its feature's value (blue low, red high, within that feature)."""
    order = np.argsort(-np.abs(values).mean(0))[:top]
    rng = np.random.RandomState(seed)
    fig = go.Figure()
    for rank, j in enumerate(order):
        v, f = values[:, j], inputs[:, j]
        lo, hi = np.percentile(f, 5), np.percentile(f, 95)
        c = np.clip((f - lo) / (hi - lo), 0, 1) if hi > lo else np.full(f.shape, 0.5)
        # jitter grows where dots crowd: a histogram's height at each dot
        counts, edges = np.histogram(v, bins=40)
        density = counts[np.clip(np.searchsorted(edges, v) - 1, 0, len(counts) - 1)] / max(counts.max(), 1)
        y = len(order) - 1 - rank + (rng.rand(len(v)) - 0.5) * 0.7 * density
        fig.add_trace(go.Scatter(
            x=v, y=y, mode="markers", name=names[j], showlegend=False,
            marker=dict(size=5, color=c, colorscale=[[0, BLUE], [1, RED]], cmin=0, cmax=1,
                        showscale=rank == 0, colorbar=dict(title="feature<br>value", tickvals=[0, 1],
                                                           ticktext=["low", "high"], len=0.6)),
            customdata=np.stack([f], -1),
            hovertemplate=f"{names[j]} = %{{customdata[0]:.3g}}<br>SHAP %{{x:+.3f}}<extra></extra>"))
    fig.add_vline(x=0, line_color="#999", line_width=1)
    fig.update_layout(height=80 + 34 * len(order), margin=dict(l=10, r=10, t=20, b=40),
                      xaxis_title=axis,
                      yaxis=dict(tickvals=list(range(len(order))), ticktext=[names[j] for j in order[::-1]],
                                 range=[-0.6, len(order) - 0.4]))
    return fig


def feature_bars(values: np.ndarray, names: list[str], inputs: np.ndarray, top: int = 10, height: int = 0,
                 axis: str = "effect on the class's score") -> go.Figure:
    """One row's attribution per feature (largest |value| at the top): red raises the score, blue lowers it."""
    order = np.argsort(-np.abs(values))[:top][::-1]
    fig = go.Figure(go.Bar(x=values[order], y=[f"{names[j]} = {inputs[j]:.3g}" for j in order], orientation="h",
                           marker_color=[RED if values[j] >= 0 else BLUE for j in order],
                           text=[f"{values[j]:+.3f}" for j in order], textposition="auto", cliponaxis=False))
    fig.update_layout(height=height or 60 + 24 * len(order), margin=dict(l=10, r=10, t=10, b=30), xaxis_title=axis)
    return fig


def shap_bar(mean_abs: np.ndarray, names: list[str], top: int = 10) -> go.Figure:
    """Mean |SHAP| per feature over the rows, largest at the top."""
    order = np.argsort(-mean_abs)[:top][::-1]
    fig = go.Figure(go.Bar(x=mean_abs[order], y=[names[j] for j in order], orientation="h", marker_color=RED,
                           text=[f"{mean_abs[j]:.3f}" for j in order], textposition="outside"))
    fig.update_layout(height=80 + 26 * len(order), margin=dict(l=10, r=40, t=20, b=40),
                      xaxis_title="mean |SHAP value| (average effect on the score's size)")
    return fig


# ---- trust checks ------------------------------------------------------------------------------------

def randomisation_chart(stages: list[dict], flat: float) -> go.Figure:
    """Spearman rank correlation of |map| with the trained network's, as the layers are re-initialised
    from the output down (left to right)."""
    x = ["trained"] + [f"+ layer {s['layer']} ({s['type']})" for s in stages]
    y = [1.0] + [s["spearman"] for s in stages]
    fig = go.Figure(go.Scatter(x=x, y=y, mode="lines+markers+text", text=[f"{v:.2f}" for v in y],
                               textposition="top center", line=dict(color=RED)))
    fig.add_hline(y=flat, line_dash="dot", line_color="#888",
                  annotation_text=f"{flat}: above this at the end, the map ignores what was learned",
                  annotation_position="bottom left")
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=20, b=10), yaxis=dict(range=[-0.2, 1.1],
                      title="rank correlation with the trained map"), xaxis_title="layers re-initialised")
    return fig


def deletion_chart(fractions: np.ndarray, curves: dict) -> go.Figure:
    """The class's probability as pixels are removed (deletion) or put back (insertion), in the map's
    order (solid) and in a random order (dotted)."""
    fig = go.Figure()
    for name, colour in (("deletion", BLUE), ("insertion", RED)):
        fig.add_trace(go.Scatter(x=fractions, y=curves[name], name=f"{name}, by the map", line=dict(color=colour)))
        fig.add_trace(go.Scatter(x=fractions, y=curves[f"{name}_random"], name=f"{name}, random order",
                                 line=dict(color=colour, dash="dot")))
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=20, b=10), yaxis=dict(range=[0, 1.02],
                      title="probability of the class"), xaxis=dict(title="share of pixels moved", tickformat=".0%"),
                      legend=dict(orientation="h", y=-0.25))
    return fig
