"""Weight initialisation with a per-run generator (deterministic even with runs in other threads)."""
from __future__ import annotations

import math

import torch
from torch import nn

from playground.models.blocks import LearnedPositions


@torch.no_grad()
def apply_init(model: nn.Module, scheme: str, generator: torch.Generator) -> None:
    """Re-initialise every Linear, Conv2d and ConvTranspose2d of model with scheme, and redraw the
    other random weights from generator with PyTorch's defaults, whatever the scheme.

    default: PyTorch's own (Kaiming-uniform with a=sqrt(5), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)));
    xavier: Glorot-uniform, bias 0; he: Kaiming-normal for ReLU (fan_in), bias 0; normal: N(0, 1), bias 0;
    ones: every weight 1, bias 0 (the notes' hand-worked examples; equal weights never break symmetry).
    Always: Embedding N(0, 1); RNN/LSTM/GRU every weight and bias U(-1/sqrt(hidden), 1/sqrt(hidden));
    learned positional encodings N(0, 0.02). (SelfAttention's projections are Linears: scheme.)
    LayerNorm/BatchNorm start at weight 1, bias 0 and are left alone.
    """
    if scheme not in ("default", "xavier", "he", "normal", "ones"):
        raise ValueError(f"unknown init scheme {scheme!r}")
    for m in model.modules():
        if isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 1.0, generator=generator)
        elif isinstance(m, nn.RNNBase):
            bound = 1 / math.sqrt(m.hidden_size)
            for w in m.parameters():
                nn.init.uniform_(w, -bound, bound, generator=generator)
        elif isinstance(m, LearnedPositions):
            nn.init.normal_(m.pe, 0.0, 0.02, generator=generator)
        elif isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            _init_weight_bias(m.weight, m.bias, scheme, generator)


def _init_weight_bias(w, b, scheme: str, generator: torch.Generator) -> None:
    # fan_in is w.size(1) x kernel: in_features, in_channels x k x k (ConvTranspose2d: out_channels x k x k,
    # as PyTorch's own reset_parameters has it)
    if scheme == "default":
        nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=generator)
        if b is not None:
            fan_in = w[0].numel()
            bound = 1 / math.sqrt(fan_in)
            nn.init.uniform_(b, -bound, bound, generator=generator)
        return
    if scheme == "xavier":
        nn.init.xavier_uniform_(w, generator=generator)
    elif scheme == "he":
        nn.init.kaiming_normal_(w, nonlinearity="relu", generator=generator)
    elif scheme == "ones":
        nn.init.ones_(w)
    else:
        nn.init.normal_(w, 0.0, 1.0, generator=generator)
    if b is not None:
        nn.init.zeros_(b)
