"""The Layer statistics page's pieces: the run's records (cached per new record), the lesson pairs,
and the charts of one run or two side by side."""
from __future__ import annotations

import numpy as np
import streamlit as st

from playground.inspect.stats import stats_at
from playground.train import REGISTRY
from playground.viz.stats import KINDS, RATIO_RULE, histogram, layer_label, over_epochs, per_layer, ridgeline
from ui.charts import vega
from ui.lessons import lesson_buttons
from ui.scrubber import follow as scrubber_follow
from ui.state import keep, me

# Lesson pairs: two example configs that differ in one thing; trained together, shown side by side.
LESSONS = {
    "Vanishing gradients: deep sigmoid vs deep ReLU": ("stats_deep_sigmoid.yaml", "stats_deep_relu.yaml"),
    "Initialisation: N(0, 1) vs He": ("stats_init_normal.yaml", "stats_init_he.yaml"),
    "BatchNorm: deep sigmoid without and with": ("stats_deep_sigmoid.yaml", "stats_deep_sigmoid_batchnorm.yaml"),
}


@st.cache_data(max_entries=16, show_spinner=False)
def _records(run_id: str, mark: tuple) -> list[dict]:
    return REGISTRY.store.stats(run_id)


def marker(run_id: str) -> tuple:
    return REGISTRY.store.stats_marker(run_id)


def records(run_id: str) -> list[dict]:
    """The run's statistics records, read again only when one was added."""
    return _records(run_id, marker(run_id))


def follow(run_id: str) -> None:
    """Redraw the page while the run trains: on a new record as well as a new snapshot or its end."""
    scrubber_follow(run_id, marker=lambda: marker(run_id))


def other_run(run_id: str, epoch: int) -> tuple | None:
    """'Compare with' another of this browser's runs: (its arrays, summary + name, record index) at
    the same epoch (its nearest earlier record), or None."""
    rows = [r for r in REGISTRY.listing(me(), limit=50) if r.id != run_id]
    picked = REGISTRY.get(st.session_state.get("stats_compare"))
    if picked is not None and picked.owner == me() and picked.id != run_id and picked.id not in {r.id for r in rows}:
        rows.append(picked)           # a lesson's second run, before the store lists it (or past the 50 newest)
    options = [None] + [r.id for r in rows]
    names = {r.id: f"{r.id} · {r.name}" for r in rows}
    if st.session_state.get("stats_compare") not in options:
        st.session_state.stats_compare = None
    other = st.selectbox("Compare with", options, key="stats_compare",
                         format_func=lambda i: "nothing" if i is None else names[i],
                         help="Another of your runs, at the same epoch: its gradient norms beside this run's")
    if other is None:
        return None
    if not records(other):
        st.caption(f"{names[other]} has no layer statistics yet.")
        return None
    arrays, summary = view_at(other, marker(other), epoch)
    return arrays, {**summary, "name": names[other]}, int(list(arrays["epochs"]).index(summary["epoch"]))


@st.cache_data(max_entries=32, show_spinner=False)
def view_at(run_id: str, mark: tuple, epoch: int) -> tuple[dict, dict]:
    v = stats_at(_records(run_id, mark), epoch)
    return v.arrays, v.summary


def lessons() -> None:
    # "Compare with" is a widget that this page does not draw while a run has no records yet (or on
    # another page), and Streamlit drops an undrawn widget's value: keep() puts a lesson's pick back.
    keep({"stats_compare": None})
    lesson_buttons(LESSONS, "stats_compare", "stats_error",
                   "Each button trains two small networks on the spiral at once (a few seconds), shows the first "
                   "and compares it with the second. The configs are in examples/, also on Build & Train.", "lesson")


def labels(arrays: dict, summary_layers: list[dict], weighted: bool) -> list[str]:
    types = {row["index"]: row["type"] for row in summary_layers}
    idx = arrays["weight_layers"] if weighted else arrays["layer_index"]
    return [layer_label(int(i), types[int(i)]) for i in idx]


def headline(arrays: dict, s: dict) -> None:
    """Four numbers at the chosen epoch."""
    rows = s["layers"]
    g = [r["grad_norm"] for r in rows if "grad_norm" in r]
    dead = [r["dead"] for r in rows if "dead" in r]
    sat = [r["saturated"] for r in rows if "saturated" in r]
    ratio = [r["update_ratio"] for r in rows if r.get("update_ratio") is not None]
    c = st.columns(4)
    c[0].metric("Probe loss", f"{s['probe_loss']:.4g}", help=f"The loss on the {s['probe']} fixed training "
                "examples every record uses")
    if g and g[-1] > 0:
        c[1].metric("Gradient norm, first / last layer", f"{g[0] / g[-1]:.2g}",
                    help="Below ~0.01 the first layers learn 100x slower than the last: vanishing gradients. "
                         "Far above 1: exploding")
    if dead:
        c[2].metric("Dead ReLU units", f"{np.mean(dead):.0%}", help="Units that output 0 for every probe example "
                    "(a channel: everywhere), averaged over the ReLU layers")
    elif sat:
        c[2].metric("Saturated outputs", f"{np.mean(sat):.0%}", help="Sigmoid outputs within 0.02 of 0 or 1 (tanh: "
                    "of -1 or 1), where the gradient almost vanishes; averaged over those layers")
    if ratio:
        c[3].metric("Update / weight (median)", f"{np.median(ratio):.1e}", help="How much the last step changed "
                    "each layer's weights, relative to their size; ~1e-3 is the rule of thumb")


def distributions(arrays: dict, s: dict, at: int, kind: str, columns: int = 4) -> None:
    """Every layer's histogram of `kind` at record `at`, `columns` to a row, each as wide as its column."""
    weighted = kind != "act"
    names = [f"{name.strip()} · std {sd:.3g}" for name, sd in zip(labels(arrays, s["layers"], weighted),
                                                                   arrays[f"{kind}_std"][at])]
    counts, lo, hi = arrays[f"{kind}_counts"][at], arrays[f"{kind}_lo"][at], arrays[f"{kind}_hi"][at]
    for first in range(0, len(names), columns):
        for k, col in zip(range(first, min(first + columns, len(names))), st.columns(columns)):
            with col:
                vega(histogram(counts[k], lo[k], hi[k], names[k]))


def one_layer(arrays: dict, s: dict, kind: str, layer_pos: int, epoch: int) -> None:
    vega(ridgeline(arrays[f"{kind}_counts"][:, layer_pos], arrays[f"{kind}_lo"][:, layer_pos],
                   arrays[f"{kind}_hi"][:, layer_pos], arrays["epochs"], chosen=epoch, title=KINDS[kind][:-1]))


def gradients(arrays: dict, s: dict, at: int, other: tuple | None) -> None:
    names = labels(arrays, s["layers"], True)
    left, right = st.columns(2)
    with left:
        st.caption(f"Gradient norm per layer at epoch {s['epoch']}" + (" (this run | the other)" if other else ""))
        if other is not None and len(other[0]["weight_layers"]) == len(arrays["weight_layers"]):
            vega(per_layer(arrays["grad_norm"][at], names, "gradient norm", compare=other[0]["grad_norm"][other[2]],
                           names=("this run", other[1]["name"])))
        else:
            vega(per_layer(arrays["grad_norm"][at], names, "gradient norm"))
            if other is not None:
                o_names = labels(other[0], other[1]["layers"], True)
                st.caption(f"{other[1]['name']}, epoch {other[1]['epoch']}")
                vega(per_layer(other[0]["grad_norm"][other[2]], o_names, "gradient norm"))
    with right:
        st.caption("Gradient norm per layer over training")
        vega(over_epochs(arrays["epochs"], arrays["grad_norm"], names, "gradient norm", chosen=s["epoch"]))


def updates(arrays: dict, s: dict) -> None:
    names = labels(arrays, s["layers"], True)
    st.caption(f"||ΔW|| / ||W|| of each layer at the last step before each snapshot; dashed: {RATIO_RULE:g}, the "
               f"rule of thumb. Epoch 0 has none (no step yet).")
    vega(over_epochs(arrays["epochs"], arrays["update_ratio"], names, "update / weight", chosen=s["epoch"],
                     rule=RATIO_RULE))


def units(arrays: dict, s: dict) -> None:
    names = labels(arrays, s["layers"], False)
    for key, what in (("dead", "dead ReLU units (0 for every probe example)"),
                      ("saturated", "saturated outputs (within 0.02 of the sigmoid's or tanh's limits)")):
        cols = [k for k in range(arrays[key].shape[1]) if np.isfinite(arrays[key][:, k]).any()]
        if cols:
            st.caption(f"Share of {what}, per layer over training")
            vega(over_epochs(arrays["epochs"], arrays[key][:, cols], [names[k] for k in cols], "share",
                             chosen=s["epoch"], log=False, percent=True, height=200))


def over_time(arrays: dict, s: dict) -> None:
    a, b = st.columns([1, 2])
    kind = a.segmented_control("Of", list(KINDS), format_func=KINDS.get, default="act", key="stats_ridge_kind",
                               required=True)
    weighted = kind != "act"
    names = labels(arrays, s["layers"], weighted)
    pos = b.selectbox("Layer", range(len(names)), format_func=lambda k: names[k], key=f"stats_ridge_layer_{kind}")
    st.caption(f"Layer {names[pos].strip()}: the histogram of its {KINDS[kind]} at up to 12 recorded epochs, the "
               f"first at the bottom; orange: epoch {s['epoch']}. Heights are shares of the values.")
    one_layer(arrays, s, kind, pos, s["epoch"])


NOTE = """
- **Gradient norm per layer** is the lesson of depth. Backpropagation multiplies by each layer's local
  derivative; a sigmoid's is at most 1/4, so after six sigmoids the first layer's gradient is
  at most (1/4)^6 ≈ 1/4,000 of the last layer's, less again where weights are small or units saturate: the
  first layers barely move
  (**vanishing gradients**). ReLU passes 1 where it is active, so the norms stay level.
- **Initialisation** decides the outputs' spread before any training. With weights from N(0, 1), each
  ReLU layer of 32 inputs multiplies it by about √(32/2) = 4; He initialisation draws N(0, 2/fan_in),
  exactly the factor that keeps it level (Distributions tab, outputs).
- **BatchNorm** re-centres and re-scales each layer's inputs on every batch, which keeps a sigmoid near
  its steep middle: the gradient reaches the first layer again.
- **Dead ReLU units** output 0 for every input, so they get no gradient and never recover; a large learning
  rate or a bad initialisation kills them. **Saturated** sigmoid or tanh outputs sit at their limits, where
  the derivative is close to 0.
- **Update / weight ratio**, ||ΔW|| / ||W|| for one step: around 1e-3 is healthy; 1e-1 means the weights are
  thrown around (learning rate too high), 1e-6 that the layer hardly learns. Adam divides each step by the
  gradient's own size, so it keeps learning where plain SGD's steps vanish.
- Everything is measured on one fixed batch of training examples, in training mode (dropout on, BatchNorm
  on batch statistics), without changing the run.
"""
