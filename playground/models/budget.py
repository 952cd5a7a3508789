"""A run's memory and size budget, worked out before anything is allocated.

estimate() builds the network on the meta device (exact shapes and parameter counts, no storage) and
adds up what training holds at once; check_budget() refuses a run that would take more than half the
memory free on its device, or more parameters than the server allows (PLAYGROUND_MAX_PARAMS), and
names the biggest layer and the fix. Figures are float32 (4 bytes a value) and rough on purpose:
mixed precision and PyTorch's caching allocator move them by tens of percent, never by the factors
of a thousand this guard is for (a 200,000 x 200,000 Linear asks for 800 GB).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import torch

from playground.config import EVAL_BATCH, GRID, RunConfig
from playground.device import resolve_device
from playground.errors import ConfigError, DeviceError
from playground.models import blocks
from playground.models.build import build_model, shape_text

BYTES = 4                       # float32: bytes per weight, gradient, optimizer slot and activation
LABEL_BYTES = 8                 # int64 class index per sample
TOKEN_BYTES = 8                 # int64 token id per input position (token sequence sets)
MEMORY_FRACTION = 0.5           # one run may take at most this share of the memory free on its device
MAX_PARAMS = 50_000_000         # default parameter cap; the env var below overrides it (0 = no cap)
MAX_PARAMS_ENV = "PLAYGROUND_MAX_PARAMS"

# Optimizer state per parameter (PyTorch): Adam's exp_avg and exp_avg_sq, SGD's momentum_buffer,
# RMSprop's square_avg, Adagrad's sum; plain SGD keeps nothing.
OPTIMIZER_SLOTS = {"sgd": 0, "momentum": 1, "nesterov": 1, "rmsprop": 1, "adagrad": 1, "adam": 2, "adamw": 2}
_SLOT_TEXT = {"sgd": "", "momentum": ", the momentum buffer", "nesterov": ", the momentum buffer",
              "rmsprop": ", RMSprop's running average of g^2", "adagrad": ", Adagrad's sum of g^2",
              "adam": ", Adam's two moments", "adamw": ", AdamW's two moments"}
_NAMES = {"sgd": "SGD", "momentum": "SGD with momentum", "nesterov": "Nesterov", "rmsprop": "RMSprop",
          "adagrad": "Adagrad", "adam": "Adam", "adamw": "AdamW"}


@dataclass
class LayerCost:
    index: int              # 1-based, as the page shows it
    type: str
    params: int
    inputs: int             # values per sample coming in
    outputs: int            # values per sample it stores (0 for Flatten: a view)
    weights_text: str       # "200,000 x 200,000 = 40,000,000,000 weights"
    out_shape: tuple
    inner: int = 0          # values per sample held inside the layer for backward (attention scores, gates)
    kept: int = 0           # of those, values per sample it keeps after its forward (SelfAttention.last_weights)


@dataclass
class Estimate:
    """Bytes a run holds at its peak, by component; total is what check_budget compares."""
    parameters: int         # trainable values
    weights: int            # parameters (and BatchNorm's running statistics) on the device
    checkpoint: int         # CPU copies the engine keeps: the latest weights (for inspectors), and the
                            # weights and optimizer state of the checkpoint being taken (for resume)
    gradients: int          # one per parameter
    optimizer: int          # OPTIMIZER_SLOTS[name] per parameter
    activations: int        # one training step: the input batch + 2 x every layer's output (backward)
    evaluation: int         # peak of one no-grad batch: a layer's input and output at once
    data: int               # the data set's tensors: inputs and labels, training and validation
    batch: int              # samples per training step (batch_size, or the training set if smaller)
    eval_batch: int         # samples per no-grad pass (EVAL_BATCH, or the GRID x GRID grid on 2-D data)
    layers: list = field(default_factory=list)   # LayerCost per layer
    input_bytes: int = BYTES                       # per input value: float32, or int64 token ids

    @property
    def fixed(self) -> int:
        """Bytes that scale with the parameters: weights, gradients, optimizer state, checkpoint copies."""
        return self.weights + self.gradients + self.optimizer + self.checkpoint

    @property
    def total(self) -> int:
        # training and evaluation take turns, so only the larger of the two counts
        return self.fixed + max(self.activations, self.evaluation) + self.data


def size_text(n: float) -> str:
    """Bytes in decimal units: 640000000000 -> "640 GB", 1234567 -> "1.2 MB"."""
    for unit, f in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= f:
            v = n / f
            return f"{v:,.0f} {unit}" if v >= 10 else f"{v:.1f} {unit}"
    return f"{n:.0f} bytes"


def _weights_text(module: torch.nn.Module, params: int) -> str:
    if isinstance(module, torch.nn.Linear):
        n = module.in_features * module.out_features
        return f"{module.in_features:,} x {module.out_features:,} = {n:,} weights"
    if isinstance(module, torch.nn.Conv2d):
        n = module.weight.numel()
        k = "x".join(map(str, module.kernel_size))
        return f"{module.out_channels:,} x {module.in_channels:,} x {k} = {n:,} weights"
    return f"{params:,} parameters"


def _inner(module: torch.nn.Module, in_shape: tuple) -> tuple[int, int]:
    """(inner, kept) values per sample of a layer whose intermediate tensors outweigh its output."""
    if isinstance(module, blocks.SelfAttention):
        L, _ = in_shape
        h, hd = module.heads, module.heads * module.head_size
        return 4 * L * hd + 2 * h * L * L, h * L * L          # q, k, v, context; scores, weights
    if isinstance(module, blocks.TransformerBlock):
        L, D = in_shape
        attn, kept = _inner(module.attn, in_shape)
        if module.mlp is None:                                 # attention only: a norm, attn out, the sum
            return attn + 3 * L * D, kept
        hidden = module.mlp[0].out_features
        return attn + 6 * L * D + 2 * L * hidden, kept        # 2 norms, attn out, sum, MLP out, sum; Linear, GELU
    if isinstance(module, blocks.Recurrent):
        L, _ = in_shape
        rnn = module.rnn
        gates = {"LSTM": 5, "GRU": 4}.get(rnn.mode, 1)        # gate values per unit and step (LSTM: + cell)
        dirs = 2 if rnn.bidirectional else 1
        return L * rnn.hidden_size * dirs * rnn.num_layers * (gates + 1), 0
    return 0, 0


def estimate(config: RunConfig, input_shape: tuple, num_classes: int | None, n_train: int,
             n_val: int | None = None, vocab: int = 0, built: tuple | None = None) -> Estimate:
    """Memory a run of config needs, without allocating (the network is built on the meta device).
    n_val: validation samples; None derives it from data.val_fraction. vocab > 0: the inputs are token
    ids (as build_model). Raises the same ShapeError / ConfigError as build_model for a network that
    does not fit the data. built: the (model, rows) build_model already made on the meta device for
    these layers and input shape, so that a run's network is built on it once."""
    model, rows = built or build_model(config.layers, tuple(input_shape), num_classes, device="meta", vocab=vocab)
    n_in = math.prod(input_shape)
    layers, came, shape = [], n_in, tuple(input_shape)
    for module, row in zip(model, rows):
        out = 0 if row.type == "Flatten" else math.prod(row.out_shape)
        inner, kept = _inner(module, shape)
        layers.append(LayerCost(row.index, row.type, row.params, came, out,
                                _weights_text(module, row.params), row.out_shape, inner, kept))
        came, shape = math.prod(row.out_shape), row.out_shape
    params = sum(r.params for r in rows)
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    if n_val is None:
        vf = config.data.val_fraction
        n_val = round(n_train * vf / (1 - vf))
    batch = max(1, min(config.batch_size, n_train))
    eval_batch = max(min(EVAL_BATCH, n_val), GRID * GRID if tuple(input_shape) == (2,) and not vocab else 0)
    per_sample = n_in + sum(2 * c.outputs + c.inner for c in layers)
    peak = max(c.inputs + c.outputs + c.inner for c in layers) + sum(c.kept for c in layers)
    in_bytes = TOKEN_BYTES if vocab else BYTES
    weights = params * BYTES + buffers
    optimizer = OPTIMIZER_SLOTS.get(config.optim.name, 2) * params * BYTES
    return Estimate(
        parameters=params, weights=weights, gradients=params * BYTES, optimizer=optimizer,
        checkpoint=2 * weights + optimizer,
        activations=batch * per_sample * BYTES, evaluation=eval_batch * peak * BYTES,
        data=(n_train + n_val) * (n_in * in_bytes + LABEL_BYTES), batch=batch, eval_batch=eval_batch,
        layers=layers, input_bytes=in_bytes)


def available_memory(device: str = "auto") -> tuple[int | None, str]:
    """(bytes free, where) on the device a config's `device` resolves to; None when unknown."""
    try:
        dev = resolve_device(device)
    except DeviceError:             # prepare() says so with its own message; size against the CPU here
        dev = torch.device("cpu")
    if dev.type == "cuda":
        return torch.cuda.mem_get_info(dev)[0], "the GPU"
    try:
        import psutil
    except ImportError:             # listed in requirements.txt; without it only the parameter cap holds
        return None, "this machine"
    return psutil.virtual_memory().available, "this machine"


def max_params() -> int:
    """The parameter cap: PLAYGROUND_MAX_PARAMS if set (0 = no cap), else MAX_PARAMS."""
    raw = os.environ.get(MAX_PARAMS_ENV, "").strip()
    if not raw:
        return MAX_PARAMS
    try:
        cap = int(float(raw.replace("_", "").replace(",", "")))
    except (ValueError, OverflowError):
        cap = -1
    if cap < 0:
        raise ConfigError(f"{MAX_PARAMS_ENV}={raw!r} is not a parameter count; set it to a whole number "
                          f"such as {MAX_PARAMS} (0 = no cap), or unset it for the default")
    return cap


def check_budget(config: RunConfig, input_shape: tuple, num_classes: int | None, n_train: int,
                 available: int | None = None, n_val: int | None = None, vocab: int = 0,
                 built: tuple | None = None) -> Estimate:
    """The estimate, or ConfigError when it exceeds MEMORY_FRACTION of the free memory (available
    bytes if given, else what the config's device has free) or the parameter cap. The message names
    the total, what dominates it (parameters, batch activations, evaluation or data), the biggest
    layer and the fix. vocab > 0: the inputs are token ids (as build_model)."""
    est = estimate(config, input_shape, num_classes, n_train, n_val, vocab, built)
    where = "this machine"
    if available is None:
        available, where = available_memory(config.device)
    if available is not None and est.total > available * MEMORY_FRACTION:
        raise ConfigError(_too_big(est, config, tuple(input_shape), available, where))
    cap = max_params()
    if cap and est.parameters > cap:
        big = max(est.layers, key=lambda c: c.params)
        optimizer = _NAMES.get(config.optim.name, config.optim.name)
        raise ConfigError(f"the network has {est.parameters:,} parameters (about {size_text(est.fixed)} to train "
                          f"with {optimizer}), more than this server allows ({cap:,}, set by {MAX_PARAMS_ENV}); "
                          f"the biggest layer is layer {big.index} ({big.type}, {big.weights_text}): make it smaller")
    return est


def _too_big(est: Estimate, config: RunConfig, input_shape: tuple, available: int, where: str) -> str:
    limit = available * MEMORY_FRACTION
    has = f"{where} has {size_text(available)} free and one run may use half of that"
    parts = {"params": est.fixed, "train": est.activations, "eval": est.evaluation, "data": est.data}
    worst = max(parts, key=parts.get)
    if worst == "params":
        big = max(est.layers, key=lambda c: c.params)
        return (f"the network needs about {size_text(est.total)} ({est.parameters:,} parameters: the weights, the "
                f"gradients{_SLOT_TEXT.get(config.optim.name, '')} and their checkpoint copies, at 4 bytes each) "
                f"but {has}; the biggest layer is layer {big.index} ({big.type}, {big.weights_text}): make it smaller")
    if worst == "train":
        big = _to_shrink(est.layers, lambda c: 2 * c.outputs + c.inner)
        per_sample = est.activations // est.batch
        fits = int((limit - est.fixed - est.data) // per_sample)
        if fits >= 1 and est.fixed + est.data + est.evaluation <= limit:
            fix = f"lower batch_size to {2 ** int(math.log2(fits)):,} or fewer, or make that layer smaller"
        elif est.data > est.fixed:
            fix = (f"make that layer smaller and use fewer samples ({_samples_knob(input_shape)}): "
                   f"the data alone take {size_text(est.data)}")
        else:
            fix = "make that layer smaller: the weights alone leave no room for a batch"
        return (f"one training batch needs about {size_text(est.activations)} of activations (batch_size "
                f"{est.batch:,} x {per_sample // BYTES:,} values per sample, kept for the backward pass), "
                f"{size_text(est.total)} in all, but {has}; the widest layer is {_out_text(big)}: {fix}")
    if worst == "eval":
        big = _to_shrink(est.layers, lambda c: c.inputs + c.outputs + c.inner)
        what = "the decision-boundary grid" if input_shape == (2,) else "validation, without gradients"
        return (f"evaluating {est.eval_batch:,} samples at a time ({what}) needs about {size_text(est.evaluation)}, "
                f"{size_text(est.total)} in all, but {has}; the widest layer is {_out_text(big)}: make it smaller")
    n = est.data // (math.prod(input_shape) * est.input_bytes + LABEL_BYTES)
    return (f"the data set needs about {size_text(est.data)} ({n:,} samples of {shape_text(input_shape, units=False)} "
            f"values), {size_text(est.total)} in all, but {has}; use fewer samples ({_samples_knob(input_shape)})")


def _to_shrink(layers: list, key) -> LayerCost:
    """The layer maximising key, or, when that one has no width of its own (ReLU, pooling, ...), the
    nearest layer before it that sets the width (Linear, Conv2d, attention, an RNN, ...)."""
    peak = max(range(len(layers)), key=lambda i: key(layers[i]))
    for c in reversed(layers[:peak + 1]):
        if c.type in WIDTH_TYPES:
            return c
    return layers[peak]


WIDTH_TYPES = ("Linear", "Conv2d", "ConvTranspose2d", "Embedding", "Patchify", "SelfAttention", "TransformerBlock",
               "RNN", "LSTM", "GRU")


def _out_text(c: LayerCost) -> str:
    n = math.prod(c.out_shape)
    shape = f"{shape_text(c.out_shape, units=False)} = {n:,}" if len(c.out_shape) > 1 else f"{n:,}"
    inside = f" out, {c.inner:,} inside" if c.inner else ""
    return f"layer {c.index} ({c.type}, {shape} values per sample{inside})"


def _samples_knob(input_shape: tuple) -> str:
    return "data.n_samples" if input_shape == (2,) else "data.max_train"
