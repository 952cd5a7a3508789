"""The live panel of a run: progress, numbers, curves, decision boundary. Polls the registry."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from playground.train import REGISTRY
from ui.charts import vega
from ui.state import poll_every, rerun_when_ended


def _fmt_time(s: float | None) -> str:
    if s is None:
        return "…"
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min"


NO_RUN = "No run yet: pick data, build a network, and press **Start training**."


@dataclass
class Unstarted:
    """The run the form would start, before there is one: its data, its task (a task's class will do) and a
    config with the form's learning rate. Drawn by the same code as a run, with no numbers yet."""
    data: object
    task: object
    config: object
    name: str = ""
    where: str = ""


def empty_snapshot() -> dict:
    """A snapshot with nothing in it yet: a new History's, marked unstarted."""
    from playground.train.history import History

    return {**History().snapshot(), "status": "unstarted"}


def live_panel(run_id: str | None, data=None, task=None, lr: float | None = None) -> None:
    """The run's live panel. Before any run, the same panel empty (the data drawn where the decision boundary
    will be, for 2-D points): the page then has every part of it, and a Start fills them in place, where
    building them in the browser at the first Start took ~1.5 s on 2 cores."""
    run = REGISTRY.get(run_id)
    if run is None and data is None:
        st.info(NO_RUN)
        return
    if run is None:
        from playground.config import OptimConfig, RunConfig
        from playground.train.tasks import TASKS

        optim = OptimConfig() if lr is None else OptimConfig(lr=lr)      # the form's rate, else the config's default
        run = Unstarted(data, task or TASKS[data.task], RunConfig(optim=optim))
    # Poll only while the run trains; when it ends, rerun the page once to stop polling.
    @st.fragment(run_every=poll_every(getattr(run, "alive", False)))
    def panel():
        if isinstance(run, Unstarted):
            draw(run, empty_snapshot())
            return
        r = REGISTRY.get(run_id) or run              # the live run, or the stored one once it has ended
        snap = r.history.snapshot()
        rerun_when_ended("_polling", r.id, r.alive)
        draw(r, snap)
    panel()


def _scale(data) -> float:
    """Regression pictures: the largest |target|, so predictions and targets share one colour scale."""
    return max(float(data.y_train.abs().max()), float(data.y_val.abs().max()), 1e-6)


def picture(data, grid: dict | None, task: str, preview: bool = False) -> None:
    """The data and what the model predicts over it: a decision boundary (2-D classification), a
    prediction heatmap (2-D regression) or the fitted curve (1-D)."""
    from playground.viz.curves import boundary_image, fit_chart

    d = data
    if d.kind == "curve":
        st.caption("The data and the fitted function: dots are the points (blue: training, red: validation)"
                   + ("" if preview else "; the line is the network's prediction"))
        vega(fit_chart(grid, d.X_train, d.y_train, d.X_val, d.y_val))
    elif task == "regression":
        st.caption(("The data" if preview else "Prediction (background) and targets (dots)") + ": orange is "
                   f"negative, blue positive, on one scale (±{_scale(d):.2g}). Dots: training points; rings: "
                   "validation points")
        st.image(boundary_image(grid, d.X_train, d.y_train, d.X_val, d.y_val, scale=_scale(d)), width=380,
                 alt=_plane_alt(grid, d, "the prediction over the plane, orange negative to blue positive"))
    else:
        st.caption("The data: orange is class 0, blue class 1. Dots: training points; rings: validation points"
                   if preview else "Decision boundary: orange is class 0, blue class 1; the background shades "
                   "from orange to blue with P(class 1). Dots: training points; rings: validation points")
        st.image(boundary_image(grid, d.X_train, d.y_train, d.X_val, d.y_val), width=380,
                 alt=_plane_alt(grid, d, "the decision boundary, orange class 0, blue class 1"))


def _plane_alt(grid: dict | None, d, what: str) -> str:
    """A text alternative of the live picture, with its numbers: the points and how the plane is split."""
    import numpy as np

    text = f"{what}: {len(d.X_train):,} training points (dots) and {len(d.X_val):,} validation points (rings)"
    if grid is None:
        return text + "; no prediction yet"
    p = np.asarray(grid["p"], np.float32)
    if d.task == "regression":
        return text + f"; predictions from {p.min():.2f} to {p.max():.2f}"
    return text + f"; the network calls {(p > 0.5).mean():.0%} of the plane class 1 (blue)"


def _value(key: str, v: float) -> str:
    from playground.train.tasks import PERCENT

    return f"{v:.1%}" if key in PERCENT else f"{v:.4f}" if key in ("loss", "recon") else f"{v:.3f}"


def draw(run, snap: dict) -> None:
    """The run's panel at one poll: its progress and status, the headline numbers, the curves."""
    _progress(run, snap)
    _numbers(run, snap)
    _curves(run, snap)


def _progress(run, snap: dict) -> None:
    """The progress bar (epoch, step, speed, time) and the status's message."""
    p, status = snap["progress"], snap["status"]
    if status == "unstarted":
        st.progress(0.0, text=NO_RUN)
        return
    done = p["step"] / p["steps"] if p["steps"] else 0.0
    text = (f"**{run.name}** · epoch {p['epoch']}/{p['epochs']} · step {p['step']:,}/{p['steps']:,} · "
            f"{p['samples_per_s']:,.0f} samples/s · "
            + (f"{_fmt_time(p['eta_s'])} left" if status in ("starting", "running")
               else f"{_fmt_time(p['elapsed_s'])} in all"))
    if run.where:                                           # on a cluster: the node it trains on
        text += f" · on {run.where}"
    st.progress(min(done, 1.0), text=text)
    msg = snap["message"]
    if status in ("diverged", "failed"):
        st.error(msg, icon=":material/error:")
    elif status == "finished":
        st.success(msg)
    elif status in ("stopped", "interrupted", "lost"):
        st.warning(msg, icon={"interrupted": ":material/pause_circle:", "lost": ":material/cloud_off:"}.get(status))
    elif status == "queued":
        st.info(msg, icon=":material/schedule:")
    if snap.get("note"):
        st.caption(f":material/info: {snap['note']}")


def _metric_label(run) -> str:
    """"validation accuracy" and the like: the run's task's headline metric."""
    from playground.train.tasks import METRIC_LABELS

    return f"validation {METRIC_LABELS[run.task.headline]}"


def _numbers(run, snap: dict) -> None:
    """Four metrics: the last step's training loss, the validation loss and headline metric (with their
    change since the epoch before), and the learning rate."""
    epochs = snap["epochs"]
    last = epochs[-1] if epochs else None
    prev = epochs[-2] if len(epochs) > 1 else None
    m = st.columns(4)
    step_loss = snap["step_loss"][-1] if snap["step_loss"] else None
    m[0].metric("training loss (last step)", f"{step_loss:.4f}" if step_loss is not None else "–")
    metric = run.task.headline
    for col, key, label in ((m[1], "loss", "validation loss"), (m[2], metric, _metric_label(run))):
        v = last.get(f"val_{key}") if last else None
        delta = None
        if v is not None and prev and prev.get(f"val_{key}") is not None:
            delta = _value(key, v - prev[f"val_{key}"])
            delta = delta if delta.startswith("-") else "+" + delta
        lower_better = key == "loss" or key == metric and not run.task.higher_better
        col.metric(label, _value(key, v) if v is not None else "–", delta,
                   delta_color="inverse" if lower_better else "normal")
    m[3].metric("learning rate", f"{last['lr']:.3g}" if last else f"{run.config.optim.lr:.3g}")


def _curves(run, snap: dict) -> None:
    """The step loss (with its log-scale and smoothing controls) and the schedule's learning rate; the
    decision boundary or fitted curve where the data are drawn; the per-epoch loss and metric."""
    # imported here: pandas takes ~0.6 s to import, which a first visit (no run yet) need not wait for
    from playground.viz.curves import (
        epoch_chart,
        epoch_words,
        lr_chart,
        step_loss_caption,
        step_loss_chart,
        step_loss_words,
    )

    epochs, task, metric = snap["epochs"], run.task.name, run.task.headline
    per_epoch = f"{_metric_label(run).replace('validation ', '').capitalize()} per epoch"
    opts = st.columns([1, 1.4, 2.6], vertical_alignment="bottom")
    log_y = opts[0].toggle("log scale", key="log_y")
    smoothing = opts[1].slider("Smoothing of the step loss", 0.0, 0.99, 0.6, key="smoothing",
                               help="exponential smoothing of the per-step loss (TensorBoard style)")
    left, right = st.columns(2)
    with left:
        st.caption(step_loss_caption(snap["step_x"]))
        vega(step_loss_chart(snap["step_x"], snap["step_loss"], smoothing, log_y, snap["diverged_at"]),
             words=step_loss_words(snap["step_x"], snap["step_loss"], snap["diverged_at"]))
        if run.config.schedule.name != "constant":
            st.caption(f"Learning rate per step ({run.config.schedule.name} schedule)")
            vega(lr_chart(snap["marks"]))
    drawn = run.data.kind in ("points", "curve") and run.task.pictured
    with right:
        if drawn:
            picture(run.data, snap["boundary"], task, preview=snap["boundary"] is None)
        else:
            st.caption(per_epoch)
            vega(epoch_chart(epochs, metric))
    left, right = st.columns(2)
    with left:
        st.caption("Loss per epoch (train: mean over the epoch's steps; validation: at epoch end)")
        vega(epoch_chart(epochs, "loss"), words=epoch_words(epochs, "loss"))
    with right:
        if drawn:
            st.caption(per_epoch)
            vega(epoch_chart(epochs, metric))
        elif task == "regression":
            st.caption("Mean absolute error per epoch")
            vega(epoch_chart(epochs, "mae"))
