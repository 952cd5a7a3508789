"""Layers for sequences, transformers, RNNs and autoencoders, one idea each.

Shapes include the batch dimension B: tokens (B, L) int64, sequences (B, L, D), images (B, C, H, W),
vectors (B, F). Every nonlinearity is its own module (attribution methods need one module per use),
and the few random draws take a generator of their own (the engine sets it), never the global RNG.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from playground.models.layers import Dropout


class SinusoidalPositions(nn.Module):
    """Adds the fixed sin/cos position code of "Attention is all you need": (B, L, D) -> (B, L, D).

    pe[t, 2i] = sin(t / 10000^(2i/D)), pe[t, 2i+1] = cos(t / 10000^(2i/D)). The code is a
    non-persistent buffer: computed from L and D, not saved in the state dict.
    """

    def __init__(self, length: int, dim: int):
        super().__init__()
        t = torch.arange(length, dtype=torch.float32).unsqueeze(1)                       # (L, 1)
        freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))  # (ceil(D/2),)
        pe = torch.zeros(length, dim)                                                     # (L, D)
        pe[:, 0::2] = torch.sin(t * freq)
        pe[:, 1::2] = torch.cos(t * freq[: dim // 2])
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x):
        return x + self.pe[: x.size(1)]                   # (B, L, D)


class LearnedPositions(nn.Module):
    """Adds a learned (L, D) table, initialised N(0, 0.02): (B, L, D) -> (B, L, D)."""

    def __init__(self, length: int, dim: int):
        super().__init__()
        self.pe = nn.Parameter(torch.empty(length, dim))  # (L, D)
        nn.init.normal_(self.pe, 0.0, 0.02)                # models.init.apply_init redraws it with the run's generator

    def forward(self, x):
        return x + self.pe[: x.size(1)]                   # (B, L, D)


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention, written out so the weights can be read:
    (B, L, D) -> (B, L, D).

    After each forward, last_weights holds the softmax weights per head, (B, heads, L, L), detached
    (no copy): row i is how much position i takes from each position j, and each row sums to 1.
    scale=False drops the 1/sqrt(head_size) scaling (to show what it is for). causal=True lets a
    position attend only to itself and earlier positions.
    """

    def __init__(self, dim: int, heads: int = 1, head_size: int | None = None, causal: bool = False,
                 scale: bool = True):
        super().__init__()
        self.heads = heads
        self.head_size = head_size or dim // heads
        self.causal, self.scale = causal, scale
        inner = heads * self.head_size
        self.query = nn.Linear(dim, inner)
        self.key = nn.Linear(dim, inner)
        self.value = nn.Linear(dim, inner)
        self.proj = nn.Linear(inner, dim)
        self.last_weights: torch.Tensor | None = None

    def forward(self, x):
        B, L, _ = x.shape
        h, hs = self.heads, self.head_size
        q = self.query(x).view(B, L, h, hs).transpose(1, 2)      # (B, h, L, hs)
        k = self.key(x).view(B, L, h, hs).transpose(1, 2)        # (B, h, L, hs)
        v = self.value(x).view(B, L, h, hs).transpose(1, 2)      # (B, h, L, hs)
        scores = q @ k.transpose(-2, -1)                          # (B, h, L, L)
        if self.scale:
            scores = scores / math.sqrt(hs)
        if self.causal:
            future = torch.ones(L, L, dtype=torch.bool, device=x.device).triu(1)   # (L, L): j > i
            scores = scores.masked_fill(future, float("-inf"))
        weights = F.softmax(scores, dim=-1)                       # (B, h, L, L), rows sum to 1
        self.last_weights = weights.detach()
        y = (weights @ v).transpose(1, 2).reshape(B, L, h * hs)   # (B, L, h*hs)
        return self.proj(y)                                       # (B, L, D)

    def extra_repr(self):
        return f"heads={self.heads}, head_size={self.head_size}, causal={self.causal}, scale={self.scale}"


class TransformerBlock(nn.Module):
    """Attention then an MLP, each with a residual connection and a LayerNorm: (B, L, D) -> (B, L, D).

    norm="pre" (GPT-2):  x = x + attn(ln1(x));  x = x + mlp(ln2(x))
    norm="post" (2017):  x = ln1(x + attn(x));  x = ln2(x + mlp(x))
    The MLP is Linear(D, mlp_ratio*D), GELU, Linear(mlp_ratio*D, D), with a GELU module of its own;
    mlp_ratio=0 leaves it out (an attention-only block: x = x + attn(ln1(x)), the circuit studied
    for induction heads). dropout > 0 drops on each branch's output before it is added (the attention
    weights are kept whole). scale=False drops the attention's 1/sqrt(head_size).
    """

    def __init__(self, dim: int, heads: int = 1, head_size: int | None = None, mlp_ratio: float = 4,
                 norm: str = "pre", causal: bool = False, dropout: float = 0.0, scale: bool = True):
        super().__init__()
        if norm not in ("pre", "post"):
            raise ValueError(f"norm must be 'pre' or 'post', got {norm!r}")
        self.norm = norm
        hidden = int(mlp_ratio * dim)
        self.ln1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads, head_size, causal, scale)
        self.drop1 = Dropout(dropout) if dropout > 0 else nn.Identity()
        if hidden:
            self.ln2 = nn.LayerNorm(dim)
            self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
            self.drop2 = Dropout(dropout) if dropout > 0 else nn.Identity()
        else:
            self.mlp = None

    def forward(self, x):                                              # (B, L, D)
        if self.norm == "pre":
            x = x + self.drop1(self.attn(self.ln1(x)))
            return x if self.mlp is None else x + self.drop2(self.mlp(self.ln2(x)))     # (B, L, D)
        x = self.ln1(x + self.drop1(self.attn(x)))
        return x if self.mlp is None else self.ln2(x + self.drop2(self.mlp(x)))         # (B, L, D)


class Patchify(nn.Module):
    """Cuts images into p x p patches, row-major (left to right, then down): (B, C, H, W) ->
    (B, H/p * W/p, C*p*p). Each patch's features are ordered (C, p, p), as F.unfold orders them."""

    def __init__(self, patch_size: int = 7):
        super().__init__()
        self.patch_size = patch_size

    def forward(self, x):
        B, C, H, W = x.shape
        p = self.patch_size
        x = x.reshape(B, C, H // p, p, W // p, p)                  # (B, C, nh, p, nw, p)
        x = x.permute(0, 2, 4, 1, 3, 5)                            # (B, nh, nw, C, p, p)
        return x.reshape(B, (H // p) * (W // p), C * p * p)        # (B, N, C*p*p)

    def extra_repr(self):
        return f"patch_size={self.patch_size}"


class SequencePool(nn.Module):
    """One vector per sequence: (B, L, D) -> (B, D). mode="mean" averages the positions,
    mode="first" takes position 0 (a class token's place)."""

    def __init__(self, mode: str = "mean"):
        super().__init__()
        if mode not in ("mean", "first"):
            raise ValueError(f"mode must be 'mean' or 'first', got {mode!r}")
        self.mode = mode

    def forward(self, x):
        return x.mean(dim=1) if self.mode == "mean" else x[:, 0]   # (B, D)

    def extra_repr(self):
        return f"mode={self.mode!r}"


class Recurrent(nn.Module):
    """nn.RNN / LSTM / GRU (batch_first) returning one tensor: (B, L, D) ->
    output="sequence": (B, L, H*dirs), every position's top-layer state;
    output="last": (B, H*dirs), the top layer's final hidden state h_n per direction, concatenated
    (forward: after the last position; backward: after reading back to the first)."""

    cell = nn.RNN

    def __init__(self, input_size: int, hidden_size: int = 32, num_layers: int = 1,
                 bidirectional: bool = False, output: str = "last"):
        super().__init__()
        if output not in ("last", "sequence"):
            raise ValueError(f"output must be 'last' or 'sequence', got {output!r}")
        self.output = output
        self.rnn = self.cell(input_size, hidden_size, num_layers, batch_first=True, bidirectional=bidirectional)

    def forward(self, x):                                    # (B, L, D)
        out, h = self.rnn(x)                                 # (B, L, H*dirs); h_n (layers*dirs, B, H)
        if self.output == "sequence":
            return out
        if isinstance(h, tuple):                             # LSTM: (h_n, c_n)
            h = h[0]
        if self.rnn.bidirectional:
            return torch.cat([h[-2], h[-1]], dim=-1)         # (B, 2H): top layer, forward then backward
        return h[-1]                                         # (B, H)

    def extra_repr(self):
        return f"output={self.output!r}"


class RNN(Recurrent):
    __doc__ = Recurrent.__doc__
    cell = nn.RNN


class LSTM(Recurrent):
    __doc__ = Recurrent.__doc__
    cell = nn.LSTM


class GRU(Recurrent):
    __doc__ = Recurrent.__doc__
    cell = nn.GRU


class Latent(nn.Module):
    """The bottleneck of an autoencoder: what comes before is the encoder, what follows the decoder.

    Plain: identity, (B, F) -> (B, F); last_mean holds the codes.
    Variational: (B, 2k) -> (B, k). The first k inputs are the mean, the last k the log-variance.
    In training z = mean + exp(logvar / 2) * eps, eps ~ N(0, I) drawn from self.generator (a
    torch.Generator the engine sets, or None for the global RNG), and self.kl is the batch mean of
    KL(N(mean, exp(logvar)) || N(0, I)) = 0.5 * sum(mean^2 + exp(logvar) - 1 - logvar) over the k
    dims, with grad (the loss adds kl_weight * kl / the values per example, so that both terms are
    per value and kl_weight 1 is the standard VAE). In eval z = mean: deterministic, no draw, kl kept
    from the last training forward. last_mean / last_logvar hold the last forward's, detached.
    """

    def __init__(self, variational: bool = False):
        super().__init__()
        self.variational = variational
        self.generator: torch.Generator | None = None
        self.kl: torch.Tensor | None = None
        self.last_mean: torch.Tensor | None = None
        self.last_logvar: torch.Tensor | None = None

    def forward(self, x):
        if not self.variational:
            self.last_mean = x.detach()
            return x                                                      # (B, F)
        mean, logvar = x.chunk(2, dim=-1)                                 # (B, k), (B, k)
        self.last_mean, self.last_logvar = mean.detach(), logvar.detach()
        if not self.training:
            return mean                                                   # (B, k)
        self.kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(dim=-1).mean()
        eps = torch.randn(mean.shape, generator=self.generator, dtype=mean.dtype, device=mean.device)
        return mean + torch.exp(0.5 * logvar) * eps                       # (B, k)

    def extra_repr(self):
        return f"variational={self.variational}"
