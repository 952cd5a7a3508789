"""Explanations of one prediction, computed with captum on a frozen copy of a snapshot's model:
class activation maps (Grad-CAM, Grad-CAM++, LayerCAM, guided Grad-CAM) on a Conv2d layer, and
pixel attributions (saliency, Integrated Gradients, SmoothGrad, occlusion, GradientShap, KernelShap
on superpixels). What is explained is the target class's logit (the network's raw score), except
where a method says otherwise.

    frozen = frozen_model(store, run_id, epoch=3)
    view = explain(frozen, "gradcam", sample=12)
    view.arrays["map"]          # (H, W): where the evidence for the class lies, on the input's grid

Departures from the papers, called out: Grad-CAM maps are taken at the output of the chosen Conv2d
layer's block (after its BatchNorm and activation, when those follow it), as the paper takes
rectified feature maps; saliency is |gradient|, largest over channels (Simonyan et al.); SmoothGrad
averages |gradient| over noisy copies, with noise as a fraction of the data's value range (captum's
default of 1.0 swamps inputs in [0, 1]).
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from playground.errors import PlaygroundError
from playground.inspect.evaluate import View
from playground.inspect.filters import conv_layers
from playground.inspect.inputs import check_input, example, split_arrays, value_range

CAMS = {"gradcam": "Grad-CAM", "gradcampp": "Grad-CAM++", "layercam": "LayerCAM",
        "guided": "Guided Grad-CAM"}
PIXELS = {"saliency": "Saliency", "ig": "Integrated Gradients", "smoothgrad": "SmoothGrad",
          "occlusion": "Occlusion", "shap": "GradientShap", "deepshap": "DeepLiftShap",
          "kernelshap": "KernelShap (superpixels)"}
METHODS = {**CAMS, **PIXELS}
ABOUT = {
    "gradcam": "which regions of the chosen layer's maps raise the class score (gradient-weighted maps)",
    "gradcampp": "Grad-CAM weighting each position by its own gradients: finds several instances, sharper",
    "layercam": "each position weighted by its positive gradient: usable on earlier, finer layers",
    "guided": "Grad-CAM times guided backpropagation: the map's region, drawn at pixel detail",
    "saliency": "how much each pixel's small change moves the class score (|gradient|)",
    "ig": "gradients summed along a straight path from a baseline image to the input; adds up to "
          "f(input) - f(baseline)",
    "smoothgrad": "saliency averaged over noisy copies of the input: less speckle",
    "occlusion": "how much the class score drops when a window of the input is covered",
    "shap": "Shapley values estimated with gradients against a background of real examples of every class; "
            "add up to f(input) - E[f(background)]",
    "deepshap": "Shapley values by DeepLift's rules against a background of real examples; add up exactly to "
                "f(input) - E[f(background)]",
    "kernelshap": "Shapley values of superpixels (grid cells), from the scores of the input with cells switched "
                  "off; add up to f(input) - f(baseline)",
}
BASELINES = ("black", "blur", "noise", "mean")
ACTIVATIONS = (torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.ELU, torch.nn.GELU, torch.nn.SiLU, torch.nn.Tanh,
               torch.nn.Sigmoid)
NORMS = (torch.nn.BatchNorm2d, torch.nn.GroupNorm, torch.nn.InstanceNorm2d)


@dataclass
class Options:
    """How a method runs; every method reads only its own fields."""
    layer: int | None = None       # CAM methods: the Conv2d layer (1-based, as the editor numbers them); None = last
    baseline: str | None = None    # ig, occlusion, kernelshap: black (the data's lowest value), blur, noise or mean
                                   # (the training inputs' mean); None: black for images, mean for tables
    steps: int = 32                # ig: points on the path (Gauss-Legendre)
    noise: float = 0.15            # smoothgrad: noise std as a fraction of the data's value range
    samples: int = 16              # smoothgrad: noisy copies; shap: random points per background example
    window: int = 4                # occlusion: side of the covering square, in pixels
    stride: int = 2                # occlusion: its step
    cell: int = 4                  # kernelshap: side of a superpixel (grid cell), in pixels
    evals: int = 256               # kernelshap: model evaluations
    background: int = 40           # shap: background examples, drawn evenly from every class
    seed: int = 0                  # noise, baselines and samples are drawn from this seed


def options(**kw) -> Options:
    o = Options(**{k: v for k, v in kw.items() if v is not None and k in Options.__dataclass_fields__})
    if o.baseline is not None and o.baseline not in BASELINES:
        raise PlaygroundError(f"baseline: '{o.baseline}' is not one of {', '.join(BASELINES)}")
    for name, lo, hi in (("steps", 2, 1024), ("samples", 1, 256), ("window", 1, 64), ("stride", 1, 64),
                         ("cell", 1, 64), ("evals", 16, 20000), ("background", 1, 2000)):
        v = getattr(o, name)
        if not lo <= v <= hi:
            raise PlaygroundError(f"{name}: {v} is outside {lo} to {hi}")
    if not 0 <= o.noise <= 1:
        raise PlaygroundError(f"noise: {o.noise} is outside 0 to 1 (a fraction of the data's value range)")
    return o


# ---- the model and its layers ------------------------------------------------------------------

class Unscaled(torch.nn.Module):
    """A regression network's output in its target's own units: y * std + mean (the data's scaling)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean.float())
        self.register_buffer("std", std.float())

    def forward(self, y):
        return y * self.std + self.mean


def _task_name(frozen) -> str:
    task = getattr(frozen, "task", None)
    return task.name if task is not None else frozen.data.task


def regression(frozen) -> bool:
    return _task_name(frozen) == "regression"


def frozen_copy(frozen) -> torch.nn.Module:
    """A copy of the snapshot's model for captum to hook (eval mode, gradients on the copy only); a
    regression network's output is turned back into the target's units, so that SHAP values are too."""
    model = copy.deepcopy(frozen.model).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    meta = frozen.data.meta
    if regression(frozen) and "y_std" in meta:
        model = torch.nn.Sequential(*model, Unscaled(meta["y_mean"], meta["y_std"]).to(next(model.parameters()).device))
    return model


def output_names(frozen) -> list[str]:
    """What the outputs are: a classifier's classes, or a regression's target columns."""
    if regression(frozen):
        return [str(t) for t in frozen.data.target_names] or ["prediction"]
    return [str(c) for c in frozen.data.class_names]


def feature_names(frozen) -> list[str]:
    """A table's column names (x1, x2, ... where the data set has none)."""
    return list(frozen.data.meta.get("feature_names", [f"x{i + 1}" for i in range(frozen.data.X_train.shape[1])]))


def check_explainable(frozen) -> None:
    name = _task_name(frozen)
    if frozen.data.kind not in ("image", "table") or name not in ("classification", "regression") or \
            (name == "regression" and frozen.data.kind != "table"):
        raise PlaygroundError("explanations are for classifiers of images or tables, and for regressions on tables; "
                              f"this run ({frozen.data.name}, {name}) is none of these: train one on MNIST, shapes, "
                              "breast cancer, wine or diabetes")


def cam_layer(frozen, layer: int | None) -> tuple[int, int]:
    """(Conv2d layer, the layer whose output the map is taken at: the end of its block, after the
    BatchNorm and activation that follow it); 1-based."""
    convs = conv_layers(frozen)
    if not convs:
        raise PlaygroundError("this network has no Conv2d layer, so Grad-CAM has no feature maps to weigh; "
                              "use saliency, Integrated Gradients or SHAP, or train a CNN")
    layer = convs[-1] if layer is None else layer
    if layer not in convs:
        raise PlaygroundError(f"layer: {layer} is not a Conv2d layer; the Conv2d layers are "
                              f"{', '.join(map(str, convs))}")
    end = layer
    while end < len(frozen.model) and isinstance(frozen.model[end], ACTIVATIONS + NORMS):
        end += 1
    return layer, end


def baseline_of(x: torch.Tensor, kind: str, lo_hi: tuple[float, float], seed: int = 0,
                mean: torch.Tensor | None = None) -> torch.Tensor:
    """The reference input (1, ...) a method compares x (1, ...) with: black (the data's lowest
    value), a heavily blurred x, uniform noise over the data's range, or mean (the training inputs'
    mean, given: for a table, the average row)."""
    lo, hi = lo_hi
    if kind == "mean":
        return mean[None].to(x).expand_as(x).clone()
    if kind == "black":
        return torch.full_like(x, lo)
    if kind == "blur":
        if x.dim() != 4:
            raise PlaygroundError("baseline: blur is for images; for a table use mean, black or noise")
        from torchvision.transforms.functional import gaussian_blur

        k = max(3, (min(x.shape[-2:]) // 3) | 1)                                # odd kernel, a third of the image
        return gaussian_blur(x, [k, k], [k / 3, k / 3])
    g = torch.Generator().manual_seed(seed)
    return lo + (hi - lo) * torch.rand(x.shape, generator=g).to(x)


def background_of(frozen, n: int, seed: int = 0) -> torch.Tensor:
    """n training examples (n, ...) drawn evenly across classes: SHAP's reference distribution."""
    X, y = frozen.data.X_train, frozen.data.y_train
    g = np.random.RandomState(seed)
    if y.dtype.is_floating_point:                                   # a regression: no classes to draw across
        return X[torch.from_numpy(g.choice(len(X), min(n, len(X)), replace=False))]
    classes = np.unique(y.numpy())
    per = [np.flatnonzero(y.numpy() == c) for c in classes]
    picks = [g.choice(ix, min(len(ix), -(-n // len(classes))), replace=False) for ix in per]
    order = np.concatenate([p[i:i + 1] for i in range(max(map(len, picks))) for p in picks])[:n]
    return X[torch.from_numpy(order)]


# ---- class activation maps -----------------------------------------------------------------------

def _acts_and_grads(model, module, x, target) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(activations (N, K, h, w) of module, d logit[target] / d activations, logits (N, classes)); target:
    a class, or one per input (N,). Each input's gradient is its own: the network is in eval mode."""
    store = {}

    def keep(_m, _i, out):
        out.retain_grad()
        store["a"] = out

    handle = module.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            logits = model(x.requires_grad_(True))
            logits.gather(1, _targets(target, len(x), logits.device)[:, None]).sum().backward()
    finally:
        handle.remove()
    return store["a"].detach(), store["a"].grad.detach(), logits.detach()


def _targets(target, n: int, device) -> torch.Tensor:
    """target (a class, or one per input) as a (n,) long tensor."""
    return torch.as_tensor(target, dtype=torch.long, device=device).reshape(-1).expand(n)


def cams(model, module, x: torch.Tensor, target, kind: str) -> torch.Tensor:
    """The maps (N, h, w) of inputs x (N, ...) on module's grid, >= 0: Grad-CAM, Grad-CAM++ or LayerCAM;
    target: a class, or one per input."""
    if kind == "gradcam":
        from captum.attr import LayerGradCam

        t = _targets(target, len(x), x.device)
        return LayerGradCam(model, module).attribute(x, target=t.tolist() if len(x) > 1 else int(t[0]),
                                                     relu_attributions=True)[:, 0].detach()
    a, g, _ = _acts_and_grads(model, module, x.clone(), target)                 # (N, K, h, w) each
    if kind == "layercam":
        return F.relu((F.relu(g) * a).sum(1))
    # Grad-CAM++ (Chattopadhay et al. 2018) with the exponential of the score, whose higher
    # derivatives are powers of the gradient
    g2, g3 = g ** 2, g ** 3
    denom = 2 * g2 + (a.sum((2, 3), keepdim=True) * g3)
    alpha = g2 / torch.where(denom != 0, denom, torch.ones_like(denom))
    weights = (alpha * F.relu(g)).sum((2, 3), keepdim=True)                    # (N, K, 1, 1)
    return F.relu((weights * a).sum(1))


def cam(model, module, x: torch.Tensor, target: int, kind: str) -> torch.Tensor:
    """The map (h, w) of one input x (1, ...) on module's grid (see cams)."""
    return cams(model, module, x, target, kind)[0]


def upsample(m: torch.Tensor, size) -> torch.Tensor:
    """A layer's map (h, w), or maps (N, h, w), on the input's grid (H, W), bilinear (captum's
    LayerAttribution.interpolate)."""
    from captum.attr import LayerAttribution

    return LayerAttribution.interpolate(m.reshape(-1, 1, *m.shape[-2:]), tuple(size), "bilinear")[:, 0].reshape(
        *m.shape[:-2], *size)


# ---- one explanation -------------------------------------------------------------------------------

def attribute(frozen, model, x: torch.Tensor, method: str, target: int, o: Options,
              background: torch.Tensor | None = None) -> dict:
    """method on input x (1, ...) for class target. Returns tensors: "map" (H, W) (tables: (F,)), the
    per-pixel (per-feature) explanation, signed where the method is; "attribution" (1, ...) for pixel
    methods; "layer_map" (h, w) for CAM methods; "delta" (a 0-d tensor) where completeness applies:
    the sum of attributions minus what they should add up to."""
    if method not in METHODS:
        raise PlaygroundError(f"method: '{method}' is not one of {', '.join(METHODS)}")
    if method in CAMS:
        return _cam_attribution(frozen, model, x, method, target, o)
    if method in ("saliency", "smoothgrad"):
        return _gradient_attribution(model, x, method, target, o, value_range(frozen.data.X_train))
    if method in ("shap", "deepshap"):
        bg = (background if background is not None else background_of(frozen, o.background, o.seed)).to(x)
        attr = shap_values(model, x, bg, method, target, o)
        expected = _score(model, bg, target).mean()
        return {"map": attr[0].sum(0) if x.dim() == 4 else attr[0], "attribution": attr,
                "delta": attr.sum() - (_score(model, x, target)[0] - expected), "reference": expected}
    if method == "occlusion" and x.dim() != 4:
        raise PlaygroundError("occlusion covers windows of an image; for a table use SHAP")
    base = _reference(frozen, x, o)
    if method == "ig":
        return _integrated_gradients(model, x, base, target, o)
    if method == "occlusion":
        return _occlusion(model, x, base, target, o)
    return _kernel_shap(model, x, base, target, o)


def _cam_module(frozen, model, x: torch.Tensor, method: str, o: Options) -> torch.nn.Module:
    """The layer whose maps a CAM method weighs: the Conv2d layer o.layer (default: the last) with what follows it."""
    if x.dim() != 4:
        raise PlaygroundError(f"{METHODS[method]} needs a convolutional network on images; for a table "
                              "use SHAP, Integrated Gradients or saliency")
    _, end = cam_layer(frozen, o.layer)
    return model[end - 1]


def _cam_attribution(frozen, model, x: torch.Tensor, method: str, target: int, o: Options) -> dict:
    """Grad-CAM, Grad-CAM++, LayerCAM or guided Grad-CAM on the Conv2d layer o.layer (default: the last)."""
    module = _cam_module(frozen, model, x, method, o)
    if method == "guided":
        from captum.attr import GuidedGradCam

        # guided backpropagation times the layer's Grad-CAM, at pixel detail; the layer's own map
        # is returned too, for display
        attr = GuidedGradCam(model, module).attribute(x.clone(), target=target)          # (1, C, H, W)
        layer_map = cam(model, module, x.clone(), target, "gradcam")
        return {"map": attr[0].sum(0).detach(), "attribution": attr.detach(), "layer_map": layer_map}
    layer_map = cam(model, module, x.clone(), target, method)
    return {"map": upsample(layer_map, x.shape[-2:]), "layer_map": layer_map}


def _gradient_attribution(model, x: torch.Tensor, method: str, target: int, o: Options,
                          lo_hi: tuple[float, float]) -> dict:
    """|gradient| (saliency), or its mean over noisy copies of x (smoothgrad, noise o.noise of the data's range)."""
    from captum.attr import NoiseTunnel, Saliency

    if method == "saliency":
        attr = Saliency(model).attribute(x.clone(), target=target, abs=True)
    else:
        torch.manual_seed(o.seed)
        attr = NoiseTunnel(Saliency(model)).attribute(x.clone(), nt_type="smoothgrad", nt_samples=o.samples,
                                                      nt_samples_batch_size=o.samples,
                                                      stdevs=o.noise * (lo_hi[1] - lo_hi[0]), target=target, abs=True)
    return {"map": attr[0].amax(0) if x.dim() == 4 else attr[0], "attribution": attr}


def _reference(frozen, x: torch.Tensor, o: Options) -> torch.Tensor:
    """The baseline (1, ...) that ig, occlusion and kernelshap compare x with: o.baseline, by default black
    for images and the mean training row for tables."""
    kind = o.baseline or ("black" if x.dim() == 4 else "mean")
    mean = frozen.data.X_train.mean(0) if kind == "mean" else None
    return baseline_of(x, kind, value_range(frozen.data.X_train), o.seed, mean)


def _integrated_gradients(model, x: torch.Tensor, base: torch.Tensor, target: int, o: Options) -> dict:
    from captum.attr import IntegratedGradients

    attr, delta = IntegratedGradients(model).attribute(x.clone(), baselines=base, target=target, n_steps=o.steps,
                                                       internal_batch_size=64, return_convergence_delta=True)
    return {"map": attr[0].sum(0) if x.dim() == 4 else attr[0], "attribution": attr, "delta": delta[0],
            "reference": _score(model, base, target)}


def _occlusion(model, x: torch.Tensor, base: torch.Tensor, target: int, o: Options) -> dict:
    """A square of o.window pixels, all channels, moved by o.stride and set to the baseline (images only)."""
    from captum.attr import Occlusion

    c = x.shape[1]
    attr = Occlusion(model).attribute(x.clone(), sliding_window_shapes=(c, o.window, o.window),
                                      strides=(c, o.stride, o.stride), target=target,
                                      baselines=base, perturbations_per_eval=64)
    return {"map": attr[0].sum(0) / c, "attribution": attr}


def _kernel_shap(model, x: torch.Tensor, base: torch.Tensor, target: int, o: Options) -> dict:
    """KernelShap on superpixels: a grid of cells, each one feature switched to the baseline or not
    (tables: each column one feature)."""
    from captum.attr import KernelShap

    image = x.dim() == 4
    mask = None
    if image:
        h, w = x.shape[-2:]
        rows, cols = torch.arange(h) // o.cell, torch.arange(w) // o.cell
        mask = (rows[:, None] * ((w + o.cell - 1) // o.cell) + cols[None, :])[None, None].expand_as(x).to(x.device)
    torch.manual_seed(o.seed)
    attr = KernelShap(model).attribute(x.clone(), baselines=base, target=target, feature_mask=mask,
                                       n_samples=o.evals, perturbations_per_eval=64)
    if image:                                   # every pixel of a cell carries the cell's value: count each cell once
        cells = torch.zeros(int(mask.max()) + 1, dtype=attr.dtype, device=attr.device)
        cells.scatter_(0, mask[0, 0].flatten(), attr[0, 0].flatten())
        total, shown = cells.sum(), attr[0, 0]
    else:
        total, shown = attr.sum(), attr[0]
    ref = _score(model, base, target)[0]
    return {"map": shown, "attribution": attr, "delta": total - (_score(model, x, target)[0] - ref), "reference": ref}


def shap_values(model, x: torch.Tensor, bg: torch.Tensor, method: str, target: int, o: Options) -> torch.Tensor:
    """SHAP values (like x: (B, ...)) of inputs x against the background bg: DeepLiftShap (exact sums
    with one activation module per use) or GradientShap (each background point about 8+ times)."""
    if method == "deepshap":
        from captum.attr import DeepLiftShap

        return DeepLiftShap(model).attribute(x.clone(), baselines=bg, target=target)
    from captum.attr import GradientShap

    torch.manual_seed(o.seed)
    return GradientShap(model).attribute(x.clone(), baselines=bg, n_samples=max(o.samples, 8) * len(bg), stdevs=0.0,
                                         target=target)


@torch.no_grad()
def _score(model, x: torch.Tensor, target: int) -> torch.Tensor:
    return model(x)[:, target]


def _attribute(frozen, model, x: torch.Tensor, method: str, target: int, o: Options, background=None) -> dict:
    """attribute(), its tensors detached, without captum's warnings ("required_grads has been set",
    "setting hooks on ReLU activations")."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="captum")
        return {k: v.detach() for k, v in attribute(frozen, model, x, method, target, o, background).items()}


def _input(frozen, sample: int, split: str, x):
    if x is None:
        return example(frozen, sample, split), sample
    return check_input(frozen, x), None


def explain(frozen, method: str = "gradcam", sample: int = 0, split: str = "val", target: int | None = None,
            x: torch.Tensor | None = None, **opts) -> View:
    """method on input `sample` of the split (or x, an input of the user's own) for class target
    (None: the predicted class). Arrays: input (C, H, W) or (F,), map (H, W) or (F,), probs
    (classes,), and attribution (C, H, W) or (F,) / layer_map (h, w) as the method gives them.
    Summary: the method, target, predicted and true class, completeness where it applies."""
    check_explainable(frozen)
    o = options(**opts)
    x0, sample = _input(frozen, sample, split, x)
    model = frozen_copy(frozen)
    xb = x0[None].to(next(model.parameters()).device)
    with torch.no_grad():
        logits = model(xb)                                           # (1, outputs): logits, or a regression's values
    if not torch.isfinite(logits).all():
        raise PlaygroundError(f"the network's output at epoch {frozen.epoch} is not finite (NaN or inf): the run "
                              f"diverged by then; pick an earlier epoch")
    names, reg = output_names(frozen), regression(frozen)
    probs = logits.float()[0] if reg else torch.softmax(logits.float(), 1)[0]
    target = (0 if reg else int(probs.argmax())) if target is None else int(target)
    if not 0 <= target < len(names):
        raise PlaygroundError(f"target: {target} is not {'an output' if reg else 'a class'} of this run "
                              f"(0 to {len(names) - 1})")
    out = _attribute(frozen, model, xb, method, target, o)
    arrays = {"input": x0.cpu().numpy(), "map": out["map"].float().cpu().numpy(), "probs": probs.cpu().numpy()}
    if "attribution" in out:
        arrays["attribution"] = out["attribution"][0].float().cpu().numpy()
    if "layer_map" in out:
        arrays["layer_map"] = out["layer_map"].float().cpu().numpy()
    summary = {"epoch": frozen.epoch, "step": frozen.step, "partial": frozen.partial, "method": method,
               "method_name": METHODS[method], "about": ABOUT[method], "split": split, "sample": sample,
               "task": "regression" if reg else "classification", "target": target, "target_name": names[target],
               "logit": float(logits[0, target]), "class_names": names, "options": asdict(o)}
    if reg:
        summary["predicted"], summary["confidence"] = f"{float(probs[target]):.4g}", None
    else:
        summary["predicted"], summary["confidence"] = names[int(probs.argmax())], float(probs.max())
    if sample is not None:
        y = split_arrays(frozen, split)[1][sample]
        if reg:
            meta = frozen.data.meta
            value = (float(y[target] * meta["y_std"][target] + meta["y_mean"][target]) if "y_std" in meta
                     else float(y[target]))
            summary["true"] = f"{value:.4g}"
        else:
            summary["true"] = names[int(y)]
    if method in CAMS:
        summary["layer"], summary["layer_end"] = cam_layer(frozen, o.layer)
        summary["conv_layers"] = conv_layers(frozen)
    if "delta" in out:
        expected, gap = float(out["reference"].float().mean()), float(out["delta"])
        should_be = float(logits[0, target]) - expected
        summary["completeness"] = {"sum": should_be + gap, "should_be": should_be,
                                   "reference": expected, "gap": gap,
                                   "relative": abs(gap) / max(abs(should_be), 1e-12)}
    if frozen.data.kind == "table":
        summary["features"] = feature_names(frozen)
    return View(arrays, summary)


# ---- checks that say whether an explanation can be trusted ---------------------------------------

TRUST = {
    "completeness": "the attributions add up to f(input) - f(baseline) (or - E[f]); the gap is what they miss",
    "randomisation": "re-initialise the layers from the output down: a map that still looks the same does not "
                     "depend on what the network learned (Adebayo et al. 2018)",
    "pointing": "the share of images whose map peaks on the object or within 2 pixels of it, against a map "
                "that peaks anywhere (Zhang et al. 2016)",
    "deletion": "the class's probability as the most important pixels are removed (lower area = the map found "
                "what matters) or inserted into a blurred copy (higher area = better), against a random order",
}
COMPLETE = ("ig", "shap", "deepshap", "kernelshap")
TOLERANCE = 2                   # pointing game: pixels of slack around the object (15 px at 224 px, scaled to 32)
FLAT = 0.5                      # randomisation: a map still this rank-correlated once every layer is random is flagged


BATCHED = ("gradcam", "gradcampp", "layercam", "saliency")    # one input's map does not depend on its batch's others
MAP_BATCH = 64


def maps_of(frozen, model, X: torch.Tensor, method: str, targets, o: Options) -> torch.Tensor:
    """The maps (N, H, W) (tables: (N, F)) of inputs X (N, ...), each for its own target: many inputs a
    pass for the methods whose map of an input is the same alone or in a batch (the network is in eval
    mode), one at a time for the others. The checks' cost: ~10x less for Grad-CAM on 200 images."""
    targets = [int(t) for t in targets]
    if method not in BATCHED:
        return torch.stack([_attribute(frozen, model, x[None], method, t, o)["map"] for x, t in zip(X, targets)])
    parts = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="captum")
        for i in range(0, len(X), MAP_BATCH):
            x, t = X[i:i + MAP_BATCH], targets[i:i + MAP_BATCH]
            if method == "saliency":
                from captum.attr import Saliency

                attr = Saliency(model).attribute(x.clone(), target=t, abs=True).detach()
                parts.append(attr.amax(1) if x.dim() == 4 else attr)
            else:
                layer = cams(model, _cam_module(frozen, model, x, method, o), x.clone(), t, method)
                parts.append(upsample(layer.detach(), x.shape[-2:]))
    return torch.cat(parts)


def _inputs(frozen, n: int, seed: int):
    X, y = split_arrays(frozen, "val")
    n = min(n, len(X))
    order = torch.from_numpy(np.random.RandomState(seed).permutation(len(X))[:n])
    return order, X[order], y[order]


def _spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    from scipy.stats import spearmanr

    a, b = a.abs().flatten().cpu().numpy(), b.abs().flatten().cpu().numpy()
    if a.std() == 0 or b.std() == 0:
        return 0.0                                          # a constant map keeps no ranking at all
    return float(spearmanr(a, b).statistic)


def completeness(frozen, method: str, n: int = 16, o: Options | None = None) -> dict:
    """How far the attributions of n validation inputs miss f(x) - f(baseline): mean and largest
    |gap| / |f(x) - f(baseline)|, and the mean |gap| in logit units."""
    if method not in COMPLETE:
        return {"applies": False, "why": f"{METHODS[method]} makes no claim to add up to the score"}
    o = o or Options()
    model = frozen_copy(frozen)
    bg = background_of(frozen, o.background, o.seed) if method in ("shap", "deepshap") else None
    gaps, rel = [], []
    _, X, _ = _inputs(frozen, n, o.seed)
    for x in X:
        with torch.no_grad():
            target = 0 if regression(frozen) else int(model(x[None]).argmax())
        out = _attribute(frozen, model, x[None], method, target, o, bg)
        should = float(_score(model, x[None], target)[0]) - float(out["reference"].float().mean())
        gaps.append(abs(float(out["delta"])))
        rel.append(gaps[-1] / max(abs(should), 1e-6))
    return {"applies": True, "images": len(X), "mean_gap": float(np.mean(gaps)),
            "mean_relative_gap": float(np.mean(rel)), "max_relative_gap": float(np.max(rel)),
            "ok": bool(np.median(rel) < 0.05)}


def randomisation(frozen, method: str, n: int = 8, o: Options | None = None):
    """Cascading model randomisation: re-initialise the layers with weights from the output down, one
    more at each stage, and compare each input's |map| with the trained network's (Spearman). Yields
    one stage at a time: {"layer", "type", "spearman"} (the mean over n validation inputs)."""
    o = o or Options()
    model = frozen_copy(frozen)
    _, X, _ = _inputs(frozen, n, o.seed)
    with torch.no_grad():
        targets = [0 if regression(frozen) else int(t) for t in model(X).argmax(1)]
    original = maps_of(frozen, model, X, method, targets, o)
    layers = [i for i, m in enumerate(model) if any(True for _ in m.parameters())]
    torch.manual_seed(o.seed)
    for i in reversed(layers):
        module = model[i]
        for part in module.modules():                       # a block's own layers too
            if hasattr(part, "reset_parameters"):
                part.reset_parameters()
            if hasattr(part, "reset_running_stats"):
                part.reset_running_stats()
        for p in module.parameters():
            p.requires_grad_(False)
        maps = maps_of(frozen, model, X, method, targets, o)
        yield {"layer": i + 1, "type": type(module).__name__,
               "spearman": float(np.mean([_spearman(a, b) for a, b in zip(original, maps)]))}


def pointing_game(frozen, method: str, n: int = 200, o: Options | None = None, tolerance: int = TOLERANCE) -> dict:
    """On a data set that knows where its objects are (the shapes set's boxes): the share of n
    validation images (target: the true class) whose map's maximum lies on the object's box grown by
    `tolerance` pixels, the same with no slack, and the share a map with its maximum anywhere would
    score (the box's area over the image's)."""
    boxes = frozen.data.meta.get("boxes_val")
    if boxes is None:
        return {"applies": False, "why": f"the {frozen.data.name} set does not say where its objects are; "
                                         "train on the shapes set for this check"}
    o = o or Options()
    model = frozen_copy(frozen)
    order, X, y = _inputs(frozen, n, o.seed)
    h, w = X.shape[-2:]
    hits, strict, chance = [], [], []
    for m, b in zip(maps_of(frozen, model, X, method, y, o), boxes[order]):     # (H, W) each
        r, c = divmod(int(m.flatten().argmax()), w)
        r0, c0, r1, c1 = (int(v) for v in b)
        strict.append(r0 <= r < r1 and c0 <= c < c1)
        hits.append(r0 - tolerance <= r < r1 + tolerance and c0 - tolerance <= c < c1 + tolerance)
        area = (min(r1 + tolerance, h) - max(r0 - tolerance, 0)) * (min(c1 + tolerance, w) - max(c0 - tolerance, 0))
        chance.append(area / (h * w))
    return {"applies": True, "images": len(X), "tolerance": tolerance, "hit_rate": float(np.mean(hits)),
            "hit_rate_exact": float(np.mean(strict)), "random": float(np.mean(chance))}


def deletion_insertion(frozen, method: str, n: int = 16, steps: int = 16, o: Options | None = None) -> dict:
    """For n validation inputs (target: the predicted class): the class's probability as the most
    important pixels (by the map) are set to black, step by step (deletion), and as they are put
    into a blurred copy (insertion); the mean areas under both curves, and the same with a random
    pixel order. Curves: (steps + 1,) means over the inputs."""
    o = o or Options()
    model = frozen_copy(frozen)
    _, X, _ = _inputs(frozen, n, o.seed)
    if X.dim() != 4:
        return {"applies": False, "why": "deletion and insertion remove pixels of images"}
    lo_hi = value_range(frozen.data.X_train)
    g = torch.Generator().manual_seed(o.seed)
    fractions = torch.linspace(0, 1, steps + 1)
    with torch.no_grad():
        targets = model(X).argmax(1)                                            # (N,)
    maps = maps_of(frozen, model, X, method, targets, o).flatten(1)                # (N, H*W)
    n, hw = maps.shape
    black, blurred = baseline_of(X, "black", lo_hi), baseline_of(X, "blur", lo_hi)
    moved = (fractions * hw).round().long()                                     # pixels moved at each step
    orders = {"": maps.argsort(1, descending=True),
              "_random": torch.stack([torch.randperm(hw, generator=g) for _ in range(n)])}
    mean = {}
    for kind, order in orders.items():
        rank = torch.empty_like(order).scatter_(1, order, torch.arange(hw).expand(n, hw))
        on = (rank[:, None, :] < moved[None, :, None]).to(X.dtype)             # (N, steps+1, H*W): already moved
        on = on.view(n, steps + 1, 1, *X.shape[-2:])
        for curve, start, end in (("deletion", X, black), ("insertion", blurred, X)):
            batch = (start[:, None] * (1 - on) + end[:, None] * on).flatten(0, 1)    # (N * (steps+1), C, H, W)
            with torch.no_grad():
                p = torch.cat([torch.softmax(model(batch[i:i + 512]).float(), 1) for i in range(0, len(batch), 512)])
            mean[curve + kind] = p.view(n, steps + 1, -1).gather(2, targets.view(n, 1, 1).expand(n, steps + 1, 1))[
                ..., 0].mean(0)
    auc = {k: float(torch.trapezoid(v, fractions)) for k, v in mean.items()}
    return {"applies": True, "images": len(X), "fractions": fractions.tolist(),
            "curves": {k: v.tolist() for k, v in mean.items()}, "auc": auc,
            "ok": auc["deletion"] < auc["deletion_random"] and auc["insertion"] > auc["insertion_random"]}


def checks_for(frozen) -> list[str]:
    """The trust checks that apply to the run's data: pixels can be pointed at and deleted, features not."""
    return ["completeness", "randomisation"] + (["pointing", "deletion"] if frozen.data.kind == "image" else [])


def run_check(frozen, method: str, name: str, n: int = 16, o: Options | None = None) -> dict:
    """One trust check (a key of TRUST) of method on n validation inputs (randomisation uses at most
    8, the pointing game at least 200)."""
    o = o or Options()
    if name == "completeness":
        return completeness(frozen, method, n, o)
    if name == "randomisation":
        stages = list(randomisation(frozen, method, min(n, 8), o))
        last = stages[-1]["spearman"] if stages else None
        return {"applies": True, "stages": stages, "final": last, "ok": last is not None and last < FLAT}
    if name == "pointing":
        return pointing_game(frozen, method, max(n, 200), o)
    return deletion_insertion(frozen, method, n, o=o)


def trust(frozen, method: str = "gradcam", n: int = 16, **opts):
    """Every check for method, one at a time as each is done: yields (check name, result dict)."""
    check_explainable(frozen)
    if method not in METHODS:
        raise PlaygroundError(f"method: '{method}' is not one of {', '.join(METHODS)}")
    o = options(**opts)
    for name in checks_for(frozen):
        yield name, run_check(frozen, method, name, n, o)


def trust_view(frozen, method: str = "gradcam", n: int = 16, on_check=None, **opts) -> View:
    """trust() gathered into one View: summary {check: result}; arrays: the deletion and insertion
    curves (fractions, deletion, insertion, ..._random) and the randomisation stages' correlations.
    on_check(name, result) is called as each check finishes (the CLI prints them as they come)."""
    summary, arrays = {"epoch": frozen.epoch, "step": frozen.step, "partial": frozen.partial, "method": method,
                       "method_name": METHODS.get(method, method)}, {}
    for name, result in trust(frozen, method, n, **opts):
        if name == "deletion" and result.get("applies"):
            arrays["fractions"] = np.asarray(result["fractions"], np.float32)
            arrays.update({k: np.asarray(v, np.float32) for k, v in result.pop("curves").items()})
            result.pop("fractions")
        if name == "randomisation":
            arrays["randomised_layers"] = np.asarray([s["layer"] for s in result["stages"]])
            arrays["spearman"] = np.asarray([s["spearman"] for s in result["stages"]], np.float32)
        summary[name] = result
        if on_check:
            on_check(name, result)
    return View(arrays, summary)


def over_training(frozens, method: str = "gradcam", sample: int = 0, split: str = "val",
                  target: int | None = None, x: torch.Tensor | None = None, **opts) -> View:
    """The same input's explanation at every snapshot (frozens: the run's frozen models, oldest first).
    The target is fixed across epochs: the class given, else the true class, else the last snapshot's
    prediction. Arrays: epochs (S,), maps (S, H, W) or (S, F), probs (S, classes), input. Summary:
    per-epoch prediction; maps are not rescaled (the page chooses per-image or shared scales)."""
    frozens = list(frozens)
    if not frozens:
        raise PlaygroundError("this run has no weight snapshot yet")
    last = frozens[-1]
    if target is None:
        if x is None:
            example(last, sample, split)                            # a clear error outside the split
            target = int(split_arrays(last, split)[1][sample])
        else:
            target = int(explain(last, "saliency", sample, split, None, x).summary["target"])
    views = [explain(f, method, sample, split, target, x, **opts) for f in frozens]
    return View({"epochs": np.asarray([f.epoch for f in frozens]), "maps": np.stack([v.arrays["map"] for v in views]),
                 "probs": np.stack([v.arrays["probs"] for v in views]), "input": views[-1].arrays["input"]},
                {"method": method, "method_name": METHODS[method], "target": target,
                 "target_name": views[-1].summary["target_name"], "sample": views[-1].summary["sample"],
                 "predicted": [v.summary["predicted"] for v in views],
                 "confidence": [v.summary["confidence"] for v in views]})


def shap_summary(frozen, target: int | None = None, method: str = "deepshap", split: str = "val", **opts) -> View:
    """SHAP values of every row of a table's split for class target (default: the second class of two,
    else the first): the beeswarm, bar and waterfall plots' data. DeepLiftShap (exact: each row's values
    add up to f(row) - E[f(background)]) or GradientShap. Arrays: values (N, F), features (N, F) (the
    inputs as the network sees them), fx (N,) the class's logit, expected (), the mean logit over the
    background; mean_abs (F,). Summary: feature names, ranking by mean |SHAP|, largest completeness gap."""
    check_explainable(frozen)
    if frozen.data.kind != "table":
        raise PlaygroundError("the SHAP summary is for tables (one value per feature); for images use explain "
                              "--method shap on one input")
    if method not in ("deepshap", "shap"):
        raise PlaygroundError(f"method: '{method}' is not one of deepshap, shap for the SHAP summary")
    o = options(**opts)
    names = output_names(frozen)
    target = (1 if len(names) == 2 and not regression(frozen) else 0) if target is None else int(target)
    if not 0 <= target < len(names):
        raise PlaygroundError(f"target: {target} is not an output of this run (0 to {len(names) - 1})")
    model = frozen_copy(frozen)
    X, _ = split_arrays(frozen, split)
    bg = background_of(frozen, o.background, o.seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="captum")
        values = shap_values(model, X, bg, method, target, o).detach()                      # (N, F)
    fx, expected = _score(model, X, target), _score(model, bg, target).mean()
    gaps = (values.sum(1) - (fx - expected)).abs()
    mean_abs = values.abs().mean(0)
    features = feature_names(frozen)
    order = mean_abs.argsort(descending=True).tolist()
    return View({"values": values.numpy(), "features": X.numpy(), "fx": fx.numpy(), "expected": expected.numpy(),
                 "mean_abs": mean_abs.numpy()},
                {"epoch": frozen.epoch, "step": frozen.step, "partial": frozen.partial, "method": method,
                 "method_name": METHODS[method], "target": target, "target_name": names[target],
                 "class_names": names, "feature_names": features, "ranking": [features[i] for i in order],
                 "expected": float(expected), "rows": int(len(X)), "max_gap": float(gaps.max()),
                 "max_relative_gap": float((gaps / (fx - expected).abs().clamp_min(1e-6)).max())})
