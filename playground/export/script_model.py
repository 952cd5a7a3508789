"""The model part of a standalone script: class Net with one attribute per layer, the building blocks
it needs, and init_weights, which draws the initial weights as playground/models/init.py does.

Attention, transformer, positional-encoding, patch and latent layers are playground/models/blocks.py's
own classes, copied by source; RNN, LSTM and GRU are torch's, with the playground's reading of
their output written into forward(). The modules are registered in the engine's order, so the
generator draws the same initial weights and the state dict lists the same tensors in the same order.
"""
from __future__ import annotations

import inspect

from playground.export.script_data import RULE, call
from playground.models import blocks
from playground.models.build import LayerRow
from playground.models.layers import full_args

# layer type -> attribute prefix in class Net: conv1, relu1, pool1, fc1, ... (SequencePool is a line of forward)
PREFIX = {"Linear": "fc", "Conv2d": "conv", "ConvTranspose2d": "deconv", "MaxPool2d": "pool",
          "AvgPool2d": "avgpool", "Upsample": "upsample", "Flatten": "flatten", "Unflatten": "unflatten",
          "Dropout": "dropout", "BatchNorm": "bn", "LayerNorm": "ln", "ReLU": "relu", "LeakyReLU": "leakyrelu",
          "GELU": "gelu", "Tanh": "tanh", "Sigmoid": "sigmoid", "Embedding": "embed", "PositionalEncoding": "pos",
          "SelfAttention": "attn", "TransformerBlock": "block", "Patchify": "patchify", "SequencePool": None,
          "RNN": "rnn", "LSTM": "lstm", "GRU": "gru", "Latent": "latent"}
RECURRENT = ("RNN", "LSTM", "GRU")
WEIGHTED = ("Linear", "Conv2d", "ConvTranspose2d")       # the layers init.py initialises with the run's scheme

DROPOUT = '''
class Dropout(nn.Module):
    """Dropout drawing its masks from a generator of its own (set in main), as the playground's does:
    nn.Dropout draws from torch's global RNG, which would give other masks, so other numbers."""

    def __init__(self, p):
        super().__init__()
        self.p = p
        self.generator = None

    def forward(self, x):
        if not self.training or self.p == 0:
            return x
        keep = torch.empty_like(x).bernoulli_(1 - self.p, generator=self.generator)   # 1 with probability 1-p
        return x * keep / (1 - self.p)
'''

INIT_DOC = {
    "default": "PyTorch's default initialisation, redone with our own generator so that it is reproducible:\n"
               "    weights Kaiming-uniform (a=sqrt(5)), biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)).",
    "xavier": "Xavier/Glorot-uniform weights, zero biases.",
    "he": "He/Kaiming-normal weights for ReLU, N(0, 2/fan_in); zero biases.",
    "normal": "N(0, 1) weights (too large for most networks: a lesson in why init matters), zero biases.",
    "ones": "every weight 1, zero biases (equal weights: the hidden units never become different).",
}
INIT_WEIGHT = {
    "xavier": "nn.init.xavier_uniform_(m.weight, generator=generator)",
    "he": 'nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=generator)',
    "normal": "nn.init.normal_(m.weight, 0.0, 1.0, generator=generator)",
    "ones": "nn.init.ones_(m.weight)",
}


def shape_text(shape: tuple) -> str:
    """(8, 14, 14) -> "(B, 8, 14, 14)"; () -> "(B,)"."""
    return "(B, " + ", ".join(str(s) for s in shape) + ")" if shape else "(B,)"


def model_layers(specs: list, rows: list[LayerRow], input_shape: tuple, vocab: int) -> list[dict]:
    """One dict per layer: attr (conv1; None for a line of forward), type, ctor (source), the
    forward lines [(code, comment)], out (shape), and the block classes it needs."""
    counts: dict[str, int] = {}
    shape, result = tuple(input_shape), []
    for i, (spec, row) in enumerate(zip(specs, rows)):
        kind, out = spec["type"], tuple(row.out_shape)
        args = full_args(spec, i + 1)
        counts[kind] = counts.get(kind, 0) + 1
        attr = f"{PREFIX[kind]}{counts[kind]}" if PREFIX[kind] else None
        ctor, classes = _ctor(kind, args, shape, out, vocab)
        result.append({"attr": attr, "type": kind, "ctor": ctor, "out": out, "classes": classes,
                       "lines": _forward(kind, args, attr, out), "args": args})
        shape = out
    return result


def _ctor(kind: str, a: dict, shape: tuple, out: tuple, vocab: int) -> tuple[str | None, list]:
    """(the module's constructor as source, the block classes it needs): the module the engine's builder makes."""
    if kind == "Linear":
        return f"nn.Linear({shape[-1]}, {out[-1]}{'' if a['bias'] else ', bias=False'})", []
    if kind in ("Conv2d", "ConvTranspose2d"):
        extra = (f", stride={a['stride']}" if a["stride"] != 1 or kind == "ConvTranspose2d" else "") + \
                (f", padding={a['padding']}" if a["padding"] else "") + \
                (f", output_padding={a['output_padding']}" if a.get("output_padding") else "")
        return f"nn.{kind}({shape[0]}, {out[0]}, kernel_size={a['kernel_size']}{extra})", []
    if kind in ("MaxPool2d", "AvgPool2d"):
        k, s = a["kernel_size"], a["stride"]
        return f"nn.{kind}({k}{'' if s is None or s == k else f', stride={s}'})", []
    if kind == "Upsample":
        mode = f'mode="{a["mode"]}"' + (", align_corners=False" if a["mode"] == "bilinear" else "")
        return f"nn.Upsample(scale_factor={a['scale_factor']!r}, {mode})", []
    if kind == "Unflatten":
        return f"nn.Unflatten(1, {out})", []
    if kind == "Dropout":
        return f"Dropout({float(a['p'])!r})", []
    if kind == "BatchNorm":
        return f"nn.BatchNorm{'1' if len(shape) == 1 else '2'}d({shape[0]})", []
    if kind == "LayerNorm":
        return f"nn.LayerNorm({shape[0] if len(shape) == 1 else shape[-1] if len(shape) == 2 else list(shape)})", []
    if kind == "LeakyReLU":
        return f"nn.LeakyReLU({float(a['negative_slope'])!r})", []
    if kind == "Embedding":
        n = vocab if a["num_embeddings"] is None else a["num_embeddings"]
        return f"nn.Embedding({n}, {a['embedding_dim']})", []
    if kind == "PositionalEncoding":
        klass = blocks.SinusoidalPositions if a["kind"] == "sinusoidal" else blocks.LearnedPositions
        return f"{klass.__name__}({shape[0]}, {shape[1]})", [klass]
    if kind in ("SelfAttention", "TransformerBlock"):
        heads = a["heads"]
        size = a["head_size"] or shape[1] // heads
        head = [str(shape[1]), f"heads={heads}", f"head_size={size}"]
        if kind == "SelfAttention":
            args = head + [f"causal={a['causal']}", f"scale={a['scale']}"]
            return f"SelfAttention({', '.join(args)})", [blocks.SelfAttention]
        args = head + [f"mlp_ratio={a['mlp_ratio']!r}", f'norm="{a["norm"]}"', f"causal={a['causal']}",
                       f"dropout={float(a['dropout'])!r}", f"scale={a['scale']}"]
        return f"TransformerBlock({', '.join(args)})", [blocks.SelfAttention, blocks.TransformerBlock]
    if kind == "Patchify":
        return f"Patchify({a['patch_size']})", [blocks.Patchify]
    if kind == "SequencePool":
        return None, []
    if kind in RECURRENT:
        extra = ", bidirectional=True" if a["bidirectional"] else ""
        return (f"nn.{kind}({shape[1]}, {a['hidden_size']}, num_layers={a['num_layers']}, batch_first=True{extra})",
                [])
    if kind == "Latent":
        return ("Latent(variational=True)" if a["variational"] else "Latent()"), [blocks.Latent]
    return f"nn.{kind}()", []                                              # Flatten, ReLU, GELU, Tanh, Sigmoid


def _forward(kind: str, a: dict, attr: str | None, out: tuple) -> list[tuple[str, str]]:
    """The lines of forward() for one layer, each with its shape comment."""
    shape = shape_text(out)
    if kind == "SequencePool":
        if a["mode"] == "mean":
            return [("x = x.mean(dim=1)", f"{shape}: the mean over the positions")]
        return [("x = x[:, 0]", f"{shape}: the first position's features")]
    if kind in RECURRENT:
        if a["output"] == "sequence":
            return [(f"x, _ = self.{attr}(x)", f"{shape}: every position's top-layer state")]
        dirs = 2 if a["bidirectional"] else 1
        state = "_, (h, _)" if kind == "LSTM" else "_, h"
        last = ("x = torch.cat([h[-2], h[-1]], dim=-1)", f"{shape}: the top layer's, forward then backward") \
            if dirs == 2 else ("x = h[-1]", f"{shape}: the top layer's")
        return [(f"{state} = self.{attr}(x)", f"h: ({a['num_layers'] * dirs}, B, {a['hidden_size']}), "
                                               f"each layer's final hidden state"), last]
    if kind == "Latent" and a["variational"]:
        return [(f"x = self.{attr}(x)", f"{shape}: mean + exp(logvar / 2) * noise (the mean in eval)")]
    if kind == "Latent":
        return [(f"x = self.{attr}(x)", f"{shape}: the code")]
    return [(f"x = self.{attr}(x)", shape)]


def needs_generator(layers: list[dict]) -> list[str]:
    """The script's classes whose modules draw random numbers in training (dropout masks, latent samples)."""
    drop = any(layer["type"] == "Dropout" or layer["type"] == "TransformerBlock" and layer["args"]["dropout"] > 0
               for layer in layers)
    latent = any(layer["type"] == "Latent" and layer["args"]["variational"] for layer in layers)
    return ["Dropout"] * drop + ["Latent"] * latent


def model_code(layers: list[dict], input_shape: tuple, init: str, tokens: bool, output: str) -> str:
    """The script's model section: the building blocks, class Net, init_weights."""
    classes = [c for layer in layers for c in layer["classes"]]
    out = [f"{RULE} model"]
    if any(layer["type"] == "Dropout" for layer in layers) or blocks.TransformerBlock in classes:
        out += [DROPOUT.strip("\n"), "", ""]
    for klass in dict.fromkeys(classes):
        out += [_source(klass), "", ""]
    init_lines = [_wrap_ctor(f"        self.{layer['attr']} = ", layer["ctor"]) for layer in layers if layer["attr"]]
    fwd = [("def forward(self, x):", shape_text(input_shape) + (" token ids" if tokens else ""))]
    fwd += [(f"    {code}", comment) for layer in layers for code, comment in layer["lines"]]
    fwd.append(("    return x", shape_text(layers[-1]["out"]) + f": {output}"))
    width = max(len(code) for code, _ in fwd) + 2
    out += ["class Net(nn.Module):",
            f'    """{len(layers)} layers in order; the shape comments say what comes out of each (B: batch)."""', "",
            "    def __init__(self):", "        super().__init__()", *init_lines, ""]
    out += [f"    {code:<{width}}# {shape}" for code, shape in fwd]
    out += ["", "", _init(init, layers)]
    return "\n".join(out)


def _wrap_ctor(lead: str, ctor: str) -> str:
    """lead + ctor, wrapped under the parenthesis where too long (the arguments hold no commas of their own)."""
    if len(lead + ctor) <= 110:
        return lead + ctor
    name, _, args = ctor.partition("(")
    return call(lead + name, args[:-1].split(", "))


def _source(klass) -> str:
    """A block's source as the script holds it: the playground's own class, its comments about the
    engine turned to the script's names."""
    src = inspect.getsource(klass).strip("\n")
    return src.replace("# models.init.apply_init redraws it", "# init_weights redraws it").replace(
        "a torch.Generator the engine sets", "a torch.Generator main() sets")


def _init(scheme: str, layers: list[dict]) -> str:
    kinds = {layer["type"] for layer in layers}
    weighted = tuple(f"nn.{k}" for k in WEIGHTED if k in kinds) + \
        (("nn.Linear",) if kinds & {"SelfAttention", "TransformerBlock"} and "Linear" not in kinds else ())
    no_bias = any(layer["type"] == "Linear" and not layer["args"]["bias"] for layer in layers)
    learned = any(layer["type"] == "PositionalEncoding" and layer["args"]["kind"] == "learned" for layer in layers)
    also = (["Embedding N(0, 1)"] * ("Embedding" in kinds) +
            ["RNN/LSTM/GRU every weight and bias U(-1/sqrt(hidden), 1/sqrt(hidden))"] * bool(kinds & set(RECURRENT)) +
            ["learned positions N(0, 0.02)"] * learned)
    doc = [f'    """{INIT_DOC[scheme]}']
    if also:
        doc.append(f"    Whatever the scheme: {'; '.join(also)}.")
    doc.append('    The layers in the order of model.modules(), from one generator, as the playground does."""')
    lines = ["@torch.no_grad()", "def init_weights(model, generator):", *doc, "    for m in model.modules():"]
    branches = []
    if "Embedding" in kinds:
        branches.append(("isinstance(m, nn.Embedding)", ["nn.init.normal_(m.weight, 0.0, 1.0, generator=generator)"]))
    if kinds & set(RECURRENT):
        branches.append(("isinstance(m, nn.RNNBase)", [
            "bound = 1 / math.sqrt(m.hidden_size)", "for w in m.parameters():",
            "    nn.init.uniform_(w, -bound, bound, generator=generator)"]))
    if learned:
        branches.append(("isinstance(m, LearnedPositions)", ["nn.init.normal_(m.pe, 0.0, 0.02, generator=generator)"]))
    if weighted:
        test = f"isinstance(m, {weighted[0]})" if len(weighted) == 1 else f"isinstance(m, ({', '.join(weighted)}))"
        if scheme == "default":
            body = ["nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)",
                    "if m.bias is not None:",
                    "    bound = 1 / math.sqrt(m.weight[0].numel())           # 1 / sqrt(fan_in)",
                    "    nn.init.uniform_(m.bias, -bound, bound, generator=generator)"]
        else:
            body = [INIT_WEIGHT[scheme]] + (["if m.bias is not None:", "    nn.init.zeros_(m.bias)"] if no_bias
                                            else ["nn.init.zeros_(m.bias)"])
        branches.append((test, body))
    if not branches:
        return "\n".join(lines[:-1] + ["    pass                            # nothing to initialise: no weights"])
    for j, (test, body) in enumerate(branches):
        lines.append(f"        {'if' if j == 0 else 'elif'} {test}:")
        lines += [f"            {b}" for b in body]
    return "\n".join(lines)
