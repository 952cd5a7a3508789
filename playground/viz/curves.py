"""Training curves (Altair) and the 2-D decision boundary (Plotly).

Chart specs depend only on the kind of chart, never on the data, so a live page that re-sends a
chart each tick changes only its data and Vega/Plotly redraw in place (and keep the user's zoom).
"""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import plotly.graph_objects as go

MAX_POINTS = 1500          # points sent to the browser per series
COLORS = {"train": "#1f77b4", "validation": "#e4572e"}


def downsample(x: list, y: list, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Average y over equal buckets so at most max_points remain (x: each bucket's last value)."""
    x, y = np.asarray(x), np.asarray(y, dtype=float)
    if len(x) <= max_points:
        return x, y
    k = int(np.ceil(len(x) / max_points))
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


def step_loss_chart(step_x: list, step_loss: list, smoothing: float = 0.6, log_y: bool = False,
                    diverged_at: int | None = None, height: int = 260) -> alt.Chart:
    """Training loss per step: raw (faint) and smoothed; a red rule where a run diverged."""
    x, y = downsample(step_x, step_loss)
    df = pd.DataFrame({"step": x, "loss": y, "smoothed": ema(y, smoothing) if len(y) else y})
    scale = alt.Scale(type="log") if log_y else alt.Scale(zero=False)
    base = alt.Chart(df).encode(x=alt.X("step:Q", title="step"))
    raw = base.mark_line(opacity=0.3, color=COLORS["train"]).encode(
        y=alt.Y("loss:Q", title="training loss", scale=scale), tooltip=[alt.Tooltip("step:Q"), alt.Tooltip("loss:Q", format=".4f")])
    smooth = base.mark_line(color=COLORS["train"], strokeWidth=2).encode(y="smoothed:Q")
    rule_df = pd.DataFrame({"step": [diverged_at] if diverged_at else []}, dtype=float)
    rule = alt.Chart(rule_df).mark_rule(color="#d62728", strokeDash=[4, 3], strokeWidth=2).encode(x="step:Q")
    return (raw + smooth + rule).properties(height=height)


def lr_chart(marks: list, height: int = 110) -> alt.Chart:
    """The learning rate against step, from a history's marks (step, samples, time, lr)."""
    df = pd.DataFrame({"step": [m[0] for m in marks], "lr": [m[3] for m in marks]}, columns=["step", "lr"])
    return alt.Chart(df).mark_line(color="#7f7f7f", interpolate="step-after").encode(
        x=alt.X("step:Q", title="step"), y=alt.Y("lr:Q", title="learning rate", axis=alt.Axis(format="~g")),
        tooltip=[alt.Tooltip("step:Q"), alt.Tooltip("lr:Q", format=".3~g")]).properties(height=height)


def lr_finder_chart(lrs, losses, smoothed, suggestion: float | None, height: int = 220) -> alt.Chart:
    """LR range test: loss (faint) and smoothed loss against the learning rate (log x), with the
    suggestion marked."""
    df = pd.DataFrame({"lr": lrs, "loss": losses, "smoothed": smoothed})
    base = alt.Chart(df).encode(x=alt.X("lr:Q", scale=alt.Scale(type="log"), title="learning rate",
                                        axis=alt.Axis(format="~g")))
    raw = base.mark_line(opacity=0.3, color=COLORS["train"]).encode(y=alt.Y("loss:Q", title="training loss"))
    smooth = base.mark_line(color=COLORS["train"], strokeWidth=2).encode(
        y="smoothed:Q", tooltip=[alt.Tooltip("lr:Q", format=".3~g"), alt.Tooltip("smoothed:Q", format=".4f")])
    rule_df = pd.DataFrame({"lr": [suggestion] if suggestion else []}, dtype=float)
    rule = alt.Chart(rule_df).mark_rule(color=COLORS["validation"], strokeWidth=2).encode(x="lr:Q")
    return (raw + smooth + rule).properties(height=height)


def epoch_chart(epochs: list[dict], metric: str, height: int = 220) -> alt.Chart:
    """Train and validation `metric` ("loss" or "acc") per epoch, one line each."""
    rows = [{"epoch": e["epoch"], "split": split, "value": e[f"{key}_{metric}"]}
            for e in epochs for split, key in (("train", "train"), ("validation", "val"))]
    df = pd.DataFrame(rows, columns=["epoch", "split", "value"])
    title = "loss" if metric == "loss" else "accuracy"
    # accuracy: from where the curves are up to 1, so the last percent points stay visible
    y = alt.Y("value:Q", title=title, scale=alt.Scale(zero=False) if metric == "loss" else alt.Scale(zero=False,
                                                                                                    domainMax=1))
    color = alt.Color("split:N", title=None, scale=alt.Scale(domain=list(COLORS), range=list(COLORS.values())),
                      legend=alt.Legend(orient="bottom"))
    return alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="d")), y=y, color=color,
        tooltip=[alt.Tooltip("epoch:Q"), alt.Tooltip("split:N"), alt.Tooltip("value:Q", format=".4f")]
    ).properties(height=height)


def boundary_figure(boundary: dict | None, X_train, y_train, X_val, y_val, height: int = 380) -> go.Figure:
    """P(class 1) heatmap under the train (filled) and validation (ringed) points."""
    fig = go.Figure()
    if boundary is not None:
        fig.add_trace(go.Heatmap(x=boundary["xs"], y=boundary["ys"], z=boundary["p"], zmin=0, zmax=1,
                                 colorscale=[[0, "#f59322"], [0.5, "#e8eaeb"], [1, "#0877bd"]],
                                 colorbar=dict(title="P(class 1)", thickness=12), hoverinfo="skip"))
    for X, y, name, line in ((X_train, y_train, "train", 0.6), (X_val, y_val, "validation", 2.0)):
        X, y = np.asarray(X), np.asarray(y)
        colors = np.where(y == 1, "#0877bd", "#f59322")
        fig.add_trace(go.Scatter(x=X[:, 0], y=X[:, 1], mode="markers", name=name,
                                 marker=dict(color=colors if name == "train" else "rgba(0,0,0,0)", size=6,
                                             line=dict(color="white" if name == "train" else colors, width=line))))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), uirevision="boundary",
                      showlegend=False, xaxis=dict(constrain="domain"),
                      yaxis=dict(scaleanchor="x", constrain="domain"), plot_bgcolor="white")
    return fig
