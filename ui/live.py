"""The live panel of a run: progress, numbers, curves, decision boundary. Polls the registry."""
from __future__ import annotations

import streamlit as st

from playground.train import REGISTRY
from playground.viz.curves import boundary_figure, epoch_chart, lr_chart, step_loss_chart
from ui.state import rerun_when_ended

POLL_S = 0.5


def _fmt_time(s: float | None) -> str:
    if s is None:
        return "…"
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min"


def live_panel(run_id: str | None) -> None:
    run = REGISTRY.get(run_id)
    if run is None:
        st.info("No run yet: pick data, build a network, and press **Start training**.")
        return
    # Poll only while the run trains; when it ends, rerun the page once to stop polling.
    @st.fragment(run_every=POLL_S if run.alive else None)
    def panel():
        snap = run.history.snapshot()
        rerun_when_ended("_polling", run.id, run.alive)
        draw(run, snap)
    panel()


def draw(run, snap: dict) -> None:
    p, status = snap["progress"], snap["status"]
    done = p["step"] / p["steps"] if p["steps"] else 0.0
    text = (f"**{run.name}** · epoch {p['epoch']}/{p['epochs']} · step {p['step']:,}/{p['steps']:,} · "
            f"{p['samples_per_s']:,.0f} samples/s · "
            + (f"{_fmt_time(p['eta_s'])} left" if status in ("starting", "running")
               else f"{_fmt_time(p['elapsed_s'])} in all"))
    st.progress(min(done, 1.0), text=text)
    msg = snap["message"]
    if status in ("diverged", "failed"):
        st.error(msg, icon=":material/error:")
    elif status == "finished":
        st.success(msg)
    elif status == "stopped":
        st.warning(msg)

    epochs = snap["epochs"]
    last = epochs[-1] if epochs else None
    prev = epochs[-2] if len(epochs) > 1 else None
    m = st.columns(4)
    step_loss = snap["step_loss"][-1] if snap["step_loss"] else None
    m[0].metric("training loss (last step)", f"{step_loss:.4f}" if step_loss is not None else "–")
    for col, key, label in ((m[1], "val_loss", "validation loss"), (m[2], "val_acc", "validation accuracy")):
        value = f"{last[key]:.4f}" if last and key == "val_loss" else f"{last[key]:.1%}" if last else "–"
        delta = None
        if last and prev:
            d = last[key] - prev[key]
            delta = f"{d:+.4f}" if key == "val_loss" else f"{d:+.1%}"
        col.metric(label, value, delta, delta_color="inverse" if key == "val_loss" else "normal")
    m[3].metric("learning rate", f"{last['lr']:.3g}" if last else f"{run.config.optim.lr:.3g}")

    opts = st.columns([1, 1, 3])
    log_y = opts[0].toggle("log scale", key="log_y")
    smoothing = opts[1].slider("smoothing", 0.0, 0.99, 0.6, key="smoothing", label_visibility="collapsed",
                               help="exponential smoothing of the per-step loss (TensorBoard style)")
    left, right = st.columns(2)
    with left:
        st.caption("Training loss per step (faint: raw, bold: smoothed)")
        st.altair_chart(step_loss_chart(snap["step_x"], snap["step_loss"], smoothing, log_y, snap["diverged_at"]),
                        width="stretch")
        if run.config.schedule.name != "constant":
            st.caption(f"Learning rate per step ({run.config.schedule.name} schedule)")
            st.altair_chart(lr_chart(snap["marks"]), width="stretch")
    with right:
        if run.data.kind == "points":
            st.caption("Decision boundary: colour is P(class 1); filled dots train, rings validation")
            d = run.data
            st.plotly_chart(boundary_figure(snap["boundary"], d.X_train, d.y_train, d.X_val, d.y_val),
                            width="stretch", key="boundary")
        else:
            st.caption("Accuracy per epoch")
            st.altair_chart(epoch_chart(epochs, "acc"), width="stretch")
    left, right = st.columns(2)
    with left:
        st.caption("Loss per epoch (train: mean over the epoch's steps; validation: at epoch end)")
        st.altair_chart(epoch_chart(epochs, "loss"), width="stretch")
    with right:
        if run.data.kind == "points":
            st.caption("Accuracy per epoch")
            st.altair_chart(epoch_chart(epochs, "acc"), width="stretch")
