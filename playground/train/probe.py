"""Layer statistics recorded at snapshot time: each layer's weights, gradients and outputs, for the
Layer statistics page and `python -m playground inspect RUN stats`.

At every weight snapshot the engine passes one fixed probe batch (the same training examples each
time, so epochs compare) through the model in training mode, with a forward hook on each layer,
and takes the gradient of the task's loss with respect to every weight. Nothing leaks into
training: the dropout generator and BatchNorm's running statistics are restored afterwards, and the
gradients come from torch.autograd.grad, never .grad. The update-to-weight ratio is the real one:
the size of the change the optimizer made at the last step before the snapshot, over the size of
the weights before it (none at epoch 0, nor where that step is unknown: a Stop, an early-stopping
restore).

"Weights" of a layer are its parameters except biases (Linear/Conv kernels, attention and RNN
matrices, BatchNorm/LayerNorm gains, embeddings). A record is plain JSON:

    {"epoch", "step", "probe": examples, "loss": probe loss,
     "layers": [{"index": 1-based, "type", "shape": output shape,
                 "act": {"lo", "hi", "counts", "mean", "std", "zero", ["dead" | "saturated"]},
                 "weight": {"lo", "hi", "counts", "mean", "std", "norm"}, "grad": {...same},
                 "update_ratio": float | None}]}

Histograms have BINS equal bins over [lo, hi] (the tensor's own range); counts add up to the
tensor's finite values (activations of a large layer: an even subsample of at most HIST_MAX values,
which the zero and saturated shares also use; dead units are judged on every value).
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

BINS = 40
BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)   # what the BatchNorm layer builds (batch statistics)
PROBE_MAX = 256               # probe examples at most
PROBE_VALUES = 100_000        # fewer examples for large inputs: examples x input size stays under this
HIST_MAX = 65_536             # activation values histogrammed per layer at most (an even subsample)
ONE_BY_ONE = 4_096            # arrays of more values are binned one at a time (_hists)
SATURATED = 0.02              # sigmoid within 0.02 of 0 or 1, tanh within 0.02 of -1 or 1: gradient < ~0.02


def probe_indices(n: int, sample_shape: tuple, seed: int) -> torch.Tensor:
    """The training examples the probe uses: a seeded choice, fixed for the whole run."""
    size = int(np.prod(sample_shape)) if len(sample_shape) else 1
    k = max(1, min(n, PROBE_MAX, max(32, PROBE_VALUES // max(size, 1))))
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed + 3))[:k]


def layer_weights(model: nn.Module) -> list[list[torch.Tensor]]:
    """Per top-level layer, its weight tensors (every parameter but the biases); [] for none."""
    return [[p for name, p in m.named_parameters() if not name.split(".")[-1].startswith("bias")]
            for m in model]


def _hist(x: np.ndarray) -> dict:
    """Summary (mean, std, L2 norm) and histogram of the finite values of x (float64, flat)."""
    return _hists([x])[0]


def _hists(arrays: list[np.ndarray]) -> list[dict]:
    """_hist of each array, in one pass over them all (a tiny network's many small layers would
    otherwise cost more in Python than the probe's forward and backward)."""
    sizes = np.array([a.size for a in arrays])
    x = np.concatenate(arrays) if arrays else np.zeros(0)
    if not np.isfinite(x).all() or (sizes == 0).any():      # rare: a diverging run; one array at a time
        return [_hists([a[np.isfinite(a)]])[0] if a.size and np.isfinite(a).any() else
                {"lo": 0.0, "hi": 0.0, "counts": [0] * BINS, "mean": None, "std": None, "norm": 0.0} for a in arrays]
    k = len(arrays)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    lo, hi = np.minimum.reduceat(x, starts), np.maximum.reduceat(x, starts)
    width = hi - lo
    scale = np.divide(BINS, width, out=np.zeros(k), where=width > 0)
    # bins: the small arrays together (each value's lo and scale looked up), a large one on its own (its
    # own lo and scale: no lookup per value, and its temporaries stay in the cache); the same arithmetic
    large = sizes > ONE_BY_ONE
    counts = np.zeros((k, BINS), np.int64)
    for i in np.flatnonzero(large):
        t = x[starts[i]:starts[i] + sizes[i]] - lo[i]
        t *= scale[i]
        b = t.astype(np.int64)
        counts[i] = np.bincount(np.minimum(b, BINS - 1, out=b), minlength=BINS)
    if not large.all():
        seg = np.repeat(np.arange(k)[~large], sizes[~large])
        xs = x[np.repeat(~large, sizes)] if large.any() else x
        bins = np.minimum(((xs - lo[seg]) * scale[seg]).astype(np.int64), BINS - 1) + seg * BINS
        counts += np.bincount(bins, minlength=k * BINS).reshape(k, BINS)
    total, sq = np.add.reduceat(x, starts), np.add.reduceat(x * x, starts)
    mean = total / sizes
    std = np.sqrt(np.maximum(sq / sizes - mean * mean, 0.0))
    return [{"lo": float(lo[i]), "hi": float(hi[i]), "counts": counts[i].tolist(), "mean": float(mean[i]),
             "std": float(std[i]), "norm": float(np.sqrt(sq[i]))} for i in range(k)]


def _flat(tensors: list[torch.Tensor]) -> np.ndarray:
    return torch.cat([t.detach().reshape(-1).float().cpu() for t in tensors]).numpy().astype(np.float64)


def _values(h: torch.Tensor) -> np.ndarray:
    """A layer's output values, flat, float64: all of them, or an even subsample of at most HIST_MAX."""
    flat = h.detach().reshape(-1)
    step = max(1, -(-flat.numel() // HIST_MAX))
    return flat[::step].float().cpu().numpy().astype(np.float64)


def _act_extra(h: torch.Tensor, x: np.ndarray, kind: str) -> dict:
    """Beyond the histogram, for one layer's output h (B, ...) and its values x: the share of zeros,
    and dead units (ReLU) or saturated values (Sigmoid, Tanh)."""
    out = {"zero": float(np.count_nonzero(x == 0)) / x.size if x.size else None}
    if kind == "ReLU" and h.dim() >= 2:
        # a unit is dead when it outputs 0 for every probe example (and, for a map, everywhere on it):
        # a feature of a vector, a channel of an image map (B, C, H, W), a feature D of a sequence (B, L, D)
        per_unit = h.detach().abs().amax(dim=0)                             # (...) over the batch
        if h.dim() == 4:
            per_unit = per_unit.amax(dim=(1, 2))                            # (C,)
        elif h.dim() == 3:
            per_unit = per_unit.amax(dim=0)                                 # (D,)
        out["dead"] = float((per_unit == 0).float().mean())
    elif kind == "Sigmoid":
        out["saturated"] = float(np.count_nonzero((x < SATURATED) | (x > 1 - SATURATED))) / x.size
    elif kind == "Tanh":
        out["saturated"] = float(np.count_nonzero(np.abs(x) > 1 - SATURATED)) / x.size
    return out


class Probe:
    """Records layer statistics for one run: `before_step` / `after_step` around the optimizer step
    that precedes a snapshot (the update ratio), `measure` at the snapshot."""

    def __init__(self, model: nn.Module, types: list[str], X: torch.Tensor, y: torch.Tensor, task, seed: int):
        idx = probe_indices(len(X), tuple(X.shape[1:]), seed)
        self.model, self.types, self.task = model, types, task
        self.X, self.y = X[idx.to(X.device)], y[idx.to(y.device)]
        self.weights = layer_weights(model)
        self.ratios: list | None = None          # the last step's update ratios, until a snapshot takes them
        self.seconds = 0.0                       # wall time spent recording (the bench reports its share)

    # ------------------------------------------------------------------ the update ratio
    @torch.no_grad()
    def before_step(self) -> list[list[torch.Tensor]]:
        t0 = time.perf_counter()
        out = [[w.detach().clone() for w in ws] for ws in self.weights]
        self.seconds += time.perf_counter() - t0
        return out

    @torch.no_grad()
    def after_step(self, before: list[list[torch.Tensor]]) -> None:
        """||W_after - W_before|| / ||W_before|| per layer (None for a layer without weights)."""
        t0 = time.perf_counter()
        ratios = []
        for ws, bs in zip(self.weights, before):
            if not ws:
                ratios.append(None)
                continue
            d = torch.sqrt(sum(((w.float() - b.float()) ** 2).sum() for w, b in zip(ws, bs)))
            n = torch.sqrt(sum((b.float() ** 2).sum() for b in bs))
            ratios.append(d / n if float(n) > 0 else None)
        self.ratios = [None if r is None else float(r) for r in ratios]
        self.seconds += time.perf_counter() - t0

    # ------------------------------------------------------------------ the probe
    def measure(self, epoch: int, step: int, dropout_gen: torch.Generator | None = None) -> dict:
        """The record for the snapshot at `epoch` (see the module docstring). Takes the pending
        update ratios (None when no step was recorded since the last snapshot)."""
        t0 = time.perf_counter()
        model, outputs = self.model, []
        was_training = model.training
        norms = [m for m in model.modules() if isinstance(m, BATCH_NORMS)]
        saved = [{k: v.clone() for k, v in m.named_buffers(recurse=False)} for m in norms]
        gen_state = dropout_gen.get_state() if dropout_gen is not None else None
        # Every model built here is an nn.Sequential, whose forward is this loop: each layer's output is
        # taken as it passes, without putting hooks on and off at every snapshot (another model: hooks)
        chain = type(model) is nn.Sequential
        hooks = [] if chain else [m.register_forward_hook(lambda _m, _i, out: outputs.append(out)) for m in model]
        params = [w for ws in self.weights for w in ws]
        try:
            if not was_training:
                model.train()
            with torch.enable_grad():
                out = self.X if chain else model(self.X)
                for m in model if chain else ():
                    out = m(out)
                    outputs.append(out)
                loss = self.task.loss(out, self.task.target(self.X, self.y), model)
                grads = torch.autograd.grad(loss, params, allow_unused=True) if params else []
        finally:
            for h in hooks:
                h.remove()
            for m, buffers in zip(norms, saved):
                for k, v in buffers.items():
                    getattr(m, k).copy_(v)
            if gen_state is not None:
                dropout_gen.set_state(gen_state)
            if not was_training:
                model.train(False)
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
        ratios, self.ratios = self.ratios, None
        values = [_values(h) for h in outputs]
        has = [i for i, ws in enumerate(self.weights) if ws]
        gflat, k = [], 0
        for i in has:
            gflat.append(_flat(grads[k:k + len(self.weights[i])]))
            k += len(self.weights[i])
        # activations, weights and gradients in one pass (each array's figures are its own)
        summaries = _hists(values + [_flat(self.weights[i]) for i in has] + gflat)
        n, w = len(values), len(has)
        acts, wstats, gstats = summaries[:n], summaries[n:n + w], summaries[n + w:]
        layers = []
        for i, h in enumerate(outputs):
            act = acts[i]
            act.pop("norm")
            entry = {"index": i + 1, "type": self.types[i], "shape": list(h.shape[1:]),
                     "act": {**act, **_act_extra(h, values[i], self.types[i])}}
            if i in has:
                j = has.index(i)
                entry["weight"], entry["grad"] = wstats[j], gstats[j]
                entry["update_ratio"] = ratios[i] if ratios is not None else None
            layers.append(entry)
        self.seconds += time.perf_counter() - t0
        return {"epoch": epoch, "step": step, "probe": len(self.X), "loss": float(loss.detach()), "layers": layers}
