"""Convolution filters and every layer's output (feature maps) for one input, at one snapshot."""
from __future__ import annotations

import numpy as np
import torch

from playground.errors import PlaygroundError
from playground.inspect.evaluate import View
from playground.inspect.inputs import check_input, example, split_arrays


def conv_layers(frozen) -> list[int]:
    """1-based indices (as the layer editor numbers them) of the model's Conv2d layers."""
    return [i + 1 for i, m in enumerate(frozen.model) if isinstance(m, torch.nn.Conv2d)]


def conv_layer_numbers(layers: list[dict]) -> list[int]:
    """The same, read off a config's layer list (no model needed)."""
    return [i + 1 for i, spec in enumerate(layers) if spec["type"] == "Conv2d"]


def filters(frozen, layer: int | None = None) -> View:
    """The kernels of Conv2d layer `layer` (default: the first). Arrays: weight (out, in, kh, kw),
    bias (out,) (zeros when the layer has none)."""
    convs = conv_layers(frozen)
    if not convs:
        raise PlaygroundError("this network has no Conv2d layer, so it has no filters to show; "
                              "train a CNN (for example the Small CNN preset on MNIST)")
    layer = convs[0] if layer is None else layer
    if layer not in convs:
        raise PlaygroundError(f"layer: {layer} is not a Conv2d layer; the Conv2d layers are "
                              f"{', '.join(map(str, convs))}")
    conv = frozen.model[layer - 1]
    w = conv.weight.detach().cpu().numpy()                                   # (out, in, kh, kw)
    if not np.isfinite(w).all():
        raise PlaygroundError(f"layer {layer}'s weights at epoch {frozen.epoch} are not finite numbers (NaN or "
                              f"inf): the run diverged by then; pick an earlier epoch")
    b = conv.bias.detach().cpu().numpy() if conv.bias is not None else np.zeros(w.shape[0], np.float32)
    return View({"weight": w, "bias": b},
                {"epoch": frozen.epoch, "step": frozen.step, "partial": frozen.partial, "layer": layer,
                 "conv_layers": convs, "shape": list(w.shape), "stride": list(conv.stride),
                 "padding": list(conv.padding), "abs_max": float(np.abs(w).max())})


@torch.no_grad()
def activations(frozen, sample: int = 0, split: str = "val", x: torch.Tensor | None = None) -> View:
    """Input `sample` of the split (or `x`, an input of the user's own, shaped like the data's inputs),
    passed through the network layer by layer (eval mode).
    Arrays: input (C, H, W) or (features,), layer_01 ... layer_NN (each layer's output, without the
    batch dimension), probs (classes,). Summary: "sample" is None for an input of the user's own,
    which has no "true" class."""
    if x is None:
        x = example(frozen, sample, split)
    else:
        x, sample = check_input(frozen, x), None
    model = frozen.model.eval()
    device = next(model.parameters()).device
    h = x[None].to(device)                                                  # (1, ...)
    arrays, layers = {"input": x.numpy()}, []
    types = [s["type"] for s in frozen.config.layers] if frozen.config is not None else None
    for i, module in enumerate(model):
        h = module(h)
        arrays[f"layer_{i + 1:02d}"] = h[0].float().cpu().numpy()
        layers.append({"index": i + 1, "type": types[i] if types else type(module).__name__,
                       "shape": list(h.shape[1:])})
    base = {"epoch": frozen.epoch, "step": frozen.step, "partial": frozen.partial, "split": split,
            "sample": sample}
    task = getattr(frozen, "task", None)
    if task is not None and task.name != "classification":
        return View(arrays, {**base, "task": task.name, "layers": layers})
    probs = (task.probs(h.float()) if task is not None else torch.softmax(h.float(), 1))[0].cpu().numpy()
    if not np.isfinite(probs).all():
        raise PlaygroundError(f"the network's output at epoch {frozen.epoch} is not finite (NaN or inf): the run "
                              f"diverged by then; pick an earlier epoch")
    arrays["probs"] = probs
    names = [str(c) for c in frozen.data.class_names]
    truth = {} if sample is None else {"true": names[int(split_arrays(frozen, split)[1][sample])]}
    return View(arrays, {**base, **truth, "predicted": names[int(probs.argmax())],
                         "confidence": float(probs.max()), "class_names": names, "layers": layers})


# ---- one output cell of a convolution, by hand ---------------------------------------------------

POOLS = (torch.nn.MaxPool2d, torch.nn.AvgPool2d)


def _pair(v) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _pads(module) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) padding of a Conv2d or pooling layer. padding="same" pads the
    extra row/column at the bottom/right, as PyTorch does."""
    p = module.padding
    if p == "valid":
        return 0, 0, 0, 0
    if p == "same":
        (kh, kw), (dh, dw) = _pair(module.kernel_size), _pair(module.dilation)
        th, tw = dh * (kh - 1), dw * (kw - 1)
        return th // 2, th - th // 2, tw // 2, tw - tw // 2
    ph, pw = _pair(p)
    return ph, ph, pw, pw


def _size_row(dim: str, size: int, pad: tuple[int, int], k: int, s: int, d: int, ceil: bool, out: int) -> dict:
    """One dimension of the output-size arithmetic, with the layer's numbers."""
    p = f"2·{pad[0]}" if pad[0] == pad[1] else f"{pad[0]} + {pad[1]}"
    reach = f"{k}" if d == 1 else f"{d}·({k} − 1) − 1"
    rnd = "ceil" if ceil else "floor"
    formula = (f"{rnd}(({size} + {p} − {reach}) / {s}) + 1 = {rnd}({size + sum(pad) - d * (k - 1) - 1} / {s}) + 1 "
               f"= {out}")
    return {"dim": dim, "in": size, "padding": list(pad), "kernel": k, "stride": s, "dilation": d,
            "ceil_mode": ceil, "out": out, "formula": formula}


def size_rows(module, in_shape: tuple, out_shape: tuple) -> list[dict]:
    """H_out = floor((H + 2p − d·(k − 1) − 1) / s) + 1 (d = 1: floor((H + 2p − k) / s) + 1), and the
    same for W, for a Conv2d, MaxPool2d or AvgPool2d layer with input (C, H, W) -> output (C', H', W')."""
    (kh, kw), (sh, sw) = _pair(module.kernel_size), _pair(module.stride or module.kernel_size)
    dh, dw = _pair(getattr(module, "dilation", 1))
    top, bottom, left, right = _pads(module)
    ceil = bool(getattr(module, "ceil_mode", False))
    return [_size_row("H", in_shape[-2], (top, bottom), kh, sh, dh, ceil, out_shape[-2]),
            _size_row("W", in_shape[-1], (left, right), kw, sw, dw, ceil, out_shape[-1])]


def _layer_name(frozen, layer: int) -> str:
    return type(frozen.model[layer - 1]).__name__


def _check_layer(frozen, layer: int | None, kinds: tuple, what: str) -> int:
    """layer (1-based) if it is one of `kinds`; the first such layer when None; else a clear error."""
    ok = [i + 1 for i, m in enumerate(frozen.model) if isinstance(m, kinds)]
    if not ok:
        raise PlaygroundError(f"this network has no {what} layer; train a CNN (for example the Small CNN preset "
                              f"on MNIST)")
    layer = ok[0] if layer is None else layer
    if layer not in ok:
        name = f" ({_layer_name(frozen, layer)})" if 1 <= layer <= len(frozen.model) else ""
        raise PlaygroundError(f"layer: {layer}{name} is not a {what} layer; the {what} layers are "
                              f"{', '.join(map(str, ok))}")
    return layer


def _in_range(item: str, value: int, n: int, owner: str, noun: str) -> None:
    if not 0 <= value < n:
        raise PlaygroundError(f"{item}: {value} is outside {owner}, which has {n} {noun} (0 to {n - 1}); pick "
                              f"one in that range")


@torch.no_grad()
def _layer_input(frozen, layer: int, x: torch.Tensor) -> torch.Tensor:
    """(1, ...) what layer `layer` receives for input x: the output of layer - 1, or x itself."""
    model = frozen.model.eval()
    return model[:layer - 1](x[None].to(next(model.parameters()).device))


@torch.no_grad()
def output_size(frozen, layer: int | None = None) -> View:
    """The output-size arithmetic of a Conv2d, MaxPool2d or AvgPool2d layer with its own numbers and
    the run's input size. Summary: layer, type, in_shape, out_shape, rows [H row, W row]."""
    layer = _check_layer(frozen, layer, (torch.nn.Conv2d, *POOLS), "Conv2d or pooling")
    module = frozen.model[layer - 1]
    h = _layer_input(frozen, layer, frozen.data.X_val[0] if len(frozen.data.X_val) else frozen.data.X_train[0])
    out = module(h)
    return View({}, {"layer": layer, "type": type(module).__name__, "in_shape": list(h.shape[1:]),
                     "out_shape": list(out.shape[1:]), "rows": size_rows(module, h.shape[1:], out.shape[1:])})


@torch.no_grad()
def conv_cell(frozen, layer: int | None = None, sample: int = 0, channel: int = 0, row: int = 0, col: int = 0,
              split: str = "val", x: torch.Tensor | None = None) -> View:
    """Output cell (channel, row, col) of Conv2d layer `layer` for input `sample` of the split (or x,
    an input of the user's own), computed by hand: the receptive window times the kernel, summed,
    plus the bias; checked against the layer's own forward pass (F.conv2d).

    Arrays: input (C_in, H, W) what the layer receives; window (c, kh, kw) the input under the
    kernel (zero where it hangs over the padding; c = C_in / groups); padding (kh, kw) True where
    the window is padding; kernel (c, kh, kw); products (c, kh, kw); partial (c,) the products'
    sum per input channel; map (H_out, W_out) the output channel.
    Summary: the numbers (sum, bias, value, conv2d, matches), where the window lies on the input
    (window_top/left in input coordinates, negative inside the padding), and the output-size rows."""
    layer = _check_layer(frozen, layer, (torch.nn.Conv2d,), "Conv2d")
    conv = frozen.model[layer - 1]
    x, sample = (example(frozen, sample, split), sample) if x is None else (check_input(frozen, x), None)
    inp = _layer_input(frozen, layer, x)                                    # (1, C_in, H, W)
    out = conv(inp)                                                         # (1, C_out, H_out, W_out)
    _, c_out, h_out, w_out = out.shape
    owner = f"layer {layer}'s output"
    _in_range("channel", channel, c_out, owner, "channels")
    _in_range("row", row, h_out, owner, "rows")
    _in_range("col", col, w_out, owner, "columns")
    (kh, kw), (sh, sw), (dh, dw) = _pair(conv.kernel_size), _pair(conv.stride), _pair(conv.dilation)
    top, bottom, left, right = _pads(conv)
    c_in, H, W = inp.shape[1:]
    window, on_pad, first, per_group = _receptive_window(conv, inp, channel, row, col, c_out)
    kernel = conv.weight[channel].double()                                   # (c, kh, kw)
    products = window * kernel
    partial = products.sum((1, 2))                                           # (c,)
    total = float(partial.sum())
    bias = float(conv.bias[channel]) if conv.bias is not None else 0.0
    value, layer_value = total + bias, float(out[0, channel, row, col])
    after = frozen.model[layer] if layer < len(frozen.model) else None
    relu = isinstance(after, torch.nn.ReLU)
    summary = {
        "epoch": frozen.epoch, "step": frozen.step, "partial": frozen.partial, "split": split, "sample": sample,
        "layer": layer, "channel": channel, "row": row, "col": col, "in_shape": [c_in, H, W],
        "out_shape": [c_out, h_out, w_out], "kernel_size": [kh, kw], "stride": [sh, sw],
        "padding": [top, bottom, left, right], "padding_mode": conv.padding_mode, "dilation": [dh, dw],
        "groups": conv.groups, "input_channels": [first, first + per_group],
        "window_top": row * sh - top, "window_left": col * sw - left,
        "window_span": [dh * (kh - 1) + 1, dw * (kw - 1) + 1],
        "padding_cells": int(on_pad.sum()), "sum": total, "bias": bias, "value": value,
        "conv2d": layer_value, "abs_error": abs(value - layer_value),
        "matches": abs(value - layer_value) <= 1e-4 * (1 + abs(layer_value)),
        "next_layer": type(after).__name__ if after is not None else None,
        "after_relu": max(value, 0.0) if relu else None,
        "output_size": size_rows(conv, inp.shape[1:], out.shape[1:])}
    summary["equation"] = cell_equation(summary)
    return View({"input": inp[0].float().cpu().numpy(), "window": window.float().cpu().numpy(),
                 "padding": on_pad.numpy(), "kernel": kernel.float().cpu().numpy(),
                 "products": products.float().cpu().numpy(), "partial": partial.float().cpu().numpy(),
                 "map": out[0, channel].float().cpu().numpy()}, summary)


def _receptive_window(conv, inp: torch.Tensor, channel: int, row: int, col: int, c_out: int):
    """What output cell (channel, row, col) of conv sees of inp (1, C_in, H, W): (window (c, kh, kw)
    float64, zero or the padding mode's values where it hangs over the padding; on_pad (kh, kw) True
    there; the first of its c = C_in / groups input channels; c)."""
    (kh, kw), (sh, sw), (dh, dw) = _pair(conv.kernel_size), _pair(conv.stride), _pair(conv.dilation)
    top, bottom, left, right = _pads(conv)
    c_in, H, W = inp.shape[1:]
    mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
    padded = torch.nn.functional.pad(inp, (left, right, top, bottom), mode=mode)[0]     # (C_in, H+pads, W+pads)
    is_pad = torch.ones(H + top + bottom, W + left + right, dtype=torch.bool)
    is_pad[top:top + H, left:left + W] = False
    rows = slice(row * sh, row * sh + dh * (kh - 1) + 1, dh)
    cols = slice(col * sw, col * sw + dw * (kw - 1) + 1, dw)
    per_group = c_in // conv.groups
    first = channel // (c_out // conv.groups) * per_group                   # grouped conv: its input channels
    window = padded[first:first + per_group, rows, cols].double()            # (c, kh, kw)
    return window, is_pad[rows, cols], first, per_group


def cell_equation(s: dict) -> str:
    """'sum of products 1.234 + bias -0.100 = 1.134 = F.conv2d output at (channel 2, row 3, col 4)', and
    the ReLU after it when the next layer is one."""
    same = "=" if s["matches"] else "≠"
    text = (f"sum of products {s['sum']:.4g} + bias {s['bias']:.4g} = {s['value']:.4g} {same} F.conv2d output "
            f"{s['conv2d']:.4g} at (channel {s['channel']}, row {s['row']}, col {s['col']})")
    return text + (f"; after the ReLU: max(0, {s['value']:.4g}) = {s['after_relu']:.4g}"
                   if s["after_relu"] is not None else "")


# ---- the validation inputs that excite a filter most ----------------------------------------------

TOP_BATCH = 512


@torch.no_grad()
def unit_scores(frozen, layer: int, split: str = "val") -> tuple[np.ndarray, str]:
    """(N, units), "channel" or "unit": every example's activation of every unit of layer `layer`'s output: a channel's
    largest value over positions for a (C, H, W) output, the unit itself for a flat one."""
    X, _ = split_arrays(frozen, split)
    model = frozen.model.eval()
    device = next(model.parameters()).device
    head = model[:layer]
    out, kind = [], "unit"
    for i in range(0, len(X), TOP_BATCH):
        h = head(X[i:i + TOP_BATCH].to(device))                             # (B, C, H, W) or (B, F)
        kind = "channel" if h.dim() == 4 else "unit"
        out.append((h.flatten(2).amax(2) if h.dim() == 4 else h.flatten(1)).float().cpu())
    return torch.cat(out).numpy(), kind


@torch.no_grad()
def top_inputs(frozen, layer: int | None = None, channel: int = 0, k: int = 9, split: str = "val") -> View:
    """The k examples of the split that activate unit `channel` of layer `layer` most (default: the
    first Conv2d layer): for a (C, H, W) output the largest value of channel `channel`'s map, for a
    flat output that unit. Arrays: indices (k,), values (k,), inputs (k, ...), scores (N,) every
    example's value; for a classifier also labels (k,), predicted (k,), confidence (k,)."""
    n_layers = len(frozen.model)
    if layer is None:
        convs = conv_layers(frozen)
        layer = convs[0] if convs else 1
    if not 1 <= layer <= n_layers:
        raise PlaygroundError(f"layer: {layer} is not a layer of this network; its layers are 1 to {n_layers}")
    if k < 1:
        raise PlaygroundError(f"k: {k} examples is too few; ask for 1 or more")
    return ranked(frozen, layer, channel, k, split, *unit_scores(frozen, layer, split))


@torch.no_grad()
def ranked(frozen, layer: int, channel: int, k: int, split: str, scores: np.ndarray, kind: str) -> View:
    """top_inputs from unit_scores' output (a page computes the scores once per layer and ranks any
    channel of it in milliseconds)."""
    X, y = split_arrays(frozen, split)
    units = scores.shape[1]
    _in_range("channel", channel, units, f"layer {layer}'s output", f"{kind}s")
    column = scores[:, channel]
    order = np.argsort(-column, kind="stable")[:k]
    arrays = {"indices": order.astype(np.int64), "values": column[order], "inputs": X[order].numpy(),
              "scores": column}
    top = [{"index": int(i), "activation": float(column[i])} for i in order]
    summary = {"epoch": frozen.epoch, "step": frozen.step, "partial": frozen.partial, "split": split,
               "layer": layer, "type": _layer_name(frozen, layer), "channel": channel, "kind": kind, "k": len(order),
               "measure": (f"the largest value of channel {channel}'s map" if kind == "channel"
                           else f"unit {channel}'s output"),
               "mean": float(column.mean()), "top": top}
    task = getattr(frozen, "task", None)
    if task is None or task.name == "classification":
        logits = frozen.model(X[order].to(next(frozen.model.parameters()).device)).float()
        probs = (task.probs(logits) if task is not None else torch.softmax(logits, 1)).cpu().numpy()
        names = [str(c) for c in frozen.data.class_names]
        arrays.update(labels=y[order].numpy(), predicted=probs.argmax(1), confidence=probs.max(1))
        for t, i, p in zip(top, order, probs):
            t.update(true=names[int(y[i])], predicted=names[int(p.argmax())], confidence=float(p.max()))
    return View(arrays, summary)
