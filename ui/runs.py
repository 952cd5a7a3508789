"""Runs page helpers: the table of stored runs, overlaid curves, and what to do with one run."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

import pandas as pd
import streamlit as st

from playground.errors import PlaygroundError
from playground.export import export_bytes
from playground.identity import public_name
from playground.store import StoreError
from playground.train import REGISTRY
from playground.viz.compare import METRICS, X_AXES, compare_chart, steps_per_epoch
from ui.charts import vega
from ui.run_actions import delete, rename, resume_controls, stop
from ui.run_form import apply_config
from ui.scrubber import snapshot_label
from ui.sidebar import STATUS_ICON
from ui.state import may_act, me, poll_every, rerun_when_ended

EXPORTS = {"torchscript": ("TorchScript", "application/octet-stream"), "onnx": ("ONNX", "application/octet-stream")}


def runs_frame(rows, everyone: bool) -> pd.DataFrame:
    """One row per stored run, as the table shows it; the owner by the name they chose, never their token."""
    names = REGISTRY.store.names() if everyone else {}
    recs = []
    for r in rows:
        s = r.summary()
        recs.append({"name": r.name, "status": r.status, "data": s["data"], "network": s["network"],
                     "params": s["params"], "optimizer": f"{s['optimizer']} · lr {s['lr']:g}",
                     "batch": s["batch_size"], "epochs": f"{r.epochs_done}/{r.epochs_total}",
                     "best val acc": r.best_val_acc, "started": dt.datetime.fromtimestamp(r.created_at),
                     "owner": public_name(r.owner, names), "id": r.id})
    cols = ["name", "status", "data", "network", "params", "optimizer", "batch", "epochs", "best val acc", "started",
            "id"] + (["owner"] if everyone else [])
    return pd.DataFrame(recs, columns=[*cols, "owner"] if not everyone else cols)[cols]


def runs_table(df: pd.DataFrame) -> list[str]:
    """The table; returns the selected runs' ids. Streamlit keeps a table's selection as row positions,
    so the table's key names the runs it lists: when a run is deleted or added, positions would point
    at other runs, and the selection starts afresh instead."""
    c = st.column_config
    listed = hashlib.sha1(",".join(df["id"]).encode()).hexdigest()[:12]
    event = st.dataframe(df, key=f"runs_table_{listed}", on_select="rerun", selection_mode="multi-row", hide_index=True,
                         width="stretch", column_config={
                             "name": c.TextColumn("name", width="medium"),
                             "network": c.TextColumn("network", width="medium"),
                             "params": c.NumberColumn("params", format="%d"),
                             "best val acc": c.ProgressColumn("best val acc", min_value=0.0, max_value=1.0,
                                                              format="percent"),
                             "started": c.DatetimeColumn("started", format="distance"),
                             "id": c.TextColumn("id", width="small")})
    return [df["id"].iloc[i] for i in event.selection.rows if i < len(df)]


def overlay(ids: list[str]) -> None:
    """The selected runs' curves on one chart (TensorBoard's habit): metric, x axis, smoothing, log y."""
    runs = [r for r in (REGISTRY.get(i) for i in ids) if r is not None]
    alive = any(r.alive for r in runs)

    @st.fragment(run_every=poll_every(alive))
    def chart():
        live = [REGISTRY.get(r.id) or r for r in runs]
        rerun_when_ended("_runs_polling", ",".join(ids), any(r.alive for r in live))
        a, b, c, d = st.columns([2.2, 1.6, 0.8, 1.2], vertical_alignment="bottom")
        x_axis = a.radio("x axis", list(X_AXES), format_func=X_AXES.get, horizontal=True, key="runs_x")
        metric = b.selectbox("curve", list(METRICS), format_func=METRICS.get, key="runs_metric")
        log_y = c.toggle("log y", key="runs_log")
        smoothing = d.slider("smoothing", 0.0, 0.99, 0.6, key="runs_smooth")
        names, curves = set(), []
        for r in live:
            name = r.name if r.name not in names else f"{r.name} ({r.id})"     # the legend needs distinct names
            names.add(name)
            curves.append((name, r.history.snapshot(), steps_per_epoch(len(r.data.X_train), r.config.batch_size)))
        vega(compare_chart(curves, metric, x_axis, smoothing, log_y))
    chart()


def differences(a_id: str, b_id: str) -> None:
    """Two runs side by side: what differs in their configs (data, each layer added, removed or changed,
    optimizer and its settings, schedule, seed), and their final metrics."""
    from playground.compare import config_diff
    from playground.train.tasks import METRIC_LABELS

    a, b = REGISTRY.get(a_id), REGISTRY.get(b_id)
    if a is None or b is None:
        return
    st.header("What differs", divider="gray")
    na, nb = (a.name, b.name) if a.name != b.name else (f"{a.name} ({a.id})", f"{b.name} ({b.id})")
    rows = config_diff(a.config.to_dict(), b.config.to_dict())
    sign = {"changed": "~", "added": "+", "removed": "−"}

    def text(v) -> str:
        return "–" if v is None else str(v)

    if rows:
        st.table(pd.DataFrame([{"": sign[r["change"]], "setting": r["what"], na: text(r["a"]), nb: text(r["b"])}
                               for r in rows]).set_index("setting"))
    else:
        st.markdown("The two configs are the same (only the name differs): any difference in the results is "
                    "the machine's, or none.")
    ea, eb = (r.history.snapshot()["epochs"] for r in (a, b))
    metric = a.task.headline if a.task.headline == b.task.headline else None
    keys = ["val_loss"] + ([f"val_{metric}"] if metric and metric != "loss" else [])
    labels = {"val_loss": "final validation loss", f"val_{metric}": f"final validation {METRIC_LABELS.get(metric, '')}"}
    finals = [{"": "", "setting": labels[k], na: _final(ea, k), nb: _final(eb, k)} for k in keys]
    finals.append({"": "", "setting": "epochs", na: str(len(ea)), nb: str(len(eb))})
    st.table(pd.DataFrame(finals).set_index("setting"))
    st.caption("~ changed · + only in the second run · − only in the first. Layers are matched first, so an added "
               "layer is one row. Same seed: same initial weights and data order where the layers match.")


def _final(epochs: list, key: str) -> str:
    v = epochs[-1].get(key) if epochs else None
    return "–" if v is None else f"{v:.4g}"


def open_in_build(run_id: str) -> None:
    st.session_state.run_id = run_id
    st.session_state.goto_build = True


def load_config(run_id: str) -> None:
    run = REGISTRY.get(run_id)
    if run is not None:
        apply_config(run.config)
        st.session_state.goto_build = True


def details(run_id: str) -> None:
    """One run: status and message, and everything one can do with it."""
    run = REGISTRY.get(run_id)
    if run is None:
        return
    row = REGISTRY.store.get(run_id)
    own, allowed = run.owner == me(), may_act(run)
    whose = "yours" if own else f"{public_name(run.owner, REGISTRY.store.names())}'s" + \
        (" (you may act on it: you are the teacher)" if allowed else "")
    snap = run.history.snapshot()
    st.header(f"{run.name}")
    st.caption(f"{STATUS_ICON.get(snap['status'], '')} **{snap['status']}** · run `{run.id}` · "
               f"{whose}"
               + (f" · {row.bytes / 1e6:,.2f} MB on disk" if row else ""))
    if snap["message"]:
        st.caption(snap["message"])
    if snap.get("note"):
        st.caption(f":material/info: {snap['note']}")
    cols = st.columns(5)
    cols[0].button("Show in Build & Train", icon=":material/monitoring:", on_click=open_in_build, args=(run_id,),
                   width="stretch", key=f"open_{run_id}")
    cols[1].button("Edit a copy", icon=":material/edit_note:", on_click=load_config, args=(run_id,), width="stretch",
                   key=f"copy_{run_id}", help="Put this run's data, network and settings into Build & Train")
    resume_controls(run, (cols[2], cols[3]))
    cols[4].button("Stop", icon=":material/stop:", on_click=stop, args=(run_id,), disabled=not (run.alive and allowed),
                   width="stretch", key=f"stop_{run_id}")

    left, right = st.columns(2)
    with left:
        with st.container(border=True):
            st.markdown("**Name**")
            st.text_input("New name", value=run.name, key=f"name_{run_id}", disabled=not allowed,
                          label_visibility="collapsed")
            a, b = st.columns(2)
            a.button("Rename", icon=":material/edit:", on_click=rename, args=(run_id, f"name_{run_id}"),
                     disabled=not allowed, width="stretch", key=f"rename_{run_id}")
            with b.popover("Delete", icon=":material/delete:", disabled=not allowed or run.alive, width="stretch"):
                st.markdown(f"Delete **{run.name}**, its curves and its weight snapshots? This cannot be undone.")
                st.button("Delete for good", type="primary", on_click=delete, args=(run_id,), key=f"del_{run_id}")
    with right:
        with st.container(border=True):
            export_panel(run, row)


def export_panel(run, row) -> None:
    snaps = REGISTRY.store.snapshots(run.id)
    st.markdown("**Export**")
    epochs = [s.epoch for s in snaps]
    label = {s.epoch: snapshot_label(s) for s in snaps}
    epoch = st.selectbox("Weights of", epochs[::-1], format_func=label.get, key=f"exp_epoch_{run.id}",
                         disabled=not epochs) if epochs else None
    cfg = json.dumps({**(row.config if row else run.config.to_dict()), "name": run.name}, indent=2)   # renamed too
    script, no_script = _script(run.id, run.name)
    a, b, c = st.columns(3)
    a.download_button("Config", cfg, f"{run.id}.json", "application/json", icon=":material/download:",
                      width="stretch", key=f"dl_cfg_{run.id}", on_click="ignore")
    b.download_button("Weights", lambda: _export(run.id, "safetensors", epoch), f"{run.id}-epoch{epoch}.safetensors",
                      icon=":material/download:", width="stretch", disabled=not epochs, key=f"dl_w_{run.id}",
                      on_click="ignore", help="safetensors: the model's state dict, no pickle")
    c.download_button("PyTorch script", script or b"", f"train_{run.id}.py", "text/x-python",
                      icon=":material/code:", width="stretch", key=f"dl_py_{run.id}", on_click="ignore",
                      disabled=script is None,
                      help=no_script or "A single-file PyTorch program that trains this run without the playground; "
                                        "on a CPU it gives the same numbers to the last digit")
    if no_script:
        st.caption(f":material/info: {no_script}")
    for col, (fmt, (title, mime)) in zip(st.columns(2), EXPORTS.items()):
        key = f"prepared_{fmt}_{run.id}_{epoch}"
        if key in st.session_state:
            blob, info = st.session_state[key]
            col.download_button(f"{title} file", blob, info["name"], mime, icon=":material/download:",
                                width="stretch", key=f"dl_{fmt}_{run.id}", on_click="ignore")
            col.caption(f"checked on {info['checked_on']} validation inputs: outputs within "
                        f"{info['max_abs_diff']:.1g} of PyTorch's")
        else:
            col.button(f"Make {title}", key=f"make_{fmt}_{run.id}", on_click=_prepare, args=(run.id, fmt, epoch, key),
                       disabled=not epochs, width="stretch", icon=":material/build:")
    if st.session_state.get("export_error"):
        st.error(st.session_state.export_error)


@st.cache_data(max_entries=64, show_spinner=False)
def _script(run_id: str, name: str) -> tuple[bytes | None, str | None]:
    """The run's standalone script, written before the click (a few ms): (script, None), or (None, why
    not). A download that fails on the click gives the user nothing at all, not even a message."""
    try:
        return export_bytes(REGISTRY.store, run_id, "script", None)[0], None
    except (StoreError, PlaygroundError) as e:
        return None, f"No PyTorch script for this run: {e}"


def _export(run_id: str, fmt: str, epoch) -> bytes:
    return export_bytes(REGISTRY.store, run_id, fmt, epoch)[0]


def _prepare(run_id: str, fmt: str, epoch, key: str) -> None:
    st.session_state.pop("export_error", None)
    try:
        with st.spinner(f"exporting and checking the {fmt} model..."):
            st.session_state[key] = export_bytes(REGISTRY.store, run_id, fmt, epoch)
    except StoreError as e:
        st.session_state.export_error = str(e)
