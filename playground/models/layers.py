"""The layer catalogue: each type's editable arguments with their defaults (PyTorch's names).

A layer spec is a flat dict: {"type": "Conv2d", "out_channels": 8, "kernel_size": 3}. Arguments left
out take the defaults below; None means "inferred from the input" (in_features, in_channels,
num_embeddings, head_size). The modules of the sequence and autoencoder types are in blocks.py.
"""
from __future__ import annotations

import torch
from torch import nn

from playground.errors import ConfigError

LAYERS: dict[str, dict] = {
    "Linear": {"out_features": 16, "in_features": None, "bias": True},
    "Conv2d": {"out_channels": 8, "kernel_size": 3, "stride": 1, "padding": 0, "in_channels": None},
    "MaxPool2d": {"kernel_size": 2, "stride": None},
    "AvgPool2d": {"kernel_size": 2, "stride": None},
    "Flatten": {},
    "Dropout": {"p": 0.5},
    "BatchNorm": {},              # BatchNorm1d on vectors, BatchNorm2d on images
    "LayerNorm": {},              # over every non-batch dimension; on sequences (L, D) over D only
    "ReLU": {},
    "LeakyReLU": {"negative_slope": 0.01},
    "GELU": {},
    "Tanh": {},
    "Sigmoid": {},
    # sequences (L, D): L positions of D features; token ids (L,) come first through an Embedding
    "Embedding": {"embedding_dim": 32, "num_embeddings": None},     # None = the data set's vocabulary
    "PositionalEncoding": {"kind": "sinusoidal"},                   # or "learned"
    "SelfAttention": {"heads": 1, "head_size": None, "causal": False, "scale": True},   # head_size None = D // heads
    "TransformerBlock": {"heads": 1, "head_size": None, "mlp_ratio": 4, "norm": "pre", "causal": False,
                         "dropout": 0.0, "scale": True},            # norm: "pre" or "post"; mlp_ratio 0: attention only
    "Patchify": {"patch_size": 7},                                  # image -> sequence of patches
    "SequencePool": {"mode": "mean"},                               # sequence -> vector; or "first"
    "RNN": {"hidden_size": 32, "num_layers": 1, "bidirectional": False, "output": "last"},   # or "sequence"
    "LSTM": {"hidden_size": 32, "num_layers": 1, "bidirectional": False, "output": "last"},
    "GRU": {"hidden_size": 32, "num_layers": 1, "bidirectional": False, "output": "last"},
    # autoencoders: Latent marks the code between encoder and decoder
    "Latent": {"variational": False},                               # True: 2k inputs (mean, log-variance) -> k
    "Unflatten": {"shape": "8x7x7"},                                # vector -> shape ("CxHxW", or "LxD")
    "ConvTranspose2d": {"out_channels": 8, "kernel_size": 2, "stride": 2, "padding": 0, "output_padding": 0,
                        "in_channels": None},
    "Upsample": {"scale_factor": 2, "mode": "nearest"},            # or "bilinear"
}
ACTIVATIONS = ("ReLU", "LeakyReLU", "GELU", "Tanh", "Sigmoid")


class Dropout(nn.Module):
    """nn.Dropout with its own torch.Generator, so concurrent runs stay deterministic.

    nn.Dropout draws from the process-wide default generator, which runs in other threads share.
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"p must be in [0, 1), got {p}")
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = torch.empty_like(x).bernoulli_(1 - self.p, generator=self.generator)
        return x * keep / (1 - self.p)

    def extra_repr(self):
        return f"p={self.p}"


def full_args(spec: dict, index: int) -> dict:
    """The spec's arguments merged over the type's defaults; unknown types/arguments raise."""
    kind = spec.get("type")
    if kind not in LAYERS:
        raise ConfigError(f"layer {index} ({kind}): unknown layer type; pick one of {', '.join(LAYERS)}")
    unknown = sorted(set(spec) - set(LAYERS[kind]) - {"type"})
    if unknown:
        known = ", ".join(LAYERS[kind]) or "none"
        raise ConfigError(f"layer {index} ({kind}): unknown argument(s) {', '.join(unknown)}; its arguments: {known}")
    return {**LAYERS[kind], **{k: v for k, v in spec.items() if k != "type"}}


def layer_args_text(spec: dict) -> str:
    """The spec's non-default arguments as "key=value, ..." (what the layer editor shows)."""
    defaults = LAYERS.get(spec.get("type"), {})
    shown = {k: spec.get(k, v) for k, v in defaults.items() if not (v is None and spec.get(k) is None)}
    return ", ".join(f"{k}={v}" for k, v in shown.items())


def parse_layer_args(kind: str, text: str, index: int) -> dict:
    """Parse "out_features=32, bias=False" into a spec dict for layer type kind."""
    spec = {"type": kind}
    for part in filter(None, (p.strip() for p in text.replace(";", ",").split(","))):
        key, sep, raw = (s.strip() for s in part.partition("="))
        if not sep or not key:
            raise ConfigError(f"layer {index} ({kind}): cannot read '{part}'; write arguments as name=value, "
                              f"e.g. {layer_args_text({'type': kind}) or 'nothing: this layer has no arguments'}")
        spec[key] = _literal(raw)
    full_args(spec, index)                          # reject unknown arguments now
    return spec


def _literal(raw: str):
    low = raw.lower()
    if low in ("none", "auto", ""):
        return None
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    return raw
