"""The Attention page's pieces: cached views of a snapshot, the sequence picker, the lesson pairs, and
their drawing."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from playground.config import load_config
from playground.data.sequences import IGNORE
from playground.errors import PlaygroundError
from playground.inspect import attention, attention_cell
from playground.inspect.attention import PATTERNS, SCORE_BATCH, pattern_scores_val
from playground.train import REGISTRY
from playground.viz.attention import (
    cell_spec,
    grid_spec,
    head_view_spec,
    heatmap_spec,
    patch_overlay,
    scores_spec,
    softmax_spec,
)
from ui.charts import take_cell_click, vega
from ui.lessons import EXAMPLES_DIR, lesson_buttons
from ui.scrubber import from_snapshot, prefetch, snapshot_model

ATTENTION_TYPES = ("SelfAttention", "TransformerBlock")
# Lesson pairs from the course notes, each on the reversal task (examples/attention_*.yaml), and why
# the second differs, in a sentence the page shows once the pair is trained.
LESSONS = {
    "Scaling 1/√d_k: with vs without": ("attention_reverse_1head.yaml", "attention_reverse_unscaled.yaml"),
    "Causal mask: off vs on": ("transformer_reverse.yaml", "attention_reverse_causal.yaml"),
    "Heads: 1 vs 4": ("attention_reverse_1head.yaml", "attention_reverse_4heads.yaml"),
    "Positional encoding: with vs without": ("transformer_reverse.yaml", "attention_reverse_nopos.yaml"),
}
WHY = {
    "Scaling 1/√d_k: with vs without": (
        "Without the scaling, q·k grows with the head's size (its variance is d_k times larger), so the softmax "
        "is peaked on whichever key happens to score highest and passes back small gradients to the rest. On a "
        "task this small both runs get there; the difference is in the first epochs (the accuracy curves) and in "
        "how sharp the unscaled heatmap is."),
    "Causal mask: off vs on": (
        "With the causal mask, position i may read only positions 0 to i. Its answer is the token at position "
        "L-1-i, which lies in the future for the first half of the positions: they can only guess. Expect about "
        "half the tokens right, and a heatmap with nothing above the diagonal."),
    "Heads: 1 vs 4": (
        "Four heads of 16 features have the same width as one head of 64. Each head learns its own pattern: look "
        "at the all-heads grid, where heads often split the anti-diagonal between them."),
    "Positional encoding: with vs without": (
        "Without positional encoding, attention sees the sequence as a bag of tokens: permuting the input permutes "
        "the output the same way, and a position cannot tell where it sits. Reversal needs exactly that, so it "
        "cannot be learned: the accuracy stays near what guessing from the token counts gives."),
}
SHOW = {"head": "One head", "all": "All heads and rollout", "train": "Over training"}
NOT_WHY = ("Attention shows where each position reads information from, not why the model decided: the values "
           "that are read, the MLPs and the later layers transform it further.")


def has_attention(layers: list[dict]) -> bool:
    return any(spec["type"] in ATTENTION_TYPES for spec in layers)


def design_notes(layers: list[dict], data) -> list[str]:
    """What the network's design makes impossible for its task, in words (shown above the views)."""
    notes = []
    types = [spec["type"] for spec in layers]
    if data.kind == "tokens" and "PositionalEncoding" not in types and data.name in ("reverse", "sort", "induction"):
        notes.append("This network has no positional encoding. Without it, attention treats the sequence as a bag "
                     "of tokens: permuting the input permutes the output the same way, so no position knows where it "
                     f"is. '{data.name}' depends on positions, so it cannot be learned; add a PositionalEncoding "
                     "layer after the Embedding.")
    if data.name == "reverse" and any(spec["type"] in ATTENTION_TYPES and spec.get("causal") for spec in layers):
        notes.append("A causal mask lets position i read only positions 0 to i, but reversal's answer at i is the "
                     "token at L-1-i: the first half of the positions cannot see it and can only guess.")
    return notes


def lessons() -> None:
    lesson_buttons(LESSONS, "attn_compare", "attn_error",
                   "Each button trains two tiny transformers on reversal at once (about half a minute), shows the "
                   "first and compares it with the second. The configs are in examples/, also on Build & Train.",
                   "attn_lesson")


@functools.lru_cache(maxsize=1)
def _pair_names() -> dict[tuple, str]:
    return {tuple(load_config(EXAMPLES_DIR / f).name for f in files): title for title, files in LESSONS.items()}


def lesson_of(run_id: str, other: str | None) -> str | None:
    """The lesson whose pair is (run, other), by the runs' names (the example configs' names)."""
    runs = [REGISTRY.get(run_id), REGISTRY.get(other) if other else None]
    if None in runs:
        return None
    return _pair_names().get((runs[0].name, runs[1].name))


# ---- cached views of a snapshot ------------------------------------------------------------------
@st.cache_data(max_entries=64, show_spinner=False)
def view(run_id: str, epoch: int, step: int, sample: int, tokens: tuple | None) -> tuple[dict, dict]:
    v = attention(snapshot_model(run_id, epoch, step), sample, tokens=list(tokens) if tokens else None, scores=False)
    return v.arrays, v.summary


@st.cache_data(max_entries=64, show_spinner=False)
def cell(run_id: str, epoch: int, step: int, layer: int, head: int, row: int, col: int, sample: int,
         tokens: tuple | None) -> tuple[dict, dict]:
    v = attention_cell(snapshot_model(run_id, epoch, step), layer, head, row, col, sample,
                       tokens=list(tokens) if tokens else None)
    return v.arrays, v.summary


@st.cache_data(max_entries=256, show_spinner=False)
def scores_at(run_id: str, epoch: int, step: int) -> dict:
    return pattern_scores_val(snapshot_model(run_id, epoch, step))


def scores_over(run_id: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(epochs (E,), {pattern: (E, A, H)}) over every snapshot of the run: each snapshot's scores are
    computed once (cached), so a run that trains adds one snapshot's worth per redraw."""
    snaps = sorted({s.epoch: s for s in REGISTRY.store.snapshots(run_id)}.values(), key=lambda s: s.epoch)
    epochs, per = [], []
    for snap in snaps:
        try:
            per.append(scores_at(run_id, snap.epoch, snap.step))
        except PlaygroundError:          # a snapshot that diverged (NaN) or cannot load: left out of the curve
            continue
        epochs.append(snap.epoch)
    names = list(per[-1]) if per else []
    return np.array(epochs), {k: np.stack([p[k] for p in per]) for k in names}


# ---- the sequence shown --------------------------------------------------------------------------
@dataclass
class Picked:
    sample: int
    tokens: tuple | None
    label: str


def sequence_source(data) -> Picked:
    """A validation sequence by number, or one the user types (token sequences only)."""
    n = len(data.X_val)
    if data.kind != "tokens":
        sample = int(st.number_input(f"Validation image (0 to {n - 1})", 0, n - 1, key="attn_sample"))
        return Picked(sample, None, f"validation image {sample}")
    L = data.input_shape[0]
    a, b = st.columns([1, 2])
    sample = int(a.number_input(f"Validation sequence (0 to {n - 1})", 0, n - 1, key="attn_sample"))
    text = b.text_input(f"…or type one: up to {L} tokens from 0 to {data.vocab - 1}, separated by spaces",
                        key="attn_tokens", placeholder=" ".join(map(str, data.X_val[sample].tolist())))
    if text.strip():
        try:
            tokens = tuple(int(t) for t in text.replace(",", " ").split())
        except ValueError:
            st.error(f"'{text}' is not a list of whole numbers: type tokens from 0 to {data.vocab - 1} separated by "
                     f"spaces, e.g. {' '.join(map(str, data.X_val[0].tolist()))}. Showing validation sequence "
                     f"{sample}.")
            return Picked(sample, None, f"validation sequence {sample}")
        return Picked(sample, tokens, "your sequence")
    return Picked(sample, None, f"validation sequence {sample}")


# ---- drawing -------------------------------------------------------------------------------------
def prediction_table(a: dict, s: dict) -> None:
    """Input, prediction and answer at each position (or the one answer of a per-sequence task)."""
    names = s["class_names"]
    pred = np.atleast_1d(a["predicted"])
    target = a.get("target")
    if s["kind"] != "tokens":
        truth = f", true **{names[int(target)]}**" if target is not None else ""
        st.markdown(f"Predicted **{names[int(pred[0])]}** ({float(a['probs'].max()):.0%}){truth}")
        return
    tokens = a["input"]
    if len(pred) == 1:                                           # one answer per sequence
        t = None if target is None else int(np.atleast_1d(target)[0])
        st.markdown(f"Input `{' '.join(map(str, tokens))}` → predicted **{names[int(pred[0])]}** "
                    f"({float(a['probs'].max()):.0%})" + ("" if t is None else
                                                         f", answer **{names[t]}** {'✓' if t == pred[0] else '✗'}"))
        return
    rows = {"input": [str(int(t)) for t in tokens], "predicted": [names[int(p)] for p in pred]}
    if target is not None:
        t = np.atleast_1d(target)
        rows["answer"] = ["·" if v == IGNORE else names[int(v)] for v in t]
        rows["right"] = ["" if v == IGNORE else ("✓" if v == p else "✗") for v, p in zip(t, pred)]
    frame = pd.DataFrame(rows, index=[str(i) for i in range(len(tokens))]).T
    st.dataframe(frame, width="stretch")
    if target is not None:
        st.caption(f"{s['correct']} of {s['scored']} scored positions right (· = not scored: the answer is not yet "
                   f"knowable there).")


def one_head(a: dict, s: dict, labels: list[str]) -> tuple[int, int, int, int]:
    """Layer and head pickers, the chosen head's heatmap (click a cell) and its head view; returns
    (layer number, head, row, col)."""
    numbers = [layer["index"] for layer in s["layers"]]
    c1, c2, c3 = st.columns([1, 1, 2])
    layer = c1.selectbox("Attention layer", numbers, format_func=lambda i: f"layer {i}", key="attn_layer")
    at = numbers.index(layer)
    heads = s["layers"][at]["heads"]
    if st.session_state.get("attn_head", 0) >= heads:
        st.session_state["attn_head"] = 0
    head = c2.selectbox("Head", list(range(heads)), key="attn_head")
    L = s["length"]
    take_cell_click("attn_map", "attn", L, L)
    left, right = st.columns([3, 2])
    with right:
        row = int(st.number_input(f"Query position (row, 0 to {L - 1})", 0, L - 1, key="attn_row"))
        col = int(st.number_input(f"Key position (column, 0 to {L - 1})", 0, L - 1, key="attn_col"))
        st.caption("Click a cell of the heatmap, or type its row and column: the numbers behind it are below.")
        vega(head_view_spec(a["weights"][at], labels, [head], row=None))
        st.caption(f"Head view of layer {layer}, head {head}: each query (left) joined to the keys it reads from "
                   f"(right), as opaque as the weight.")
    with left:
        st.vega_lite_chart(spec=heatmap_spec(a["weights"][at, head], labels, row, col,
                                             title=f"layer {layer}, head {head}"),
                           on_select="rerun", selection_mode="cell", key="attn_map", width="content")
    return layer, head, row, col


def _where(label: str) -> str:
    """An axis label in words: "2: 4" -> "position 2 (token 4)"; "p3" -> "patch p3"."""
    if ": " in label:
        pos, tok = label.split(": ", 1)
        return f"position {pos} (token {tok})"
    return f"patch {label}"


def cell_panel(run_id: str, snap, pick: Picked, layer: int, head: int, row: int, col: int, labels: list[str]) -> None:
    a, s = from_snapshot(cell, run_id, snap.epoch, snap.step, layer, head, row, col, pick.sample, pick.tokens)
    hs = s["head_size"]
    scale = f" × 1/√{hs} = {s['dot'] * s['scale']:.3f}" if s["scaled"] else " (this layer does not scale)"
    st.markdown(f"{_where(labels[row]).capitalize()} reads from {_where(labels[col])} in layer {layer}, head {head}: "
                f"**q·k = {s['dot']:.3f}**{scale}.")
    vega(cell_spec(a["products"], a["q"], a["k"]))
    st.caption(f"q = W_q·x at position {row} and k = W_k·x at position {col} ({hs} numbers each, this head's share "
               f"of the layer); each bar is q_d × k_d, and the bars sum to q·k.")
    vega(softmax_spec(a["row_scores"], a["row_weights"], labels, col))
    if s["masked"]:
        st.info(f"Key {col} is after query {row}: the causal mask sets its score to -∞, so its weight is 0.",
                icon=":material/block:")
    eq = (f"softmax over row {row}: e^{s['score']:.3f} / Σ e^score = **{s['weight']:.4f}**; the forward pass "
          f"used {s['captured']:.4f}") if not s["masked"] else (f"weight 0 (masked); the forward pass used "
                                                                f"{s['captured']:.4f}")
    (st.success if s["matches"] else st.error)(eq, icon=":material/calculate:")


def patterns_panel(run_id: str, snap, s: dict) -> None:
    """The task's pattern score per head at this epoch, and over training."""
    now = from_snapshot(scores_at, run_id, snap.epoch, snap.step)
    if not now:
        st.caption(f"The {s['task']} task implies no single attention pattern to score here.")
        return
    numbers = [layer["index"] for layer in s["layers"]]
    epochs, over = scores_over(run_id)
    for name, per_head in now.items():
        li, hi = np.unravel_index(int(per_head.argmax()), per_head.shape)
        st.markdown(f"**{name.replace('_', ' ')}**: {PATTERNS[s['task']][name]}. Best at epoch {snap.epoch}: layer "
                    f"{numbers[li]}, head {hi}, **{per_head[li, hi]:.2f}**.")
        if name in over and len(epochs):
            chance = 1 / s["length"] if name in ("anti_diagonal", "max_position") else None
            vega(scores_spec(epochs, over[name], numbers, name.replace("_", " "), snap.epoch, chance))
    if any(k in over for k in ("anti_diagonal", "max_position")):
        st.caption(f"The dashed line is 1/L = {1 / s['length']:.3f}: what attention spread evenly would score. Scores "
                   f"are averaged over the first {SCORE_BATCH} validation sequences.")


def compare_panel(other: str, epoch: int, lesson: str | None) -> None:
    """The other run of a pair: its accuracy and best pattern score at the same epoch."""
    run = REGISTRY.get(other)
    if run is None:
        return
    snaps = [x for x in REGISTRY.store.snapshots(other) if x.epoch <= epoch]
    eps = run.history.epochs
    acc = next((e.get("val_token_acc", e.get("val_acc")) for e in reversed(eps) if e["epoch"] <= epoch), None)
    line = f"**Compared with {other} · {run.name}** at epoch {snaps[-1].epoch if snaps else 0}: "
    line += f"validation token accuracy {acc:.1%}" if acc is not None else "no epoch finished yet"
    if snaps:
        try:
            sc = scores_at(other, snaps[-1].epoch, snaps[-1].step)
        except PlaygroundError:
            sc = {}
        for name, v in sc.items():
            line += f"; best {name.replace('_', ' ')} {float(np.max(v)):.2f}"
    st.info(line + ".", icon=":material/compare_arrows:")
    if lesson:
        st.caption(WHY[lesson])


def patches_panel(a: dict) -> None:
    """A vision transformer: how much the pooled output reads from each patch, on the image."""
    if "patch_mean" not in a:
        return
    c1, c2 = st.columns(2)
    c1.image(patch_overlay(a["input"], a["patch_mean"]), caption="attention the mean pool reads through, averaged "
             "over layers and heads (orange = more)", alt="the input image with its patches shaded by the attention "
                                                          "the pooled output reads through them")
    c2.image(patch_overlay(a["input"], a["patch_rollout"]), caption="rollout through the layers (0.5·W + 0.5·I per "
             "layer): which patches the output traces back to", alt="the input image with its patches shaded by "
                                                                     "attention rollout")
    st.caption("Colours are scaled to this image's largest value: they compare patches of one image, not images.")


def warm_neighbours(run_id: str, snap, pick: Picked) -> None:
    def work(n) -> None:
        view(run_id, n.epoch, n.step, pick.sample, pick.tokens)
        scores_at(run_id, n.epoch, n.step)
    prefetch(run_id, snap, work)


def grid_and_rollout(a: dict, s: dict, labels: list[str]) -> None:
    numbers = [layer["index"] for layer in s["layers"]]
    vega(grid_spec(a["weights"], numbers, labels))
    st.caption("Every layer (rows) and head (columns) at once; rows of each square are queries, columns keys.")
    fuse = st.segmented_control("Heads combined by", ["mean", "max"], default="mean", key="attn_fuse",
                                required=True)
    st.vega_lite_chart(spec=heatmap_spec(a[f"rollout_{fuse}"], labels, title=f"rollout ({fuse} over heads)",
                                         clickable=False), width="content")
    st.caption("Attention rollout (Abnar and Zuidema, 2020): each layer's weights, heads combined, mixed half and "
               "half with the identity (the residual path), multiplied through the layers. Row i: how much of "
               "position i's final state traces back to each input position. Rows sum to 1.")


LOOK_FOR = (
    "- **Read a row.** Row i is where position i takes its information from; each row sums to 1. On reversal the "
    "answer for position i is the token at L-1-i, so a trained head lights up the **anti-diagonal**.\n"
    "- **Scrub from epoch 0.** At first every row is almost uniform (1/L each); the pattern appears as the accuracy "
    "climbs. The score curve per head shows when, and which head found it.\n"
    "- **Click a cell.** The weight is softmax(q·k / √d_k) over the row: q is what the query position looks for, k "
    "what a key position offers. A large dot product wins most of the row.\n"
    "- **Why 1/√d_k.** For random q and k of d_k numbers, q·k has variance about d_k: unscaled, the softmax "
    "saturates and learning stalls. The scaling keeps the scores near unit size.\n"
    "- **Causal mask.** Scores of later positions are set to -∞ before the softmax, so a position reads only the "
    "past (needed for generating text; fatal for reversal).\n"
    "- **Heads.** Each head has its own q, k and v: one may track position, another the token itself.\n"
    "- **Induction** (2 layers): a layer-2 head finds the token *after* the current token's earlier "
    "occurrence, and copies it. The textbook circuit feeds it from a previous-token head in layer 1; in this "
    "example that pattern stays weak (score ~0.26), so look for the induction pattern in layer 2.\n"
    "- **Rollout** follows the information through all layers, counting the residual path as half of each step.\n"
    f"- **Careful:** {NOT_WHY}")
