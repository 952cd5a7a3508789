"""Compare page helpers: presets, the variant table <-> variant dicts, the live panel."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st
import yaml

from playground.compare import summary_row
from playground.config import INITS, OPTIMIZERS, SCHEDULES
from playground.train import REGISTRY
from playground.viz.compare import METRICS, X_AXES, compare_chart, steps_per_epoch
from ui.charts import vega
from ui.run_actions import stop
from ui.state import may_act, poll_every, rerun_when_ended

PRESET_DIR = Path(__file__).resolve().parents[1] / "examples" / "compare"
PRESETS = {p.stem: yaml.safe_load(p.read_text()) for p in sorted(PRESET_DIR.glob("*.yaml"))}
ORDER = ["optimizers", "learning_rates", "batch_sizes", "dropout", "init"]
COLUMNS = ["name", "optimizer", "lr", "momentum", "beta1", "beta2", "eps", "weight_decay", "batch_size", "schedule",
           "init", "dropout", "batchnorm"]
OPTIM_FIELDS = ("lr", "momentum", "beta1", "beta2", "eps", "weight_decay")   # numeric OptimConfig fields


def variants_to_frame(variants: list[dict]) -> pd.DataFrame:
    """Variant dicts (as in a compare config) -> the editable table; empty cells mean 'as base'."""
    rows = []
    for v in variants:
        o = v.get("optim", {})
        bn = v.get("batchnorm")
        rows.append({"name": v.get("name", ""), "optimizer": o.get("name"), **{k: o.get(k) for k in OPTIM_FIELDS},
                     "batch_size": v.get("batch_size"), "schedule": v.get("schedule", {}).get("name"),
                     "init": v.get("init"), "dropout": v.get("dropout"),
                     "batchnorm": None if bn is None else ("on" if bn else "off")})
    return pd.DataFrame(rows, columns=COLUMNS).astype({**{k: float for k in OPTIM_FIELDS}, "dropout": float,
                                                       "batch_size": "Int64"})


def frame_to_variants(df: pd.DataFrame) -> list[dict]:
    """The edited table -> variant dicts; empty cells are left to the base."""
    out = []
    for i, row in enumerate(df.to_dict("records")):
        def given(key):
            v = row.get(key)
            return v is not None and not (isinstance(v, float) and v != v) and v is not pd.NA and v != ""
        v = {"name": str(row["name"]) if given("name") else f"variant {i + 1}"}
        optim = {k: float(row[k]) for k in OPTIM_FIELDS if given(k)}
        if given("optimizer"):
            optim["name"] = row["optimizer"]
        if optim:
            v["optim"] = optim
        if given("batch_size"):
            v["batch_size"] = int(row["batch_size"])
        if given("schedule"):
            v["schedule"] = {"name": row["schedule"]}
        if given("init"):
            v["init"] = row["init"]
        if given("dropout"):
            v["dropout"] = float(row["dropout"])
        if given("batchnorm"):
            v["batchnorm"] = row["batchnorm"] == "on"
        out.append(v)
    return out


def variant_editor(df: pd.DataFrame, key: str) -> pd.DataFrame:
    c = st.column_config
    return st.data_editor(df, key=key, num_rows="dynamic", width="stretch", hide_index=True, column_config={
        "name": c.TextColumn("name", required=True, width="medium"),
        "optimizer": c.SelectboxColumn("optimizer", options=list(OPTIMIZERS)),
        "lr": c.NumberColumn("lr", min_value=0.0, format="%g"),
        "momentum": c.NumberColumn("momentum", min_value=0.0, max_value=0.999, format="%g",
                                   help="SGD momentum / Nesterov (PyTorch form v = momentum*v + g)"),
        "beta1": c.NumberColumn("beta1", min_value=0.0, max_value=0.9999, format="%g", help="Adam/AdamW"),
        "beta2": c.NumberColumn("beta2", min_value=0.0, max_value=0.99999, format="%g", help="Adam/AdamW"),
        "eps": c.NumberColumn("eps", min_value=0.0, format="%g", help="Adam/AdamW/RMSprop/Adagrad"),
        "weight_decay": c.NumberColumn("weight decay", min_value=0.0, format="%g"),
        "batch_size": c.NumberColumn("batch size", min_value=1, step=1),
        "schedule": c.SelectboxColumn("schedule", options=list(SCHEDULES)),
        "init": c.SelectboxColumn("init", options=list(INITS)),
        "dropout": c.NumberColumn("dropout p", min_value=0.0, max_value=0.9, format="%g"),
        "batchnorm": c.SelectboxColumn("batch norm", options=["on", "off"])})


def format_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Numbers as the text a class reads off a projector; '–' where there is none yet."""
    def fmt(col, v):
        if v is None or (isinstance(v, float) and v != v):
            return "–"
        if "acc" in col:
            return f"{v:.1%}"
        if col == "final val loss":
            return f"{v:.4f}"
        if col.startswith("samples") or col == "samples/s":
            return f"{v:,.0f}"
        if col.startswith("steps") or col == "best epoch":
            return f"{int(v):,}"
        return str(v)
    return pd.DataFrame({c: [fmt(c, v) for v in table[c]] for c in table.columns})


def live_compare(gid: str | None) -> None:
    runs = REGISTRY.group(gid)
    if not runs:
        st.info("Pick a preset, or edit the variants, and press **Race**.")
        return
    alive = any(r.alive for r in runs)

    @st.fragment(run_every=poll_every(alive))
    def panel():
        rerun_when_ended("_cmp_polling", gid, any(r.alive for r in runs))
        snaps = [r.history.snapshot() for r in runs]
        a, b, c, d, e = st.columns([2.2, 1.6, 0.8, 1.1, 1.1], vertical_alignment="bottom")
        x_axis = a.radio("x axis", list(X_AXES), format_func=X_AXES.get, horizontal=True, key="cmp_x")
        metric = b.selectbox("curve", list(METRICS), format_func=METRICS.get, key="cmp_metric")
        log_y = c.toggle("log y", key="cmp_log")
        smoothing = d.slider("smoothing", 0.0, 0.99, 0.6, key="cmp_smooth")
        target = e.number_input("target loss", 0.0, 100.0, 0.5, step=0.05, format="%g", key="cmp_target",
                                help="the summary gives the steps, samples and seconds each variant needed to "
                                     "bring its training loss (every step, smoothed with the weight above) "
                                     "down to this")
        curves = [(r.name, s, steps_per_epoch(len(r.data.X_train), r.config.batch_size)) for r, s in zip(runs, snaps)]
        vega(compare_chart(curves, metric, x_axis, smoothing, log_y))
        table = pd.DataFrame([summary_row(r.name, s, target, smoothing) for r, s in zip(runs, snaps)])
        st.table(format_summary(table).set_index("variant"))
        cols = st.columns(len(runs))
        for col, r in zip(cols, runs):
            col.button(f"Stop {r.name}", key=f"stop_{r.id}", icon=":material/stop:", on_click=stop, args=(r.id,),
                       disabled=not (r.alive and may_act(r)), width="stretch")
    panel()
