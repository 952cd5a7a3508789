"""Compare page helpers: presets, the variant table <-> variant dicts, the live panel."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st
import yaml

from playground.compare import summary_row, time_to_target
from playground.config import INITS, OPTIMIZERS, SCHEDULES
from playground.seeds import number_format, seed_results, summary_rows, variant_name
from playground.train import REGISTRY
from playground.train.tasks import METRIC_LABELS
from playground.viz.compare import BANDS, METRICS, X_AXES, band_chart, compare_chart, steps_per_epoch
from ui.charts import vega
from ui.run_actions import stop
from ui.state import may_act, poll_every, rerun_when_ended

PRESET_DIR = Path(__file__).resolve().parents[1] / "examples" / "compare"
PRESETS = {p.stem: yaml.safe_load(p.read_text()) for p in sorted(PRESET_DIR.glob("*.yaml"))}
ORDER = ["optimizers", "learning_rates", "batch_sizes", "dropout", "init", "anecdote", "close_rates"]
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


def live_compare(gids: list[str], names: list[str] | None = None) -> None:
    """The race's live panel: one race's curves and summary, or, over seeds, the bands and the verdicts."""
    groups = [[r for r in REGISTRY.group(gid) if r is not None] for gid in gids]
    groups = [g for g in groups if g]
    if not groups:
        st.info("Pick a preset, or edit the variants, and press **Race**.")
        return
    if len(groups) > 1:
        seeds_panel(gids, groups, names)
        return
    gid, runs = gids[0], groups[0]
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


def seeds_panel(gids: list[str], groups: list[list], names: list[str] | None) -> None:
    """A race over seeds: per variant the mean curve with its band, and the finals table with the paired
    verdict against a chosen variant (see playground.seeds)."""
    names = names or sorted({variant_name(r.name) for g in groups for r in g})
    by_variant = {n: [] for n in names}                  # variant -> [its run of each seed, or None], seed order
    for group in sorted(groups, key=lambda g: g[0].config.seed):
        mine = {variant_name(r.name): r for r in group}
        for n in names:
            by_variant[n].append(mine.get(n))
    seeds = sorted({r.config.seed for g in groups for r in g})

    @st.fragment(run_every=poll_every(any(r.alive for g in groups for r in g)))
    def panel():
        alive = any(r.alive for g in groups for r in g)
        rerun_when_ended("_cmp_polling", gids[0], alive)
        snaps = {n: [r.history.snapshot() if r is not None else None for r in runs] for n, runs in by_variant.items()}
        a, b, c, d, e, f = st.columns([2.0, 1.5, 0.7, 1.0, 1.6, 1.1], vertical_alignment="bottom")
        x_axis = a.radio("x axis", list(X_AXES), format_func=X_AXES.get, horizontal=True, key="cmp_x")
        metric = b.selectbox("curve", list(METRICS), format_func=METRICS.get, key="cmp_metric")
        log_y = c.toggle("log y", key="cmp_log")
        smoothing = d.slider("smoothing", 0.0, 0.99, 0.6, key="cmp_smooth")
        band = e.radio("band", list(BANDS), format_func=BANDS.get, key="cmp_band",
                       help="the shaded band around each variant's mean curve: the lowest to the highest seed at "
                            "each point, or the mean plus and minus one standard deviation over the seeds")
        each = f.toggle("each seed", key="cmp_each", help="also draw every seed's own curve, thin")
        curves = [(n, [(seed, snap, steps_per_epoch(len(r.data.X_train), r.config.batch_size))
                       for seed, snap, r in zip(seeds, snaps[n], by_variant[n]) if snap is not None])
                  for n in names]
        vega(band_chart(curves, metric, x_axis, smoothing, log_y, band, each))
        done = sum(s is not None and s["status"] not in ("queued", "starting", "running")      # as the table
                   for runs in snaps.values() for s in runs)
        total = len(names) * len(seeds)
        listed = ", ".join(map(str, seeds))
        st.caption(f"{len(names)} variant{'s' if len(names) > 1 else ''} x {len(seeds)} seeds ({listed}): {done} of "
                   f"{total} runs ended. The line is the mean over the seeds that have reached that "
                   f"point; the band, {BANDS[band]}.")
        verdicts(names, by_variant, snaps, smoothing)
    panel()


def verdicts(names: list[str], by_variant: dict, snaps: dict, smoothing: float) -> None:
    """The finals table over seeds and, against the chosen reference, each variant's paired verdict."""
    first = next(r for runs in by_variant.values() for r in runs if r is not None)
    task = first.task
    metric, higher = task.headline, task.higher_better
    label = f"validation {METRIC_LABELS.get(metric, metric)}"
    fmt = number_format(metric)
    if st.session_state.get("cmp_ref") not in names:
        st.session_state.pop("cmp_ref", None)
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    reference = left.selectbox("Judge the variants against", names, key="cmp_ref") if len(names) > 1 else names[0]
    target = right.number_input("target loss", 0.0, 100.0, 0.5, step=0.05, format="%g", key="cmp_target",
                                help="the table gives the mean number of steps the seeds' runs needed to bring "
                                     "their training loss (every step, smoothed as the chart) down to this")
    results = {n: seed_results(snaps[n], metric, higher) for n in names}
    rows = summary_rows(results, reference, higher, label, fmt)

    def pm(x: dict) -> str:
        if x["mean"] is None:
            return "–"
        return f"{x['mean']:{fmt}}" + (f" ± {x['std']:{fmt}}" if x["std"] is not None else "")

    table = pd.DataFrame([{
        "variant": r["variant"],
        "seeds done": f"{r['done']} of {r['seeds']}" + (f" ({r['diverged']} diverged)" if r["diverged"] else ""),
        f"final {label}": pm(r["final"]),
        "range": "–" if r["final"]["min"] is None else f"{r['final']['min']:{fmt}} to {r['final']['max']:{fmt}}",
        f"best {label}": pm(r["best"]),
        f"steps to loss {target:g}": _steps_to(snaps[r["variant"]], target, smoothing),
        f"vs {reference}": "reference" if r["against"] is None else _short(r["against"], fmt),
    } for r in rows])
    st.table(table.set_index("variant"))
    lines = [f"- {r['against']['words']}" for r in rows if r["against"] is not None]
    if lines:
        st.markdown("\n".join(lines))
    st.caption(f"± is one standard deviation over the seeds. The verdict pairs the runs by seed (same initial "
               f"weights, same data, same order) and gives the mean difference of the final {label} with its 95% "
               "interval (Student's t over the seeds' differences): where the interval crosses 0, the seeds alone "
               "could make that difference.")


def _steps_to(snaps: list, target: float, smoothing: float) -> str:
    """The mean steps the seeds' runs took to reach the target loss, and how many of them did."""
    hits = [time_to_target(s, target, smoothing) for s in snaps if s is not None]
    steps = [h[0] for h in hits if h is not None]
    if not steps:
        return "–"
    return f"{sum(steps) / len(steps):,.0f}" + (f" ({len(steps)} of {len(snaps)} reached it)"
                                                if len(steps) < len(snaps) else "")


def _short(against: dict, fmt: str) -> str:
    """A verdict in a table cell: "better: +0.042 (+0.031 to +0.053), 5 of 5"."""
    if against["mean_diff"] is None:
        return "–"
    ci = "" if against["ci"] is None else f" ({against['ci'][0]:+{fmt}} to {against['ci'][1]:+{fmt}})"
    word = against["verdict"] if against["verdict"] in ("better", "worse") else "no clear difference"
    return f"{word}: {against['mean_diff']:+{fmt}}{ci}, better in {against['better']} of {against['n']}"
