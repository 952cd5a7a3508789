"""Shape inference and model building. Every impossible network is refused here, before training,
with a message that names the layer, the shapes and a fix."""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import nn

from playground.errors import ConfigError, ShapeError
from playground.models.layers import Dropout, full_args, layer_args_text


@dataclass
class LayerRow:
    index: int          # 1-based, as the page shows it
    type: str
    args: str           # "out_features=16, bias=True"
    out_shape: tuple    # without the batch dimension
    params: int


def shape_text(shape: tuple, units: bool = True) -> str:
    """(16,) -> "16 features"; (8, 14, 14) -> "8x14x14 (CxHxW)"; units=False: "16", "8x14x14"."""
    if len(shape) == 1:
        return f"{shape[0]} features" if units else str(shape[0])
    return "x".join(str(s) for s in shape) + (" (CxHxW)" if units and len(shape) == 3 else "")


def _pos_int(args: dict, key: str, where: str, allow_zero: bool = False) -> int:
    v = args[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < (0 if allow_zero else 1):
        need = "a whole number >= 0" if allow_zero else "a whole number >= 1"
        raise ConfigError(f"{where}: {key}={v!r} is not valid; set {key} to {need}")
    return v


def _window(size_in: int, k: int, s: int, p: int, where: str, what: str) -> int:
    out = (size_in + 2 * p - k) // s + 1
    if out < 1:
        raise ShapeError(f"{where}: {what} {k} does not fit the {size_in}x{size_in} input "
                         f"(output would be {out}x{out}); use a smaller kernel_size, add padding, "
                         f"or remove a pooling layer before it")
    return out


def _make(kind: str, args: dict, shape: tuple, where: str, points: bool, flat_from: tuple | None = None):
    """(module, out_shape) for one layer applied to an input of shape (no batch dim)."""
    rank = len(shape)
    needs_image = kind in ("Conv2d", "MaxPool2d", "AvgPool2d")
    if needs_image and rank != 3:
        fix = ("the data are 2-D points: use Linear layers, or pick an image data set" if points else
               "remove the Flatten before it, or move this layer up")
        raise ShapeError(f"{where}: expects an image (channels x height x width), gets {shape_text(shape)}; {fix}")
    if kind == "Linear":
        if rank != 1:
            raise ShapeError(f"{where}: expects a flat vector, gets {shape_text(shape)}; "
                             f"add a Flatten layer before it ({math.prod(shape)} features)")
        n_in = args["in_features"]
        if n_in is not None and n_in != shape[0]:
            came = f" ({'x'.join(map(str, flat_from))} flattened)" if flat_from else ""
            raise ShapeError(f"{where}: expects {n_in} input features, gets {shape[0]}{came}"
                             f"; set in_features={shape[0]} (or leave it empty to infer it)")
        out = _pos_int(args, "out_features", where)
        if not isinstance(args["bias"], bool):
            raise ConfigError(f"{where}: bias={args['bias']!r} is not valid; set bias=True or bias=False")
        return nn.Linear(shape[0], out, bias=args["bias"]), (out,)
    if kind == "Conv2d":
        c_in = args["in_channels"]
        if c_in is not None and c_in != shape[0]:
            raise ShapeError(f"{where}: expects {c_in} input channels, gets {shape[0]} ({shape_text(shape)})"
                             f"; set in_channels={shape[0]} (or leave it empty to infer it)")
        c = _pos_int(args, "out_channels", where)
        k, s = _pos_int(args, "kernel_size", where), _pos_int(args, "stride", where)
        p = _pos_int(args, "padding", where, allow_zero=True)
        h = _window(shape[1], k, s, p, where, "kernel_size")
        w = _window(shape[2], k, s, p, where, "kernel_size")
        return nn.Conv2d(shape[0], c, k, s, p), (c, h, w)
    if kind in ("MaxPool2d", "AvgPool2d"):
        k = _pos_int(args, "kernel_size", where)
        s = k if args["stride"] is None else _pos_int(args, "stride", where)
        h = _window(shape[1], k, s, 0, where, "kernel_size")
        w = _window(shape[2], k, s, 0, where, "kernel_size")
        return getattr(nn, kind)(k, s), (shape[0], h, w)
    if kind == "Flatten":
        return nn.Flatten(), (math.prod(shape),)
    if kind == "Dropout":
        p = args["p"]
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
            raise ConfigError(f"{where}: p={p!r} is not valid; set p to a drop probability from 0 to 0.9")
        return Dropout(float(p)), shape
    if kind == "BatchNorm":
        return (nn.BatchNorm1d(shape[0]) if rank == 1 else nn.BatchNorm2d(shape[0])), shape
    if kind == "LayerNorm":
        return nn.LayerNorm(list(shape)), shape
    if kind == "LeakyReLU":
        slope = args["negative_slope"]
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ConfigError(f"{where}: negative_slope={slope!r} is not valid; set a number such as 0.01")
        return nn.LeakyReLU(float(slope)), shape
    return getattr(nn, kind)(), shape           # ReLU, GELU, Tanh, Sigmoid


def _walk(layers: list, input_shape: tuple, device: str | None = None):
    """(index, spec, module, out_shape) per layer. device="meta" builds the modules without storage:
    shapes and parameter counts are exact, nothing is allocated (a 200,000 x 200,000 Linear is free)."""
    shape, flat_from = tuple(input_shape), None
    for i, spec in enumerate(layers):
        where = f"layer {i + 1} ({spec.get('type')})"
        args = full_args(spec, i + 1)
        before = shape
        with torch.device(device) if device else contextlib.nullcontext():   # only around construction
            module, shape = _make(spec["type"], args, shape, where, len(input_shape) == 1, flat_from)
        if spec["type"] == "Flatten" and len(before) > 1:
            flat_from = before                  # remembered to explain a later Linear's input size
        elif spec["type"] == "Linear" or len(shape) != 1:
            flat_from = None
        yield i, spec, module, shape


def summarize(layers: list, input_shape: tuple, num_classes: int | None = None) -> list[LayerRow]:
    """One row per layer: output shape and parameter count. Raises ShapeError / ConfigError.
    Allocates no weights (built on the meta device)."""
    return _build(layers, input_shape, num_classes, device="meta")[1]


def summarize_partial(layers: list, input_shape: tuple, num_classes: int | None = None):
    """(rows, error, bad_index): the rows up to the first refused layer, its message and 0-based
    index (None when the whole network fits, or when the problem is the network's end).
    Allocates no weights (built on the meta device)."""
    rows = []
    try:
        for i, spec, module, shape in _walk(layers, input_shape, device="meta"):
            rows.append(LayerRow(i + 1, spec["type"], layer_args_text(spec), shape,
                                 sum(p.numel() for p in module.parameters())))
        _build(layers, input_shape, num_classes, device="meta")
    except (ShapeError, ConfigError) as e:
        bad = len(rows) if len(rows) < len(layers) else None
        return rows, str(e), bad
    return rows, None, None


def build_model(layers: list, input_shape: tuple, num_classes: int | None = None, device: str | None = None):
    """(nn.Sequential, rows). The last layer must output num_classes scores (the logits).
    device=None builds on the CPU; device="meta" gives the same modules, shapes and counts without
    storage (what models/budget.py measures before anything is allocated)."""
    return _build(layers, input_shape, num_classes, device)


def _build(layers, input_shape, num_classes, device: str | None = None):
    if not layers:
        raise ConfigError("the network is empty; add layers or load a preset")
    modules, rows = [], []
    for i, spec, module, shape in _walk(layers, input_shape, device):
        modules.append(module)
        rows.append(LayerRow(i + 1, spec["type"], layer_args_text(spec), shape,
                             sum(p.numel() for p in module.parameters())))
    if num_classes is not None and shape != (num_classes,):
        last = rows[-1]
        if len(shape) == 1 and last.type == "Linear":
            fix = f"set out_features={num_classes} on layer {last.index} (Linear)"
        elif len(shape) == 1:
            fix = f"add a final Linear with out_features={num_classes}"
        else:
            fix = f"end with Flatten and Linear(out_features={num_classes})"
        raise ShapeError(f"the network ends with {shape_text(shape)}, but the data set has {num_classes} classes, "
                         f"so it must end with {num_classes} features (one score per class); {fix}")
    return nn.Sequential(*modules), rows
