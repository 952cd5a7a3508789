"""playground/models/blocks.py and the layer types it adds to the catalogue: token input, Embedding,
positional encodings, attention, transformer blocks, patches, RNNs, autoencoder layers. Shapes and
parameter counts are worked out by hand in the comments; attention is checked against a reference."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from playground.config import RunConfig
from playground.errors import ConfigError, ShapeError
from playground.models import LAYERS, build_model, summarize, summarize_partial
from playground.models.blocks import (
    GRU,
    LSTM,
    Latent,
    LearnedPositions,
    Patchify,
    SelfAttention,
    SequencePool,
    SinusoidalPositions,
    TransformerBlock,
)
from playground.models.budget import estimate
from playground.models.init import apply_init
from playground.models.layers import Dropout

MNIST = (1, 28, 28)
TOKENS = (8,)                   # 8 token ids per sample ...
VOCAB = 10                      # ... from a vocabulary of 10


def L(type_, /, **kw):
    return {"type": type_, **kw}


def lin(n, **kw):
    return L("Linear", out_features=n, **kw)


EMB = L("Embedding", embedding_dim=16)          # (8,) token ids -> (8, 16)
AUTOENCODER = [L("Flatten"), lin(128), L("ReLU"), lin(64), L("ReLU"), lin(2), L("Latent"),
               lin(64), L("ReLU"), lin(128), L("ReLU"), lin(784), L("Sigmoid")]


def _rows(layers, shape=TOKENS, vocab=VOCAB):
    return [(r.out_shape, r.params) for r in summarize(layers, shape, vocab=vocab)]


# ----------------------------------------------------------------------------- shapes and parameter counts
def test_mnist_autoencoder_has_218514_parameters():
    rows = summarize(AUTOENCODER, MNIST)
    # 784*128+128 + 128*64+64 + 64*2+2 | 2*64+64 + 64*128+128 + 128*784+784
    assert [r.params for r in rows] == [0, 100480, 0, 8256, 0, 130, 0, 192, 0, 8320, 0, 101136, 0]
    assert sum(r.params for r in rows) == 218_514
    assert rows[6].type == "Latent" and rows[6].out_shape == (2,)
    assert rows[-1].out_shape == (784,)


@pytest.mark.parametrize("layers, expected", [
    ([EMB], [((8, 16), 10 * 16)]),
    ([L("Embedding", embedding_dim=4, num_embeddings=12)], [((8, 4), 48)]),          # spare rows are allowed
    ([EMB, L("PositionalEncoding")], [((8, 16), 160), ((8, 16), 0)]),                # sinusoidal: a buffer
    ([EMB, L("PositionalEncoding", kind="learned")], [((8, 16), 160), ((8, 16), 8 * 16)]),
    # q, k, v and out: 4 x (16*16 + 16)
    ([EMB, L("SelfAttention", heads=2)], [((8, 16), 160), ((8, 16), 4 * 272)]),
    # head_size 3 x 2 heads = 6: q, k, v 3 x (16*6 + 6), out 6*16 + 16
    ([EMB, L("SelfAttention", heads=2, head_size=3)], [((8, 16), 160), ((8, 16), 3 * 102 + 112)]),
    # 2 LayerNorms 2 x 32, attention 1088, MLP 16*64+64 + 64*16+16
    ([EMB, L("TransformerBlock", heads=4)], [((8, 16), 160), ((8, 16), 64 + 1088 + 1088 + 1040)]),
    ([EMB, L("TransformerBlock", mlp_ratio=0.5, norm="post")], [((8, 16), 160), ((8, 16), 64 + 1088 + 136 + 144)]),
    # attention only: one LayerNorm and the attention
    ([EMB, L("TransformerBlock", heads=2, mlp_ratio=0)], [((8, 16), 160), ((8, 16), 32 + 1088)]),
    ([EMB, L("SequencePool")], [((8, 16), 160), ((16,), 0)]),
    ([EMB, L("LayerNorm")], [((8, 16), 160), ((8, 16), 32)]),                       # over D only
    ([EMB, L("Flatten")], [((8, 16), 160), ((128,), 0)]),
    ([EMB, lin(5)], [((8, 16), 160), ((8, 5), 85)]),                                  # per position
    # RNN: W_ih 8*16 + W_hh 8*8 + 2 biases of 8 = 208; LSTM 4 x, GRU 3 x; bidirectional 2 x
    ([EMB, L("RNN", hidden_size=8)], [((8, 16), 160), ((8,), 208)]),
    ([EMB, L("LSTM", hidden_size=8, output="sequence")], [((8, 16), 160), ((8, 8), 832)]),
    ([EMB, L("GRU", hidden_size=8, bidirectional=True)], [((8, 16), 160), ((16,), 1248)]),
    # a second layer reads the first one's 8 outputs: 8*8 + 8*8 + 16 = 144
    ([EMB, L("RNN", hidden_size=8, num_layers=2, output="sequence")], [((8, 16), 160), ((8, 8), 208 + 144)]),
])
def test_sequence_layers_shapes_and_parameters(layers, expected):
    assert _rows(layers) == expected


@pytest.mark.parametrize("layers, shape, expected", [
    ([L("Patchify")], MNIST, [((16, 49), 0)]),                                        # 4x4 patches of 7x7
    ([L("Patchify", patch_size=8)], (3, 32, 32), [((16, 192), 0)]),
    ([L("Unflatten")], (392,), [((8, 7, 7), 0)]),
    ([L("Unflatten", shape=[2, 14, 14])], (392,), [((2, 14, 14), 0)]),
    ([L("Unflatten", shape="49x8")], (392,), [((49, 8), 0)]),                          # a sequence
    # 8*4*2*2 + 4; (7-1)*2 + 2 = 14
    ([L("ConvTranspose2d", out_channels=4)], (8, 7, 7), [((4, 14, 14), 132)]),
    # (7-1)*2 - 2*1 + 3 + 1 = 14
    ([L("ConvTranspose2d", out_channels=1, kernel_size=3, padding=1, output_padding=1)], (8, 7, 7),
     [((1, 14, 14), 73)]),
    ([L("Upsample")], (4, 7, 7), [((4, 14, 14), 0)]),
    ([L("Upsample", scale_factor=1.5, mode="bilinear")], (4, 7, 7), [((4, 10, 10), 0)]),
    ([L("Latent")], (6,), [((6,), 0)]),
    ([L("Latent", variational=True)], (6,), [((3,), 0)]),
])
def test_image_and_autoencoder_layers_shapes_and_parameters(layers, shape, expected):
    assert _rows(layers, shape, vocab=0) == expected


NETWORKS = [
    ([EMB, L("PositionalEncoding"), L("TransformerBlock", heads=2, dropout=0.1), L("SelfAttention", causal=True),
      L("LayerNorm"), L("LSTM", hidden_size=6, bidirectional=True, output="sequence"), L("GRU", hidden_size=5),
      lin(3)], TOKENS, VOCAB),
    ([L("Patchify"), lin(12), L("PositionalEncoding", kind="learned"), L("TransformerBlock", heads=3, norm="post"),
      L("SequencePool", mode="first"), lin(10)], MNIST, 0),
    ([L("Flatten"), lin(8), L("Latent", variational=True), lin(392), L("ReLU"), L("Unflatten"),
      L("ConvTranspose2d", out_channels=4), L("Upsample", mode="bilinear"), L("Conv2d", out_channels=1, padding=1),
      L("Sigmoid")], MNIST, 0),
    ([EMB, L("RNN", hidden_size=4, output="sequence"), L("Flatten"), lin(2)], TOKENS, VOCAB),
]


@pytest.mark.parametrize("layers, shape, vocab", NETWORKS)
def test_inferred_shapes_and_params_match_pytorch(layers, shape, vocab):
    model, rows = build_model(layers, shape, device=None, vocab=vocab)
    x = torch.randint(0, vocab, (3, *shape)) if vocab else torch.rand(3, *shape)
    model.eval()
    for module, row in zip(model, rows):
        x = module(x)
        assert tuple(x.shape[1:]) == row.out_shape, row
        assert sum(p.numel() for p in module.parameters()) == row.params, row


@pytest.mark.parametrize("layers, shape, vocab", NETWORKS)
def test_meta_build_allocates_nothing_and_counts_the_same(layers, shape, vocab):
    meta, rows = build_model(layers, shape, device="meta", vocab=vocab)
    cpu, cpu_rows = build_model(layers, shape, vocab=vocab)
    assert rows == cpu_rows
    assert all(p.is_meta for p in meta.parameters()) and all(b.is_meta for b in meta.buffers())
    assert [k for k in meta.state_dict()] == [k for k in cpu.state_dict()]


def test_token_networks_train_one_step():
    model, _ = build_model(NETWORKS[0][0], TOKENS, vocab=VOCAB)
    for m in model.modules():
        if isinstance(m, Dropout):
            m.generator = torch.Generator().manual_seed(0)
    loss = F.cross_entropy(model(torch.randint(0, VOCAB, (4, 8))), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


# ----------------------------------------------------------------------------- token input and refusals
def _refused(layers, shape=TOKENS, vocab=VOCAB, error=ShapeError):
    with pytest.raises(error) as e:
        summarize(layers, shape, vocab=vocab)
    return str(e.value)


@pytest.mark.parametrize("first", ["Linear", "Flatten", "LayerNorm", "ReLU", "SelfAttention", "Dropout"])
def test_token_ids_need_an_embedding_first(first):
    msg = _refused([L(first), lin(2)])
    assert msg == (f"layer 1 ({first}): the input is a sequence of token ids (8 tokens from a vocabulary of 10); "
                   f"start with an Embedding layer (e.g. embedding_dim=32)")


def test_summarize_partial_and_build_model_take_vocab():
    rows, error, bad = summarize_partial([EMB, L("SequencePool"), lin(3)], TOKENS, 3, vocab=VOCAB)
    assert error is None and [r.out_shape for r in rows] == [(8, 16), (16,), (3,)]
    rows, error, bad = summarize_partial([lin(3)], TOKENS, 3, vocab=VOCAB)
    assert rows == [] and bad == 0 and "start with an Embedding layer" in error
    model, _ = build_model([EMB], TOKENS, vocab=VOCAB)
    assert model[0].num_embeddings == VOCAB
    with pytest.raises(ShapeError, match="end with SequencePool and Linear"):
        build_model([EMB], TOKENS, 3, vocab=VOCAB)


@pytest.mark.parametrize("layers, shape, vocab, start, fix", [
    ([L("Embedding")], MNIST, 0, "layer 1 (Embedding): needs token ids; this data set's inputs are 1x28x28",
     "use Patchify"),
    ([L("Embedding")], (2,), 0, "layer 1 (Embedding): needs token ids; this data set's inputs are 2 features",
     "use Linear instead"),
    ([EMB, L("Embedding")], TOKENS, VOCAB, "layer 2 (Embedding): needs token ids", "use one Embedding, as the first"),
    ([L("Flatten"), L("SelfAttention")], MNIST, 0, "layer 2 (SelfAttention): expects a sequence", "Patchify"),
    ([L("LSTM")], MNIST, 0, "layer 1 (LSTM): expects a sequence (positions x features), gets 1x28x28",
     "add Patchify before it"),
    ([L("Flatten"), L("GRU")], MNIST, 0, "layer 2 (GRU): expects a sequence",
     "add an Embedding (tokens) or Patchify (images) first"),
    ([L("RNN")], (2,), 0, "layer 1 (RNN): expects a sequence", "the data are 2-D points"),
    ([EMB, L("SequencePool"), L("SequencePool")], TOKENS, VOCAB, "layer 3 (SequencePool): expects a sequence",
     "remove this layer"),
    ([L("PositionalEncoding")], MNIST, 0, "layer 1 (PositionalEncoding): expects a sequence", "Patchify"),
    ([EMB, L("Conv2d")], TOKENS, VOCAB, "layer 2 (Conv2d): expects an image", "on a sequence (LxD) use SelfAttention"),
    ([EMB, L("MaxPool2d")], TOKENS, VOCAB, "layer 2 (MaxPool2d): expects an image", "Linear (per position)"),
    ([EMB, L("BatchNorm")], TOKENS, VOCAB, "layer 2 (BatchNorm): BatchNorm would mix the positions",
     "use LayerNorm for sequences"),
    ([EMB, lin(4, in_features=100)], TOKENS, VOCAB,
     "layer 2 (Linear): expects 100 input features, gets 16 per position (8 positions x 16 features)",
     "set in_features=16"),
    ([EMB, L("Flatten"), lin(4, in_features=100)], TOKENS, VOCAB,
     "layer 3 (Linear): expects 100 input features, gets 128 (8x16 flattened)", "set in_features=128"),
    ([L("Patchify", patch_size=5)], MNIST, 0, "layer 1 (Patchify): patch_size 5 does not divide the 28x28 image",
     "pick a divisor of 28, e.g. patch_size=2, patch_size=4, patch_size=7"),
    ([L("Patchify", patch_size=4)], (1, 8, 6), 0, "layer 1 (Patchify): patch_size 4 does not divide the 8x6",
     "pick a divisor of both 8 and 6, e.g. patch_size=2"),
    ([L("Flatten"), L("Unflatten")], MNIST, 0,
     "layer 2 (Unflatten): shape 8x7x7 holds 392 values, but the input has 784 features",
     "make the layer before output 392 features (e.g. Linear out_features=392), or pick a shape of 784 values "
     "(e.g. shape=1x28x28)"),
    ([L("Unflatten")], MNIST, 0, "layer 1 (Unflatten): expects a flat vector", "add a Flatten layer before it"),
    ([L("Flatten"), L("ConvTranspose2d")], MNIST, 0, "layer 2 (ConvTranspose2d): expects an image",
     "add an Unflatten before it (e.g. shape=1x28x28)"),
    ([L("ConvTranspose2d", padding=3)], (1, 2, 2), 0, "layer 1 (ConvTranspose2d): padding 3 is too large for the 2x2",
     "lower padding or raise kernel_size"),
    ([L("ConvTranspose2d", in_channels=3)], MNIST, 0, "layer 1 (ConvTranspose2d): expects 3 input channels, gets 1",
     "set in_channels=1"),
    ([L("Upsample", scale_factor=0.1)], (1, 4, 4), 0, "layer 1 (Upsample): scale_factor 0.1 shrinks the 4x4 input",
     "use a larger scale_factor"),
    ([L("Flatten"), lin(7), L("Latent", variational=True)], MNIST, 0,
     "layer 3 (Latent): a variational Latent splits its input in two, but gets 7 features",
     "the layer before must output 2 x the latent size: mean and log-variance"),
    ([L("Latent")], MNIST, 0, "layer 1 (Latent): expects a flat vector (the code), gets 1x28x28", "add Flatten"),
    ([EMB, L("Latent")], TOKENS, VOCAB, "layer 2 (Latent): expects a flat vector", "add SequencePool"),
])
def test_shape_refusals_name_the_layer_and_the_fix(layers, shape, vocab, start, fix):
    msg = _refused(layers, shape, vocab)
    assert msg.startswith(start), msg
    assert fix in msg, msg


@pytest.mark.parametrize("spec, message", [
    (L("Embedding", num_embeddings=5), "layer 1 (Embedding): num_embeddings=5 is smaller than the vocabulary "
                                       "(10 token values); set num_embeddings=10"),
    (L("Embedding", embedding_dim=0), "layer 1 (Embedding): embedding_dim=0 is not valid"),
])
def test_embedding_argument_refusals(spec, message):
    assert message in _refused([spec], error=ConfigError)


@pytest.mark.parametrize("spec, message", [
    (L("SelfAttention", heads=3), "layer 2 (SelfAttention): 16 features do not split into 3 heads; "
                                  "set heads to a divisor of 16 (e.g. 1, 2, 4, 8, 16), "
                                  "or set head_size (e.g. head_size=5)"),
    (L("TransformerBlock", heads=5), "layer 2 (TransformerBlock): 16 features do not split into 5 heads"),
    (L("SelfAttention", causal="yes"), "causal='yes' is not valid; set causal=True or causal=False"),
    (L("SelfAttention", scale=1), "scale=1 is not valid"),
    (L("SelfAttention", head_size=0), "head_size=0 is not valid"),
    (L("TransformerBlock", norm="middle"), "norm='middle' is not valid; set norm=pre or norm=post"),
    (L("TransformerBlock", dropout=1), "dropout=1 is not valid; set dropout to a drop probability"),
    (L("TransformerBlock", mlp_ratio=-1), "mlp_ratio=-1 is not valid; set mlp_ratio to 0 (attention only, no MLP) "
                                          "or to 0.0625 or more"),
    (L("TransformerBlock", mlp_ratio=0.01), "mlp_ratio=0.01 is not valid"),
    (L("TransformerBlock", mlp_ratio=float("nan")), "mlp_ratio=nan is not valid"),
    (L("TransformerBlock", scale="no"), "scale='no' is not valid"),
    (L("PositionalEncoding", kind="rotary"), "kind='rotary' is not valid; set kind=sinusoidal or kind=learned"),
    (L("SequencePool", mode="max"), "mode='max' is not valid; set mode=mean or mode=first"),
    (L("LSTM", output="all"), "output='all' is not valid; set output=last or output=sequence"),
    (L("GRU", hidden_size=0), "hidden_size=0 is not valid"),
    (L("RNN", bidirectional=1), "bidirectional=1 is not valid"),
])
def test_sequence_argument_refusals(spec, message):
    msg = _refused([EMB, spec], error=ConfigError)
    assert msg.startswith(f"layer 2 ({spec['type']}):") and message in msg, msg


@pytest.mark.parametrize("spec, shape, message", [
    (L("Unflatten", shape="8 by 7"), (56,), "shape='8 by 7' is not valid; write the output shape as sizes joined by x"),
    (L("Unflatten", shape="1x2x3x4"), (24,), "shape='1x2x3x4' is not valid"),
    (L("ConvTranspose2d", output_padding=2), (1, 4, 4), "output_padding=2 must be smaller than stride=2"),
    (L("Upsample", mode="bicubic"), (1, 4, 4), "mode='bicubic' is not valid; set mode=nearest or mode=bilinear"),
    (L("Upsample", scale_factor="x2"), (1, 4, 4), "scale_factor='x2' is not valid"),
    (L("Latent", variational="yes"), (4,), "variational='yes' is not valid"),
    (L("Patchify", patch_size=0), (1, 4, 4), "patch_size=0 is not valid"),
])
def test_other_argument_refusals(spec, shape, message):
    msg = _refused([spec], shape, 0, error=ConfigError)
    assert msg.startswith(f"layer 1 ({spec['type']}):") and message in msg, msg


def test_new_types_are_in_the_catalogue_with_pytorch_names():
    assert LAYERS["Embedding"] == {"embedding_dim": 32, "num_embeddings": None}
    assert LAYERS["SelfAttention"] == {"heads": 1, "head_size": None, "causal": False, "scale": True}
    assert LAYERS["LSTM"] == {"hidden_size": 32, "num_layers": 1, "bidirectional": False, "output": "last"}
    assert set(LAYERS["ConvTranspose2d"]) == {"out_channels", "kernel_size", "stride", "padding", "output_padding",
                                               "in_channels"}


# ----------------------------------------------------------------------------- attention
def _reference_attention(att: SelfAttention, x, causal=False, scale=True):
    """softmax(q k^T / sqrt(d)) v per head, from the module's own projections, then the output projection."""
    B, T, _ = x.shape
    h, d = att.heads, att.head_size
    q, k, v = att.query(x), att.key(x), att.value(x)                       # (B, T, h*d)
    outs, weights = [], []
    for i in range(h):
        qi, ki, vi = (t[..., i * d:(i + 1) * d] for t in (q, k, v))          # (B, T, d)
        s = qi @ ki.transpose(1, 2)
        if scale:
            s = s / math.sqrt(d)
        if causal:
            s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        w = torch.softmax(s, dim=-1)                                         # (B, T, T)
        weights.append(w)
        outs.append(w @ vi)
    return att.proj(torch.cat(outs, dim=-1)), torch.stack(weights, dim=1)


@pytest.mark.parametrize("heads, head_size, causal", [(1, None, False), (2, None, True), (3, 5, False)])
def test_self_attention_matches_a_reference_by_hand(heads, head_size, causal):
    torch.manual_seed(0)
    att = SelfAttention(12, heads, head_size, causal)
    x = torch.randn(2, 5, 12)
    out = att(x)
    ref_out, ref_w = _reference_attention(att, x, causal)
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(att.last_weights, ref_w, rtol=1e-5, atol=1e-6)
    w = att.last_weights
    assert w.shape == (2, heads, 5, 5) and not w.requires_grad
    torch.testing.assert_close(w.sum(-1), torch.ones(2, heads, 5), rtol=0, atol=1e-6)


def test_causal_attention_zeroes_the_future():
    torch.manual_seed(0)
    att = SelfAttention(8, heads=2, causal=True)
    x = torch.randn(1, 6, 8)
    out = att(x)
    assert torch.count_nonzero(att.last_weights.triu(1)) == 0
    past = torch.ones(6, 6, dtype=torch.bool).tril()
    assert torch.all(att.last_weights[..., past] > 0)                 # itself and earlier positions: all used
    y = x.clone()
    y[:, -1] += 10                                    # the last position cannot change earlier outputs
    torch.testing.assert_close(att(y)[:, :-1], out[:, :-1], rtol=0, atol=1e-6)


def test_unscaled_attention_differs_and_matches_its_reference():
    torch.manual_seed(0)
    scaled = SelfAttention(16, heads=2)
    unscaled = SelfAttention(16, heads=2, scale=False)
    unscaled.load_state_dict(scaled.state_dict())
    x = torch.randn(2, 4, 16) * 3
    a, b = scaled(x), unscaled(x)
    assert not torch.allclose(a, b, atol=1e-3)
    torch.testing.assert_close(b, _reference_attention(unscaled, x, scale=False)[0], rtol=1e-5, atol=1e-6)

    def entropy(w):
        return -(w * w.clamp_min(1e-12).log()).sum(-1).mean()
    # without the 1/sqrt(d) the softmax is sharper: its rows have less entropy
    assert entropy(unscaled.last_weights) < entropy(scaled.last_weights)


def test_attention_keeps_the_weights_of_the_last_forward_only():
    att = SelfAttention(4)
    att(torch.randn(3, 5, 4))
    att(torch.randn(1, 2, 4))
    assert att.last_weights.shape == (1, 1, 2, 2)


# ----------------------------------------------------------------------------- transformer block
@pytest.mark.parametrize("norm", ["pre", "post"])
def test_transformer_block_runs_forward_and_backward(norm):
    torch.manual_seed(0)
    block = TransformerBlock(8, heads=2, norm=norm, causal=True)
    x = torch.randn(3, 5, 8, requires_grad=True)
    y = block(x)
    assert y.shape == (3, 5, 8)
    y.square().mean().backward()
    assert x.grad is not None and all(p.grad is not None for p in block.parameters())
    assert block.attn.last_weights.shape == (3, 2, 5, 5)
    assert torch.count_nonzero(block.attn.last_weights.triu(1)) == 0


def test_transformer_block_pre_and_post_norm_compute_what_they_say():
    torch.manual_seed(0)
    pre = TransformerBlock(8, heads=2, norm="pre")
    post = TransformerBlock(8, heads=2, norm="post")
    post.load_state_dict(pre.state_dict())
    x = torch.randn(2, 3, 8)
    h = x + pre.attn(pre.ln1(x))
    torch.testing.assert_close(pre(x), h + pre.mlp(pre.ln2(h)), rtol=1e-5, atol=1e-6)
    h = pre.ln1(x + pre.attn(x))
    torch.testing.assert_close(post(x), pre.ln2(h + pre.mlp(h)), rtol=1e-5, atol=1e-6)
    # post-norm ends in a LayerNorm: each position has mean 0 and std 1 (with LayerNorm's initial 1, 0)
    torch.testing.assert_close(post(x).mean(-1), torch.zeros(2, 3), rtol=0, atol=1e-5)


def test_an_attention_only_block_is_the_residual_attention_and_honours_scale():
    torch.manual_seed(0)
    block = TransformerBlock(8, heads=2, mlp_ratio=0, scale=False)
    assert block.mlp is None and not hasattr(block, "ln2") and block.attn.scale is False
    x = torch.randn(2, 3, 8)
    torch.testing.assert_close(block(x), x + block.attn(block.ln1(x)), rtol=1e-5, atol=1e-6)
    post = TransformerBlock(8, heads=2, mlp_ratio=0, norm="post")
    torch.testing.assert_close(post(x), post.ln1(x + post.attn(x)), rtol=1e-5, atol=1e-6)


def test_each_block_has_its_own_gelu_module_and_our_dropout():
    model, _ = build_model([EMB, L("TransformerBlock", dropout=0.2), L("TransformerBlock", dropout=0.2)],
                           TOKENS, vocab=VOCAB)
    gelus = [m for m in model.modules() if isinstance(m, nn.GELU)]
    assert len(gelus) == 2 and gelus[0] is not gelus[1]
    drops = [m for m in model.modules() if isinstance(m, Dropout)]
    assert len(drops) == 4 and all(d.p == 0.2 for d in drops)
    assert not any(isinstance(m, nn.Dropout) for m in model.modules())
    x = torch.randint(0, VOCAB, (2, 8))
    outs = []
    for _ in range(2):
        for d in drops:
            d.generator = torch.Generator().manual_seed(5)
        torch.manual_seed(len(outs))                  # the global RNG does not matter
        outs.append(model(x))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)
    model.eval()
    torch.testing.assert_close(model(x), model(x), rtol=0, atol=0)


def test_without_dropout_there_are_no_dropout_modules():
    block = TransformerBlock(8)
    assert not any(isinstance(m, Dropout) for m in block.modules())


# ----------------------------------------------------------------------------- patches, pooling, positions
def test_patchify_is_row_major_and_matches_unfold():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    patches = Patchify(2)(x)
    assert patches.shape == (1, 4, 4)
    assert patches[0].tolist() == [[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]]
    x = torch.randn(2, 3, 6, 9)
    torch.testing.assert_close(Patchify(3)(x), F.unfold(x, 3, stride=3).transpose(1, 2), rtol=0, atol=0)


def test_sequence_pool_mean_and_first():
    x = torch.tensor([[[1.0, 2.0], [3.0, 6.0]]])                       # (1, 2, 2)
    assert SequencePool("mean")(x).tolist() == [[2.0, 4.0]]
    assert SequencePool("first")(x).tolist() == [[1.0, 2.0]]


@pytest.mark.parametrize("dim", [6, 7])
def test_sinusoidal_positions_are_a_non_persistent_buffer(dim):
    pe = SinusoidalPositions(5, dim)
    assert pe.state_dict() == {} and list(pe.parameters()) == []
    assert pe.pe.shape == (5, dim)
    x = torch.zeros(2, 5, dim)
    y = pe(x)
    torch.testing.assert_close(y[0, 0], torch.tensor([0.0, 1.0] * (dim // 2) + [0.0] * (dim % 2)))
    torch.testing.assert_close(y[1, 3, :2], torch.tensor([math.sin(3), math.cos(3)]))
    torch.testing.assert_close(y[1, 3, 2], torch.tensor(math.sin(3 / 10000 ** (2 / dim))))


def test_learned_positions_are_a_parameter():
    pe = LearnedPositions(5, 4)
    assert list(pe.state_dict()) == ["pe"] and pe.pe.requires_grad
    x = torch.zeros(1, 5, 4)
    torch.testing.assert_close(pe(x)[0], pe.pe.detach())


# ----------------------------------------------------------------------------- RNNs
def test_bidirectional_lstm_last_is_both_final_states():
    torch.manual_seed(0)
    lstm = LSTM(4, hidden_size=3, num_layers=2, bidirectional=True, output="last")
    x = torch.randn(2, 5, 4)
    last = lstm(x)
    assert last.shape == (2, 6)
    out, _ = lstm.rnn(x)                                              # (2, 5, 6): forward | backward
    # forward direction after the last step, backward direction after reading back to the first
    torch.testing.assert_close(last, torch.cat([out[:, -1, :3], out[:, 0, 3:]], dim=-1))
    lstm.output = "sequence"
    assert lstm(x).shape == (2, 5, 6)


def test_gru_last_is_the_last_position():
    torch.manual_seed(0)
    gru = GRU(4, hidden_size=3)
    x = torch.randn(2, 5, 4)
    torch.testing.assert_close(gru(x), gru.rnn(x)[0][:, -1])


# ----------------------------------------------------------------------------- autoencoder layers
def test_variational_latent_kl_matches_the_closed_form():
    latent = Latent(variational=True)
    mean = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    logvar = torch.tensor([[0.0, math.log(4.0)], [math.log(0.25), 0.0]])
    x = torch.cat([mean, logvar], dim=1).requires_grad_()              # (2, 4): mean | log-variance
    latent.generator = torch.Generator().manual_seed(3)
    z = latent(x)
    # KL(N(m, s^2) || N(0, 1)) = 0.5 (m^2 + s^2 - 1 - log s^2), summed over dims, averaged over the batch
    row1 = 0.5 * (0 + 1 - 1 - 0) + 0.5 * (1 + 4 - 1 - math.log(4))
    row2 = 0.5 * (4 + 0.25 - 1 - math.log(0.25)) + 0.5 * (1 + 1 - 1 - 0)
    torch.testing.assert_close(latent.kl, torch.tensor((row1 + row2) / 2), rtol=1e-6, atol=1e-6)
    assert latent.kl.requires_grad
    latent.kl.backward()
    assert x.grad is not None
    eps = torch.randn(2, 2, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(z, mean + logvar.mul(0.5).exp() * eps)
    torch.testing.assert_close(latent.last_mean, mean)
    torch.testing.assert_close(latent.last_logvar, logvar)
    assert not latent.last_mean.requires_grad


def test_variational_latent_in_eval_returns_the_mean_and_keeps_kl():
    latent = Latent(variational=True)
    x = torch.randn(4, 6)
    latent(x)
    kl = latent.kl
    latent.eval()
    gen = torch.Generator().manual_seed(0)
    latent.generator = gen
    state = gen.get_state()
    a, b = latent(x), latent(x + 0)
    torch.testing.assert_close(a, x[:, :3], rtol=0, atol=0)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert torch.equal(gen.get_state(), state)                         # eval draws nothing
    assert latent.kl is kl


def test_variational_latent_draws_from_its_generator_only():
    x = torch.randn(4, 6)
    outs = []
    for seed in (1, 2):
        latent = Latent(variational=True)
        latent.generator = torch.Generator().manual_seed(9)
        torch.manual_seed(seed)
        outs.append(latent(x))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)


def test_plain_latent_is_the_identity():
    latent = Latent()
    x = torch.randn(3, 2)
    assert latent(x) is x and latent.kl is None
    torch.testing.assert_close(latent.last_mean, x)


def test_mnist_autoencoder_reconstructs_through_a_2d_code():
    model, _ = build_model(AUTOENCODER, MNIST)
    x = torch.rand(4, 1, 28, 28)
    out = model(x)
    assert out.shape == (4, 784) and out.min() >= 0 and out.max() <= 1
    latent = next(m for m in model if isinstance(m, Latent))
    assert latent.last_mean.shape == (4, 2)


# ----------------------------------------------------------------------------- initialisation
def _init_net():
    return nn.Sequential(nn.Embedding(10, 8), LearnedPositions(4, 8), nn.LSTM(8, 6), nn.GRU(8, 5),
                         nn.ConvTranspose2d(3, 20, 3), SelfAttention(8, 2))


@pytest.mark.parametrize("scheme", ["default", "xavier", "he", "normal"])
def test_init_of_the_new_layers_depends_only_on_the_generator(scheme):
    nets = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        net = _init_net()
        apply_init(net, scheme, torch.Generator().manual_seed(7))
        nets.append(net)
    for (name, p), q in zip(nets[0].state_dict().items(), nets[1].state_dict().values()):
        assert torch.equal(p, q), name


def test_init_keeps_sensible_defaults_for_embedding_rnns_and_positions():
    net = _init_net()
    apply_init(net, "normal", torch.Generator().manual_seed(0))
    torch.testing.assert_close(net[0].weight.std().item(), 1.0, rtol=0, atol=0.25)          # N(0, 1)
    assert net[1].pe.abs().max() < 0.1                                                     # N(0, 0.02)
    assert all(p.abs().max() <= 1 / math.sqrt(6) for p in net[2].parameters())              # U(+-1/sqrt(H))
    assert all(p.abs().max() <= 1 / math.sqrt(5) for p in net[3].parameters())
    torch.testing.assert_close(net[4].weight.std().item(), 1.0, rtol=0, atol=0.1)          # the scheme
    assert torch.count_nonzero(net[4].bias) == 0 and torch.count_nonzero(net[5].query.bias) == 0


def test_default_init_of_conv_transpose_uses_pytorchs_fan_in():
    net = nn.ConvTranspose2d(3, 20, 3)
    apply_init(net, "default", torch.Generator().manual_seed(0))
    bound = 1 / math.sqrt(20 * 9)                     # fan_in = weight.size(1) * k * k, as PyTorch has it
    assert net.weight.abs().max() <= bound and net.bias.abs().max() <= bound


# ----------------------------------------------------------------------------- memory estimate
def test_estimate_takes_vocab_and_counts_attention_inside():
    layers = [L("Embedding", embedding_dim=8), L("SelfAttention", heads=2), L("SequencePool"), lin(3)]
    cfg = RunConfig.from_dict({"layers": layers, "batch_size": 4})
    est = estimate(cfg, TOKENS, 3, n_train=40, n_val=10, vocab=VOCAB)
    att = est.layers[1]
    # q, k, v and context 4 x 8 x 8; scores and weights 2 x 2 heads x 8 x 8; the weights stay after forward
    assert (att.inner, att.kept) == (4 * 64 + 2 * 128, 128)
    assert est.data == 50 * (8 * 8 + 8)               # int64 token ids and labels
    with pytest.raises(ShapeError, match="start with an Embedding"):
        estimate(RunConfig.from_dict({"layers": [lin(3)]}), TOKENS, 3, 40, 10, vocab=VOCAB)
