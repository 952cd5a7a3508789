"""The optimizer race: contour of a 2-D surface with each optimizer's path, and loss against step.

Pure functions from playground.surfaces.race()/grid() output to Plotly figures. Colours belong to
the optimizer's label, so a line keeps its colour when the line-up changes; each label also has its
own dash and marker (colour is never the only cue), and the colours stay apart for the common
colour-vision deficiencies (playground.viz.palette).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

COLORS = {"SGD": "#D55E00", "SGD + momentum": "#E69F00", "Nesterov": "#7F3B08", "Adagrad": "#CC79A7",
          "RMSprop": "#009E73", "Adam": "#0072B2", "AdamW": "#56B4E9"}
SPARE = ["#000000", "#BBBBBB"]
DASH = {"SGD": "solid", "SGD + momentum": "dash", "Nesterov": "longdash", "Adagrad": "longdashdot",
        "RMSprop": "dot", "Adam": "dashdot", "AdamW": "solid"}
SYMBOL = {"SGD": "circle", "SGD + momentum": "square", "Nesterov": "triangle-up", "Adagrad": "triangle-down",
          "RMSprop": "diamond", "Adam": "star-triangle-up", "AdamW": "hexagon"}
MAX_FRAMES = 50            # animation frames sent to the browser (evenly spaced steps)
DECADES = 6                # the contour's colour spans this many powers of ten below the plot's top value


def color(label: str, i: int) -> str:
    """The label's colour; labels not in COLORS (e.g. 'Adam (2)') take their base label's or a spare."""
    return COLORS.get(label, COLORS.get(label.split(" (")[0], SPARE[i % len(SPARE)]))


def dash(label: str, i: int) -> str:
    """The label's dash pattern, as colour() chooses the colour ('Adam (2)': Adam's, a spare: dotted)."""
    base = label.split(" (")[0]
    return DASH.get(label, "dashdot" if base in DASH and label != base else DASH.get(base, "dot"))


def symbol(label: str) -> str:
    return SYMBOL.get(label.split(" (")[0], "x")


def _name(label: str, r: dict) -> str:
    return f"{label} · diverged at step {r['diverged']}" if r["diverged"] else label


def _at(r: dict, step: int) -> int:
    return min(step, len(r["xy"]) - 1)


def _paths(results: dict, step: int) -> list[dict]:
    """Per optimizer, two trace updates: the path up to `step` (x, y) and its head (one point)."""
    out = []
    for r in results.values():
        k = _at(r, step)
        xy = np.asarray(r["xy"], dtype=np.float32)     # (n+1, 2): half the bytes sent, ample for a plot
        out.append({"x": xy[:k + 1, 0], "y": xy[:k + 1, 1]})
        out.append({"x": xy[k:k + 1, 0], "y": xy[k:k + 1, 1]})
    return out


def race_figure(grid: tuple, results: dict, step: int, minima=(), animate: bool = True,
                revision: str = "race", height: int = 480) -> go.Figure:
    """Contour of the surface with every optimizer's path up to `step`.

    grid: (xs (n,), ys (n,), Z (n, n)) from playground.surfaces.grid; the colour is log10(f - min f),
    so the valley floor gets as many contour lines as the walls. results: playground.surfaces.race.
    animate: add Plotly frames (at most MAX_FRAMES) with play/pause buttons and a step slider.
    revision: layout.uirevision; keep it while the surface stays, and the user's zoom stays too.
    """
    xs, ys, Z = grid
    Z = np.asarray(Z, dtype=float)
    top = float(np.log10(max(Z.max() - Z.min(), 1e-12)))
    logz = np.log10(Z - Z.min() + 10.0 ** (top - DECADES)).astype(np.float32)  # (n, n)
    ticks = np.arange(np.ceil(top - DECADES), np.floor(top) + 1)
    fig = go.Figure(go.Contour(
        x=xs, y=ys, z=logz, colorscale=[[0, "#ffffff"], [1, "#bcc6d8"]],
        contours=dict(start=top - DECADES, end=top, size=DECADES / 24),      # 4 lines per power of ten
        line=dict(color="rgba(60,70,90,0.35)", width=0.8), hoverinfo="skip", name="surface",
        colorbar=dict(title=dict(text="f − min f", side="right"), thickness=10, tickvals=ticks,
                      ticktext=[f"{10.0 ** t:.0e}".replace("e+0", "e").replace("e-0", "e-") for t in ticks])))
    for i, ((label, r), path) in enumerate(zip(results.items(), _paths(results, step)[::2])):
        c = color(label, i)
        fig.add_trace(go.Scatter(
            **path, mode="lines+markers", name=_name(label, r), legendgroup=label,
            line=dict(color=c, width=2, dash=dash(label, i)), marker=dict(color=c, size=5, symbol=symbol(label)),
            hovertemplate=f"{label}<br>x %{{x:.4g}}<br>y %{{y:.4g}}<extra></extra>"))
        k = _at(r, step)
        fig.add_trace(go.Scatter(
            x=r["xy"][k:k + 1, 0], y=r["xy"][k:k + 1, 1], mode="markers", legendgroup=label, showlegend=False,
            marker=dict(color=c, size=11, symbol="x" if r["diverged"] and k == len(r["xy"]) - 1 else "circle",
                        line=dict(color="white", width=1.5)), hoverinfo="skip"))
    first = next(iter(results.values()), None)
    if first is not None:
        fig.add_trace(go.Scatter(x=first["xy"][:1, 0], y=first["xy"][:1, 1], mode="markers", name="start",
                                 marker=dict(symbol="diamond", size=12, color="black",
                                             line=dict(color="white", width=1.5)),
                                 hovertemplate="start (%{x:.3g}, %{y:.3g})<extra></extra>"))
    if len(minima):
        m = np.asarray(minima, dtype=float).reshape(-1, 2)
        fig.add_trace(go.Scatter(x=m[:, 0], y=m[:, 1], mode="markers", name="minimum",
                                 marker=dict(symbol="star", size=14, color="gold", line=dict(color="black", width=1)),
                                 hovertemplate="minimum (%{x:.4g}, %{y:.4g})<extra></extra>"))
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=10, b=10), uirevision=revision, plot_bgcolor="white",
        legend=dict(orientation="h", yanchor="bottom", y=1.01, x=0, font=dict(size=11), itemwidth=30),
        xaxis=dict(range=[float(xs[0]), float(xs[-1])], constrain="domain"),
        yaxis=dict(range=[float(ys[0]), float(ys[-1])], scaleanchor="x", constrain="domain"))
    if animate and results:
        _animate(fig, results, step)
    return fig


def _animate(fig: go.Figure, results: dict, step: int) -> None:
    """Frames at evenly spaced steps (paths and heads only: traces 1..2m), play/pause, a step slider."""
    last = max(len(r["xy"]) for r in results.values()) - 1
    steps = np.unique(np.linspace(0, last, min(MAX_FRAMES, last) + 1).round().astype(int))
    traces = list(range(1, 1 + 2 * len(results)))
    fig.frames = [dict(name=str(s), traces=traces, data=[dict(type="scatter", **u) for u in _paths(results, int(s))])
                  for s in steps]         # plain dicts: validated once, on assignment
    still = {"frame": {"duration": 0, "redraw": True}, "mode": "immediate", "transition": {"duration": 0}}
    fig.update_layout(
        margin=dict(b=80),
        updatemenus=[dict(type="buttons", direction="left", x=0, y=-0.1, xanchor="left", yanchor="top",
                          pad=dict(t=0, r=0), showactive=False, buttons=[
                              dict(label="▶ Play", method="animate",
                                   args=[None, {"frame": {"duration": 80, "redraw": True}, "fromcurrent": True,
                                                "transition": {"duration": 0}}]),
                              dict(label="❚❚ Pause", method="animate", args=[[None], still])])],
        sliders=[dict(active=int(np.abs(steps - min(step, last)).argmin()), x=0.26, len=0.74, y=-0.1,
                      yanchor="top", pad=dict(t=0, b=0), ticklen=3, font=dict(size=10),
                      currentvalue=dict(visible=False),
                      steps=[dict(label=str(s), method="animate", args=[[str(s)], still]) for s in steps])])


def loss_figure(results: dict, step: int, height: int = 480) -> go.Figure:
    """f against step for each optimizer (log y), a dot at `step` on each curve and a rule at `step`."""
    fig = go.Figure()
    lo, hi = np.inf, 0.0
    for i, (label, r) in enumerate(results.items()):
        c, loss = color(label, i), np.asarray(r["loss"], dtype=float)
        pos = loss[np.isfinite(loss) & (loss > 0)]
        if len(pos):
            lo, hi = min(lo, pos.min()), max(hi, pos.max())
        fig.add_trace(go.Scatter(x=np.arange(len(loss)), y=loss, mode="lines", name=_name(label, r),
                                 line=dict(color=c, width=2, dash=dash(label, i)), legendgroup=label,
                                 showlegend=False,
                                 hovertemplate=f"{label}<br>step %{{x}}<br>f %{{y:.3e}}<extra></extra>"))
        k = _at(r, step)
        fig.add_trace(go.Scatter(x=[k], y=loss[k:k + 1], mode="markers", legendgroup=label, showlegend=False,
                                 marker=dict(color=c, size=9, symbol="x" if r["diverged"] and k == len(loss) - 1
                                             else "circle"), hoverinfo="skip"))
    fig.add_vline(x=step, line=dict(color="#444", width=1, dash="dot"))
    yrange, dtick = None, None
    if hi > 0:                          # at most 12 decades: a converged run does not squash the rest
        yrange = [max(np.log10(lo), np.log10(hi) - 12) - 0.2, np.log10(hi) + 0.2]
        dtick = 1 if yrange[1] - yrange[0] > 3 else "D2"   # powers of ten only, unless that leaves too few
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), plot_bgcolor="white", uirevision="loss",
                      xaxis=dict(title="step", gridcolor="#eee"),
                      yaxis=dict(title="f (log scale)", type="log", range=yrange, dtick=dtick, gridcolor="#eee",
                                 exponentformat="e"))
    return fig
