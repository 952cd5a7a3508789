"""Weight initialisation with a per-run generator (deterministic even with runs in other threads)."""
from __future__ import annotations

import math

import torch
from torch import nn


@torch.no_grad()
def apply_init(model: nn.Module, scheme: str, generator: torch.Generator) -> None:
    """Re-initialise every Linear and Conv2d of model.

    default: PyTorch's own (Kaiming-uniform with a=sqrt(5), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)));
    xavier: Glorot-uniform, bias 0; he: Kaiming-normal for ReLU (fan_in), bias 0; normal: N(0, 1), bias 0.
    """
    for m in model.modules():
        if not isinstance(m, (nn.Linear, nn.Conv2d)):
            continue
        w, b = m.weight, m.bias
        if scheme == "default":
            nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=generator)
            if b is not None:
                fan_in = w[0].numel()
                bound = 1 / math.sqrt(fan_in)
                nn.init.uniform_(b, -bound, bound, generator=generator)
            continue
        if scheme == "xavier":
            nn.init.xavier_uniform_(w, generator=generator)
        elif scheme == "he":
            nn.init.kaiming_normal_(w, nonlinearity="relu", generator=generator)
        elif scheme == "normal":
            nn.init.normal_(w, 0.0, 1.0, generator=generator)
        else:
            raise ValueError(f"unknown init scheme {scheme!r}")
        if b is not None:
            nn.init.zeros_(b)
