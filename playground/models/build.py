"""Shape inference and model building. Every impossible network is refused here, before training,
with a message that names the layer, the shapes and a fix."""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import nn

from playground.errors import ConfigError, ShapeError
from playground.models import blocks
from playground.models.layers import Dropout, full_args, layer_args_text


@dataclass
class LayerRow:
    index: int          # 1-based, as the page shows it
    type: str
    args: str           # "out_features=16, bias=True"
    out_shape: tuple    # without the batch dimension
    params: int


def shape_text(shape: tuple, units: bool = True) -> str:
    """(16,) -> "16 features"; (8, 32) -> "8x32 (LxD)"; (8, 14, 14) -> "8x14x14 (CxHxW)";
    units=False: "16", "8x32", "8x14x14"."""
    if len(shape) == 1:
        return f"{shape[0]} features" if units else str(shape[0])
    tag = {2: " (LxD)", 3: " (CxHxW)"}.get(len(shape), "") if units else ""
    return "x".join(str(s) for s in shape) + tag


def _pos_int(args: dict, key: str, where: str, allow_zero: bool = False) -> int:
    v = args[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < (0 if allow_zero else 1):
        need = "a whole number >= 0" if allow_zero else "a whole number >= 1"
        raise ConfigError(f"{where}: {key}={v!r} is not valid; set {key} to {need}")
    return v


def _bool(args: dict, key: str, where: str) -> bool:
    v = args[key]
    if not isinstance(v, bool):
        raise ConfigError(f"{where}: {key}={v!r} is not valid; set {key}=True or {key}=False")
    return v


def _choice(args: dict, key: str, where: str, options: tuple) -> str:
    v = args[key]
    if v not in options:
        raise ConfigError(f"{where}: {key}={v!r} is not valid; set " + " or ".join(f"{key}={o}" for o in options))
    return v


def _positive(args: dict, key: str, where: str, example) -> float:
    v = args[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 or not math.isfinite(v):
        raise ConfigError(f"{where}: {key}={v!r} is not valid; set {key} to a number > 0, e.g. {key}={example}")
    return v


def _window(size_in: int, k: int, s: int, p: int, where: str, what: str) -> int:
    out = (size_in + 2 * p - k) // s + 1
    if out < 1:
        raise ShapeError(f"{where}: {what} {k} does not fit the {size_in}x{size_in} input "
                         f"(output would be {out}x{out}); use a smaller kernel_size, add padding, "
                         f"or remove a pooling layer before it")
    return out


def _divisors(n: int) -> list:
    return [d for d in range(2, n + 1) if n % d == 0]


def _image_like(n: int) -> str:
    """A CxHxW shape holding n values with the largest square HxW: 392 -> "8x7x7", 64 -> "1x8x8"."""
    side = max(s for s in range(1, math.isqrt(n) + 1) if n % (s * s) == 0)
    return f"{n // (side * side)}x{side}x{side}"


def _parse_shape(v, where: str) -> tuple:
    """Unflatten's shape: "8x7x7", 784, or a list/tuple of whole numbers -> (8, 7, 7)."""
    if isinstance(v, int) and not isinstance(v, bool):
        dims = (v,)
    elif isinstance(v, str):
        try:
            dims = tuple(int(d) for d in v.lower().replace("*", "x").split("x"))
        except ValueError:
            dims = ()
    elif isinstance(v, (list, tuple)) and all(isinstance(d, int) and not isinstance(d, bool) for d in v):
        dims = tuple(v)
    else:
        dims = ()
    if not 1 <= len(dims) <= 3 or min(dims) < 1:
        raise ConfigError(f"{where}: shape={v!r} is not valid; write the output shape as sizes joined by x, "
                          f"e.g. shape=8x7x7 (an image CxHxW) or shape=16x8 (a sequence LxD)")
    return dims


def _sequence_fix(shape: tuple, kind: str, points: bool) -> str:
    if kind == "SequencePool" and len(shape) == 1:
        return "the input is already one vector per sample: remove this layer"
    if len(shape) == 3:
        return "add Patchify before it to cut the image into a sequence of patches"
    if points:
        return "the data are 2-D points, not a sequence: use Linear layers"
    return "add an Embedding (tokens) or Patchify (images) first, or Unflatten the vector to LxD"


def _image_fix(shape: tuple, kind: str, points: bool) -> str:
    if len(shape) == 2:
        return (f"{kind} works on images; on a sequence (LxD) use SelfAttention, TransformerBlock, an RNN, "
                f"or Linear (per position)")
    if points:
        return "the data are 2-D points: use Linear layers, or pick an image data set"
    return (f"remove the Flatten before it, or move this layer up, or add an Unflatten before it "
            f"(e.g. shape={_image_like(shape[0])})")


SEQUENCE_TYPES = ("PositionalEncoding", "SelfAttention", "TransformerBlock", "SequencePool", "RNN", "LSTM", "GRU")
IMAGE_TYPES = ("Conv2d", "MaxPool2d", "AvgPool2d", "ConvTranspose2d", "Upsample", "Patchify")


def _make(kind: str, args: dict, shape: tuple, where: str, points: bool, flat_from: tuple | None = None,
          vocab: int = 0, tokens: bool = False, data_shape: tuple | None = None):
    """(module, out_shape) for one layer applied to an input of shape (no batch dim).
    vocab: the data set's vocabulary (0: its inputs are not tokens); tokens: this layer's input still
    holds token ids (only an Embedding takes them; _walk refuses the rest); data_shape: the data set's
    input shape, for Embedding's message."""
    _check_rank(kind, shape, where, points)
    if kind == "Embedding":
        return _embedding(args, shape, where, vocab, tokens, data_shape or shape)
    if kind == "Linear":
        return _linear(args, shape, where, flat_from)
    if kind in ("Conv2d", "ConvTranspose2d"):
        return _conv(kind, args, shape, where)
    if kind in ("MaxPool2d", "AvgPool2d"):
        return _pool(kind, args, shape, where)
    if kind == "Upsample":
        return _upsample(args, shape, where)
    if kind == "Patchify":
        return _patchify(args, shape, where)
    if kind == "Flatten":
        return nn.Flatten(), (math.prod(shape),)
    if kind == "Unflatten":
        return _unflatten(args, shape, where)
    if kind == "Dropout":
        return _dropout(args, shape, where)
    if kind == "BatchNorm":
        return _batchnorm(shape, where)
    if kind == "LayerNorm":
        return nn.LayerNorm(shape[-1] if len(shape) == 2 else list(shape)), shape   # sequences: over D only
    if kind == "LeakyReLU":
        return _leaky_relu(args, shape, where)
    if kind in SEQUENCE_TYPES:
        return _make_sequence(kind, args, shape, where)
    if kind == "Latent":
        return _latent(args, shape, where)
    return getattr(nn, kind)(), shape           # ReLU, GELU, Tanh, Sigmoid


def _check_rank(kind: str, shape: tuple, where: str, points: bool) -> None:
    """An image layer needs a CxHxW input, a sequence layer an LxD one."""
    if kind in IMAGE_TYPES and len(shape) != 3:
        raise ShapeError(f"{where}: expects an image (channels x height x width), gets {shape_text(shape)}; "
                         f"{_image_fix(shape, kind, points)}")
    if kind in SEQUENCE_TYPES and len(shape) != 2:
        raise ShapeError(f"{where}: expects a sequence (positions x features), gets {shape_text(shape)}; "
                         f"{_sequence_fix(shape, kind, points)}")


def _linear(args: dict, shape: tuple, where: str, flat_from: tuple | None):
    rank = len(shape)
    if rank == 3:
        raise ShapeError(f"{where}: expects a flat vector, gets {shape_text(shape)}; "
                         f"add a Flatten layer before it ({math.prod(shape)} features)")
    n_in = args["in_features"]
    if n_in is not None and n_in != shape[-1]:
        if rank == 2:
            came = f" per position ({shape[0]} positions x {shape[1]} features)"
        else:
            came = f" ({'x'.join(map(str, flat_from))} flattened)" if flat_from else ""
        raise ShapeError(f"{where}: expects {n_in} input features, gets {shape[-1]}{came}"
                         f"; set in_features={shape[-1]} (or leave it empty to infer it)")
    out = _pos_int(args, "out_features", where)
    if not isinstance(args["bias"], bool):
        raise ConfigError(f"{where}: bias={args['bias']!r} is not valid; set bias=True or bias=False")
    return nn.Linear(shape[-1], out, bias=args["bias"]), shape[:-1] + (out,)   # per position on (L, D)


def _conv(kind: str, args: dict, shape: tuple, where: str):
    """Conv2d or ConvTranspose2d on a CxHxW input."""
    c_in = args["in_channels"]
    if c_in is not None and c_in != shape[0]:
        raise ShapeError(f"{where}: expects {c_in} input channels, gets {shape[0]} ({shape_text(shape)})"
                         f"; set in_channels={shape[0]} (or leave it empty to infer it)")
    c = _pos_int(args, "out_channels", where)
    k, s = _pos_int(args, "kernel_size", where), _pos_int(args, "stride", where)
    p = _pos_int(args, "padding", where, allow_zero=True)
    if kind == "Conv2d":
        h = _window(shape[1], k, s, p, where, "kernel_size")
        w = _window(shape[2], k, s, p, where, "kernel_size")
        return nn.Conv2d(shape[0], c, k, s, p), (c, h, w)
    op = _pos_int(args, "output_padding", where, allow_zero=True)
    if op >= s:
        raise ConfigError(f"{where}: output_padding={op} must be smaller than stride={s}; "
                          f"set output_padding to {s - 1} or less")
    h, w = ((n - 1) * s - 2 * p + k + op for n in shape[1:])
    if min(h, w) < 1:
        raise ShapeError(f"{where}: padding {p} is too large for the {shape[1]}x{shape[2]} input "
                         f"(output would be {h}x{w}); lower padding or raise kernel_size")
    return nn.ConvTranspose2d(shape[0], c, k, s, p, op), (c, h, w)


def _pool(kind: str, args: dict, shape: tuple, where: str):
    """MaxPool2d or AvgPool2d; stride defaults to the kernel size."""
    k = _pos_int(args, "kernel_size", where)
    s = k if args["stride"] is None else _pos_int(args, "stride", where)
    h = _window(shape[1], k, s, 0, where, "kernel_size")
    w = _window(shape[2], k, s, 0, where, "kernel_size")
    return getattr(nn, kind)(k, s), (shape[0], h, w)


def _upsample(args: dict, shape: tuple, where: str):
    f = _positive(args, "scale_factor", where, 2)
    mode = _choice(args, "mode", where, ("nearest", "bilinear"))
    h, w = (math.floor(n * f) for n in shape[1:])
    if min(h, w) < 1:
        raise ShapeError(f"{where}: scale_factor {f} shrinks the {shape[1]}x{shape[2]} input to {h}x{w}; "
                         f"use a larger scale_factor")
    extra = {"align_corners": False} if mode == "bilinear" else {}
    return nn.Upsample(scale_factor=f, mode=mode, **extra), (shape[0], h, w)


def _patchify(args: dict, shape: tuple, where: str):
    p = _pos_int(args, "patch_size", where)
    _, H, W = shape
    if H % p or W % p:
        common = _divisors(math.gcd(H, W))
        sides = str(H) if H == W else f"both {H} and {W}"
        fix = (f"pick a divisor of {sides}, e.g. {', '.join(f'patch_size={d}' for d in common[:4])}"
               if common else "the sides share no divisor but 1: use patch_size=1 (one patch per pixel)")
        raise ShapeError(f"{where}: patch_size {p} does not divide the {H}x{W} image into whole patches; {fix}")
    return blocks.Patchify(p), ((H // p) * (W // p), shape[0] * p * p)


def _unflatten(args: dict, shape: tuple, where: str):
    dims = _parse_shape(args["shape"], where)
    if len(shape) != 1:
        raise ShapeError(f"{where}: expects a flat vector, gets {shape_text(shape)}; "
                         f"add a Flatten layer before it ({math.prod(shape)} features)")
    if math.prod(dims) != shape[0]:
        want = "x".join(map(str, dims))
        raise ShapeError(f"{where}: shape {want} holds {math.prod(dims)} values, but the input has "
                         f"{shape[0]} features; make the layer before output {math.prod(dims)} features "
                         f"(e.g. Linear out_features={math.prod(dims)}), or pick a shape of {shape[0]} values "
                         f"(e.g. shape={_image_like(shape[0])})")
    return nn.Unflatten(1, dims), dims


def _dropout(args: dict, shape: tuple, where: str):
    p = args["p"]
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
        raise ConfigError(f"{where}: p={p!r} is not valid; set p to a drop probability from 0 to 0.9")
    return Dropout(float(p)), shape


def _batchnorm(shape: tuple, where: str):
    rank = len(shape)
    if rank == 2:
        raise ShapeError(f"{where}: BatchNorm would mix the positions of a sequence ({shape_text(shape)}); "
                         f"use LayerNorm for sequences")
    return (nn.BatchNorm1d(shape[0]) if rank == 1 else nn.BatchNorm2d(shape[0])), shape


def _leaky_relu(args: dict, shape: tuple, where: str):
    slope = args["negative_slope"]
    if isinstance(slope, bool) or not isinstance(slope, (int, float)):
        raise ConfigError(f"{where}: negative_slope={slope!r} is not valid; set a number such as 0.01")
    return nn.LeakyReLU(float(slope)), shape


def _embedding(args: dict, shape: tuple, where: str, vocab: int, tokens: bool, data_shape: tuple):
    if not tokens:
        if vocab:
            what = (f"token ids, but the layers before made them {shape_text(shape)}; "
                    f"use one Embedding, as the first layer")
        elif len(data_shape) == 3:
            what = f"{shape_text(data_shape)} images, not tokens; use Patchify to make a sequence of patches"
        else:
            what = f"{shape_text(data_shape)}, not tokens; use Linear instead"
        raise ShapeError(f"{where}: needs token ids; this data set's inputs are {what}")
    d = _pos_int(args, "embedding_dim", where)
    n = vocab if args["num_embeddings"] is None else _pos_int(args, "num_embeddings", where)
    if n < vocab:
        raise ConfigError(f"{where}: num_embeddings={n} is smaller than the vocabulary ({vocab} token values); "
                          f"set num_embeddings={vocab} (or leave it empty to infer it)")
    return nn.Embedding(n, d), (shape[0], d)


def _heads(args: dict, dim: int, where: str) -> tuple:
    h = _pos_int(args, "heads", where)
    if args["head_size"] is not None:
        return h, _pos_int(args, "head_size", where)
    if dim % h:
        some = ", ".join(str(d) for d in [1] + _divisors(dim)[:4])
        raise ConfigError(f"{where}: {dim} features do not split into {h} heads; set heads to a divisor of {dim} "
                          f"(e.g. {some}), or set head_size (e.g. head_size={max(1, dim // h)})")
    return h, dim // h


def _make_sequence(kind: str, args: dict, shape: tuple, where: str):
    """Layers on a sequence (L, D)."""
    L, D = shape
    if kind == "PositionalEncoding":
        k = _choice(args, "kind", where, ("sinusoidal", "learned"))
        return (blocks.SinusoidalPositions(L, D) if k == "sinusoidal" else blocks.LearnedPositions(L, D)), shape
    if kind == "SelfAttention":
        h, hs = _heads(args, D, where)
        return blocks.SelfAttention(D, h, hs, _bool(args, "causal", where), _bool(args, "scale", where)), shape
    if kind == "TransformerBlock":
        h, hs = _heads(args, D, where)
        ratio = args["mlp_ratio"]
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not math.isfinite(ratio) or \
                ratio < 0 or (ratio > 0 and int(ratio * D) < 1):
            raise ConfigError(f"{where}: mlp_ratio={ratio!r} is not valid; set mlp_ratio to 0 (attention only, no "
                              f"MLP) or to {1 / D:.3g} or more (4 is usual)")
        norm = _choice(args, "norm", where, ("pre", "post"))
        p = args["dropout"]
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1:
            raise ConfigError(f"{where}: dropout={p!r} is not valid; set dropout to a drop probability from 0 to 0.9")
        return blocks.TransformerBlock(D, h, hs, ratio, norm, _bool(args, "causal", where), float(p),
                                       _bool(args, "scale", where)), shape
    if kind == "SequencePool":
        return blocks.SequencePool(_choice(args, "mode", where, ("mean", "first"))), (D,)
    # RNN, LSTM, GRU
    hidden, layers = _pos_int(args, "hidden_size", where), _pos_int(args, "num_layers", where)
    bi = _bool(args, "bidirectional", where)
    output = _choice(args, "output", where, ("last", "sequence"))
    width = hidden * (2 if bi else 1)
    module = getattr(blocks, kind)(D, hidden, layers, bi, output)
    return module, ((L, width) if output == "sequence" else (width,))


def _latent(args: dict, shape: tuple, where: str):
    variational = _bool(args, "variational", where)
    if len(shape) != 1:
        fix = ("add SequencePool (or Flatten) before it" if len(shape) == 2 else
               f"add Flatten before it ({math.prod(shape)} features), then a Linear to the code size")
        raise ShapeError(f"{where}: expects a flat vector (the code), gets {shape_text(shape)}; {fix}")
    if not variational:
        return blocks.Latent(False), shape
    if shape[0] % 2:
        raise ShapeError(f"{where}: a variational Latent splits its input in two, but gets {shape[0]} features "
                         f"(odd); the layer before must output 2 x the latent size: mean and log-variance "
                         f"(e.g. out_features={shape[0] + 1})")
    return blocks.Latent(True), (shape[0] // 2,)


def _walk(layers: list, input_shape: tuple, device: str | None = None, vocab: int = 0):
    """(index, spec, module, out_shape) per layer. device="meta" builds the modules without storage:
    shapes and parameter counts are exact, nothing is allocated (a 200,000 x 200,000 Linear is free).
    vocab > 0: the input (L,) holds token ids in [0, vocab); the first layer must be an Embedding."""
    shape, flat_from = tuple(input_shape), None
    tokens = vocab > 0                          # the tensor flowing in still holds token ids
    points = len(input_shape) == 1 and not tokens
    for i, spec in enumerate(layers):
        where = f"layer {i + 1} ({spec.get('type')})"
        args = full_args(spec, i + 1)
        if tokens and spec["type"] != "Embedding":
            raise ShapeError(f"{where}: the input is a sequence of token ids ({shape[0]} tokens from a vocabulary "
                             f"of {vocab}); start with an Embedding layer (e.g. embedding_dim=32)")
        before = shape
        with torch.device(device) if device else contextlib.nullcontext():   # only around construction
            module, shape = _make(spec["type"], args, shape, where, points, flat_from,
                                  vocab, tokens, tuple(input_shape))
        tokens = False
        if spec["type"] == "Flatten" and len(before) > 1:
            flat_from = before                  # remembered to explain a later Linear's input size
        elif spec["type"] == "Linear" or len(shape) != 1:
            flat_from = None
        yield i, spec, module, shape


def summarize(layers: list, input_shape: tuple, num_classes: int | None = None, vocab: int = 0) -> list[LayerRow]:
    """One row per layer: output shape and parameter count. Raises ShapeError / ConfigError.
    Allocates no weights (built on the meta device). vocab > 0: the inputs are token ids (see _walk)."""
    return _build(layers, input_shape, num_classes, device="meta", vocab=vocab)[1]


def summarize_partial(layers: list, input_shape: tuple, num_classes: int | None = None, vocab: int = 0):
    """(rows, error, bad_index): the rows up to the first refused layer, its message and 0-based
    index (None when the whole network fits, or when the problem is the network's end).
    Allocates no weights (built on the meta device)."""
    rows = []
    try:
        for i, spec, module, shape in _walk(layers, input_shape, device="meta", vocab=vocab):
            rows.append(LayerRow(i + 1, spec["type"], layer_args_text(spec), shape,
                                 sum(p.numel() for p in module.parameters())))
        _build(layers, input_shape, num_classes, device="meta", vocab=vocab)
    except (ShapeError, ConfigError) as e:
        bad = len(rows) if len(rows) < len(layers) else None
        return rows, str(e), bad
    return rows, None, None


def build_model(layers: list, input_shape: tuple, num_classes: int | None = None, device: str | None = None,
                vocab: int = 0):
    """(nn.Sequential, rows). The last layer must output num_classes scores (the logits); None: not checked.
    device=None builds on the CPU; device="meta" gives the same modules, shapes and counts without
    storage (what models/budget.py measures before anything is allocated). vocab > 0: the inputs
    (shape (L,)) are token ids in [0, vocab), and the first layer must be an Embedding."""
    return _build(layers, input_shape, num_classes, device, vocab=vocab)


def _build(layers, input_shape, num_classes, device: str | None = None, vocab: int = 0):
    if not layers:
        raise ConfigError("the network is empty; add layers or load a preset")
    modules, rows = [], []
    for i, spec, module, shape in _walk(layers, input_shape, device, vocab=vocab):
        modules.append(module)
        rows.append(LayerRow(i + 1, spec["type"], layer_args_text(spec), shape,
                             sum(p.numel() for p in module.parameters())))
    if num_classes is not None and shape != (num_classes,):
        raise ShapeError(f"the network ends with {shape_text(shape)}, but the data set has {num_classes} classes, "
                         f"so it must end with {num_classes} features (one score per class); "
                         f"{end_fix(rows, num_classes)}")
    return nn.Sequential(*modules), rows


def end_fix(rows: list[LayerRow], n: int) -> str:
    """How to make a network whose last row is rows[-1] end with n features."""
    last = rows[-1]
    if len(last.out_shape) == 1 and last.type == "Linear":
        return f"set out_features={n} on layer {last.index} (Linear)"
    if len(last.out_shape) == 1:
        return f"add a final Linear with out_features={n}"
    if len(last.out_shape) == 2:
        return f"end with SequencePool and Linear(out_features={n})"
    return f"end with Flatten and Linear(out_features={n})"
