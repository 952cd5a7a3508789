"""Convolution filters and every layer's output (feature maps) for one input, at one snapshot."""
from __future__ import annotations

import numpy as np
import torch

from playground.errors import PlaygroundError
from playground.inspect.evaluate import View


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
def activations(frozen, sample: int = 0, split: str = "val") -> View:
    """Input `sample` of the split, passed through the network layer by layer (eval mode).
    Arrays: input (C, H, W) or (features,), layer_01 ... layer_NN (each layer's output, without the
    batch dimension), probs (classes,)."""
    X, y = (frozen.data.X_val, frozen.data.y_val) if split == "val" else (frozen.data.X_train, frozen.data.y_train)
    if not 0 <= sample < len(X):
        raise PlaygroundError(f"sample: {sample} is outside the {split} split, which has {len(X)} examples "
                              f"(0 to {len(X) - 1})")
    model = frozen.model.eval()
    device = next(model.parameters()).device
    h = X[sample:sample + 1].to(device)                                     # (1, ...)
    arrays, layers = {"input": X[sample].numpy()}, []
    types = [s["type"] for s in frozen.config.layers] if frozen.config is not None else None
    for i, module in enumerate(model):
        h = module(h)
        arrays[f"layer_{i + 1:02d}"] = h[0].float().cpu().numpy()
        layers.append({"index": i + 1, "type": types[i] if types else type(module).__name__,
                       "shape": list(h.shape[1:])})
    task = getattr(frozen, "task", None)
    if task is not None and task.name != "classification":
        return View(arrays, {"epoch": frozen.epoch, "step": frozen.step, "partial": frozen.partial, "split": split,
                             "sample": sample, "task": task.name, "layers": layers})
    probs = (task.probs(h.float()) if task is not None else torch.softmax(h.float(), 1))[0].cpu().numpy()
    if not np.isfinite(probs).all():
        raise PlaygroundError(f"the network's output at epoch {frozen.epoch} is not finite (NaN or inf): the run "
                              f"diverged by then; pick an earlier epoch")
    arrays["probs"] = probs
    names = [str(c) for c in frozen.data.class_names]
    return View(arrays, {"epoch": frozen.epoch, "step": frozen.step, "partial": frozen.partial, "split": split,
                         "sample": sample, "true": names[int(y[sample])], "predicted": names[int(probs.argmax())],
                         "confidence": float(probs.max()), "class_names": names, "layers": layers})
