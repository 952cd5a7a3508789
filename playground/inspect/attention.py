"""Attention of a frozen transformer: every attention layer's weights for one input, captured in one
forward pass; the rollout across layers; the numbers behind one cell; and per-head scores for the
pattern the task implies, over the validation set.

    view = attention(frozen, sample=3)
    view.arrays["weights"]            # (A attention layers, H heads, L, L): row i = where position i reads from
    view.arrays["rollout_mean"]       # (L, L): Abnar & Zuidema's rollout, heads averaged
    view.summary["scores"]            # {"anti_diagonal": [[per head] per layer]} for a reversal run

Rollout (Abnar and Zuidema, 2020): each layer's weights W (heads fused by mean or max) become
0.5 W + 0.5 I (the residual path), rows renormalised, then multiplied through the layers:
R = W~_A ... W~_2 W~_1. Row i of R is how much of position i's last state traces back to each input.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from playground.data.sequences import IGNORE, period_of, targets
from playground.errors import PlaygroundError
from playground.inspect.evaluate import View
from playground.models.blocks import Patchify, SelfAttention

SCORE_BATCH = 512            # validation sequences the pattern scores average over
# The pattern each task implies, and what its score measures (the page's words).
PATTERNS = {
    "reverse": {"anti_diagonal": "mass on the mirror position (i reads L-1-i): the anti-diagonal"},
    "max": {"max_position": "mass on the position of the largest token"},
    "induction": {"induction": "mass on the positions just after the current token's earlier occurrences (the "
                               "induction pattern), over the repeated part",
                  "previous_token": "mass on the position just before (the previous-token pattern)"},
    "histogram": {"same_token": "mass on positions holding the same token (what counting needs)"},
}


def attention_layers(model) -> list[tuple[int, SelfAttention]]:
    """(1-based layer number in the network, its SelfAttention module), in order; a TransformerBlock
    counts as the layer that holds its attention."""
    return [(i + 1, sub) for i, m in enumerate(model) for sub in m.modules() if isinstance(sub, SelfAttention)]


def _require_attention(frozen) -> list[tuple[int, SelfAttention]]:
    found = attention_layers(frozen.model)
    if not found:
        raise PlaygroundError("this network has no attention layer (SelfAttention or TransformerBlock), so there is "
                              "no attention to show; train a transformer, e.g. the 'tiny transformer · reverse' "
                              "example")
    return found


@torch.no_grad()
def capture(model, x: torch.Tensor, layers: list[tuple[int, SelfAttention]]):
    """One forward pass of the frozen model on x (B, ...): (output, [weights (B, H, L, L)],
    [each attention's input (B, L, D)]). Hooks record the inputs; the weights are what each layer's
    softmax produced in that pass."""
    inputs: list[torch.Tensor] = []
    hooks = [m.register_forward_pre_hook(lambda _m, args: inputs.append(args[0].detach())) for _, m in layers]
    try:
        model.eval()
        out = model(x)
    finally:
        for h in hooks:
            h.remove()
    return out, [m.last_weights for _, m in layers], inputs


def rollout(weights: np.ndarray, fuse: str = "mean", residual: float = 0.5) -> np.ndarray:
    """weights (A, H, L, L) of one input -> (L, L) attention rollout. Heads fused by `fuse` (mean or
    max; max rows renormalised), then residual * I + (1 - residual) * W per layer, rows renormalised,
    multiplied through the layers (first layer on the right). Rows sum to 1."""
    if fuse not in ("mean", "max"):
        raise PlaygroundError(f"fuse: '{fuse}' is not one of mean, max")
    L = weights.shape[-1]
    eye = np.eye(L)
    R = eye.copy()
    for w in weights.astype(np.float64):
        f = w.mean(0) if fuse == "mean" else w.max(0)
        f = f / f.sum(-1, keepdims=True)
        a = residual * eye + (1 - residual) * f
        R = (a / a.sum(-1, keepdims=True)) @ R
    return R


def pattern_scores(task: str, X: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Per-head scores (A, H) of the pattern `task` implies, averaged over the sequences X (N, L)
    with their weights (A, N, H, L, L): {score name: (A, H)}; {} for a task with no known pattern."""
    X = np.asarray(X)
    N, L = X.shape
    w = np.asarray(weights, np.float64)
    rows = np.arange(L)
    if task == "reverse":
        return {"anti_diagonal": w[..., rows, L - 1 - rows].mean((1, 3))}
    if task == "max":
        pos = X.argmax(1)                                                    # (N,) the unique maximum
        idx = np.broadcast_to(pos[None, :, None, None, None], w.shape[:-1] + (1,))
        return {"max_position": np.take_along_axis(w, idx, -1)[..., 0].mean((1, 3))}
    if task == "histogram":
        same = (X[:, :, None] == X[:, None, :]).astype(np.float64)          # (N, L, L)
        return {"same_token": (w * same[None, :, None]).sum(-1).mean((1, 3))}
    if task == "induction":
        # Query t reads from j (1 <= j <= t) where the token before j is the current token: the token that
        # followed each earlier occurrence of X[t] (in a repeated segment, the answer). Scored over the
        # repeat, where the current token has occurred before.
        period = period_of(X)                                                # (N,)
        t = rows[None, :]
        scored = (period[:, None] > 0) & (t >= period[:, None])             # (N, L)
        after = np.zeros((N, L, L))
        after[:, :, 1:] = X[:, None, :-1] == X[:, :, None]                   # [n, t, j]: X[j-1] == X[t]
        after *= np.tril(np.ones((L, L)))[None]                              # j <= t
        ind = (w * after[None, :, None]).sum(-1)                             # (A, N, H, L)
        n = max(int(scored.sum()), 1)
        prev = w[..., rows[1:], rows[1:] - 1].mean((1, 3))                  # (A, H)
        return {"induction": (ind * scored[None, :, None, :]).sum((1, 3)) / n, "previous_token": prev}
    return {}


def _sequence_input(frozen, sample: int, split: str, tokens) -> tuple[torch.Tensor, int | None]:
    d = frozen.data
    if tokens is not None:
        if d.kind != "tokens":
            raise PlaygroundError("tokens: this run reads images, not token sequences; pick a validation sample")
        x = torch.as_tensor(np.asarray(tokens, np.int64).reshape(-1))
        L = d.input_shape[0]
        if not 1 <= len(x) <= L:
            raise PlaygroundError(f"tokens: {len(x)} tokens given; this run's sequences hold {L}; type {L} tokens "
                                  f"separated by spaces, each from 0 to {d.vocab - 1}")
        bad = [int(t) for t in x if not 0 <= int(t) < d.vocab]
        if bad:
            raise PlaygroundError(f"tokens: {', '.join(map(str, bad))} outside the vocabulary; each token must be "
                                  f"from 0 to {d.vocab - 1}")
        return x, None
    X = d.X_val if split == "val" else d.X_train
    if not 0 <= sample < len(X):
        raise PlaygroundError(f"sample: {sample} is outside the {split} split, which has {len(X)} examples "
                              f"(0 to {len(X) - 1})")
    return X[sample], sample


def _patch_side(frozen) -> int | None:
    """For a vision transformer: the side of its square grid of patches."""
    patch = next((m for m in frozen.model if isinstance(m, Patchify)), None)
    if patch is None or frozen.data.kind != "image":
        return None
    return frozen.data.input_shape[-1] // patch.patch_size


def _finite(a: np.ndarray, frozen) -> np.ndarray:
    if not np.isfinite(a).all():
        raise PlaygroundError(f"the network's attention at epoch {frozen.epoch} is not finite (NaN or inf): the run "
                              f"diverged by then; pick an earlier epoch")
    return a


def attention(frozen, sample: int = 0, split: str = "val", tokens=None, scores: bool = True) -> View:
    """Every attention layer's weights for one input (validation `sample`, or `tokens` the user typed),
    the rollout, the prediction at each position, and the task's pattern scores per head over the
    validation set. Arrays: weights (A, H, L, L), rollout_mean, rollout_max (L, L), input (L,) tokens
    or the image, probs ((L,) C or (C,)), predicted, target (-100: not scored), and per pattern
    score_<name> (A, H) (scores=False leaves them out: they do not depend on the input, and a page
    that switches inputs caches them apart); a vision transformer adds patch_mean, patch_rollout
    (side, side): how much the pooled output reads from each patch."""
    layers = _require_attention(frozen)
    x, sample = _sequence_input(frozen, sample, split, tokens)
    device = next(frozen.model.parameters()).device
    out, ws, _ = capture(frozen.model, x[None].to(device), layers)
    weights = _finite(np.stack([w[0].float().cpu().numpy() for w in ws]), frozen)         # (A, H, L, L)
    probs = _finite(torch.softmax(out[0].float(), -1).cpu().numpy(), frozen)
    d, name = frozen.data, frozen.data.name
    a = {"weights": weights, "rollout_mean": rollout(weights, "mean"), "rollout_max": rollout(weights, "max"),
         "input": x.cpu().numpy(), "probs": probs, "predicted": probs.argmax(-1)}
    if d.kind == "tokens":
        if sample is not None:
            a["target"] = (d.y_val if split == "val" else d.y_train)[sample].numpy()
        else:
            try:
                a["target"] = targets(name, a["input"][None])[0]
            except KeyError:
                pass
    elif sample is not None:
        a["target"] = np.asarray((d.y_val if split == "val" else d.y_train)[sample].numpy())
    side = _patch_side(frozen)
    if side is not None and side * side == weights.shape[-1]:
        a["patch_mean"] = weights.mean((0, 1)).mean(0).reshape(side, side)          # what the mean pool reads
        a["patch_rollout"] = a["rollout_mean"].mean(0).reshape(side, side)
    scores = pattern_scores_val(frozen, layers) if d.kind == "tokens" and scores else {}
    for k, v in scores.items():
        a[f"score_{k}"] = v
    names = [str(c) for c in d.class_names]
    target = a.get("target")
    summary = {"epoch": frozen.epoch, "step": frozen.step, "partial": frozen.partial, "split": split,
               "sample": sample, "task": name, "kind": d.kind,
               "layers": [{"index": i, "heads": m.heads, "head_size": m.head_size, "causal": m.causal,
                           "scale": m.scale} for i, m in layers],
               "length": int(weights.shape[-1]), "class_names": names,
               "predicted": [names[int(p)] for p in np.atleast_1d(a["predicted"])],
               "scores": {k: v.round(4).tolist() for k, v in scores.items()},
               "patterns": {k: PATTERNS[name][k] for k in scores}}
    if scores:
        first = next(iter(scores))
        li, hi = np.unravel_index(int(scores[first].argmax()), scores[first].shape)
        summary["best_head"] = {"pattern": first, "layer": layers[li][0], "head": int(hi),
                                "score": round(float(scores[first][li, hi]), 4)}
    if target is not None:
        t, p = np.atleast_1d(target), np.atleast_1d(a["predicted"])
        scored = t != IGNORE
        summary["correct"] = int(((p == t) & scored).sum())
        summary["scored"] = int(scored.sum())
    return View(a, summary)


@torch.no_grad()
def pattern_scores_val(frozen, layers=None) -> dict[str, np.ndarray]:
    """The task's pattern scores per head (A, H) over the first SCORE_BATCH validation sequences."""
    layers = layers or _require_attention(frozen)
    d = frozen.data
    if d.kind != "tokens" or d.name not in PATTERNS:
        return {}
    X = d.X_val[:SCORE_BATCH]
    device = next(frozen.model.parameters()).device
    _, ws, _ = capture(frozen.model, X.to(device), layers)
    w = np.stack([w.float().cpu().numpy() for w in ws])                      # (A, N, H, L, L)
    return pattern_scores(d.name, X.numpy(), _finite(w, frozen))


def attention_cell(frozen, layer: int | None = None, head: int = 0, row: int = 0, col: int = 0, sample: int = 0,
                   split: str = "val", tokens=None) -> View:
    """The numbers that make weight (row, col) of one head: the query of position `row` and the key of
    position `col`, their element-wise products and dot product, the scaling by 1/sqrt(d_k), and the
    softmax over the row (masked positions: -inf before the softmax, weight 0).
    Arrays: q, k, products (d_k,), row_scores (L,) (before the softmax, -inf where masked),
    row_weights (L,). The summary checks the row's softmax against the weight the forward pass used."""
    layers = _require_attention(frozen)
    numbers = [i for i, _ in layers]
    layer = numbers[0] if layer is None else layer
    if layer not in numbers:
        raise PlaygroundError(f"layer: {layer} has no attention; the attention layers are "
                              f"{', '.join(map(str, numbers))}")
    at = numbers.index(layer)
    att = layers[at][1]
    x, sample = _sequence_input(frozen, sample, split, tokens)
    device = next(frozen.model.parameters()).device
    _, ws, inputs = capture(frozen.model, x[None].to(device), layers)
    L = ws[at].shape[-1]
    for name, v, hi in (("head", head, att.heads - 1), ("row", row, L - 1), ("col", col, L - 1)):
        if not 0 <= v <= hi:
            raise PlaygroundError(f"{name}: {v} is outside 0 to {hi} (layer {layer} has {att.heads} heads and the "
                                  f"sequence {L} positions)")
    hs = att.head_size
    h_in = inputs[at][0].float()                                              # (L, D) what the attention reads
    with torch.no_grad():
        q_all = att.query(h_in)[:, head * hs:(head + 1) * hs]                # (L, d_k)
        k_all = att.key(h_in)[:, head * hs:(head + 1) * hs]                  # (L, d_k)
    q, k = q_all[row].double(), k_all[col].double()
    scale = 1 / math.sqrt(hs) if att.scale else 1.0
    scores = (k_all.double() @ q) * scale                                     # (L,)
    if att.causal:
        scores[row + 1:] = float("-inf")
    weights_row = torch.softmax(scores, 0)
    captured = ws[at][0, head, row].double().cpu()
    dot = float((q * k).sum())
    summary = {"epoch": frozen.epoch, "step": frozen.step, "partial": frozen.partial, "layer": layer, "head": head,
               "row": row, "col": col, "sample": sample, "head_size": hs, "scaled": bool(att.scale),
               "causal": bool(att.causal), "masked": bool(att.causal and col > row), "dot": dot,
               "scale": scale, "score": float(scores[col]), "weight": float(weights_row[col]),
               "captured": float(captured[col]),
               "matches": bool(torch.allclose(weights_row, captured, rtol=1e-4, atol=1e-6))}
    arrays = {"q": q.numpy(), "k": k.numpy(), "products": (q * k).numpy(), "row_scores": scores.numpy(),
              "row_weights": weights_row.numpy(), "captured_row": captured.numpy()}
    return View(arrays, summary)
