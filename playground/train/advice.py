"""What to tell the user when a run diverges: advice that fits the config, for every value.

A learning rate above the optimizer's usual range is the usual cause, and lr / 10 the usual fix; a
learning rate that is already small is not blamed: the initialisation, a deep network without
normalisation, a very large weight decay or the data are named instead.
"""
from __future__ import annotations

import math

from playground.config import RunConfig
from playground.train.optim import LABELS

# Usual learning rates per optimizer: (bottom, top). Below the bottom the learning rate is not the
# cause of a divergence; above the top it is the first suspect. SGD with momentum moves about
# lr / (1 - momentum) per step, so its range is plain SGD's scaled by (1 - momentum).
RANGES = {"sgd": (0.01, 1.0), "adagrad": (1e-3, 0.1), "rmsprop": (1e-4, 0.01),
          "adam": (1e-4, 0.01), "adamw": (1e-4, 0.01)}
BIG_DECAY = 0.1                 # weight decay at or above this is very large (usual: 1e-5 to 1e-2)
DEEP = 6                        # Linear/Conv2d layers from which a network without normalisation is deep


def lr_range(config: RunConfig) -> tuple[float, float, str]:
    """(bottom, top, label) of the usual learning rates for the config's optimizer."""
    o = config.optim
    if o.name in ("momentum", "nesterov"):
        ok = isinstance(o.momentum, (int, float)) and math.isfinite(o.momentum) and 0 <= o.momentum < 1
        mu = o.momentum if ok else 0.9
        lo, hi = RANGES["sgd"]
        label = f"{'SGD' if o.name == 'momentum' else 'Nesterov'} with momentum" + (f" {mu:g}" if ok else "")
        return float(f"{lo * (1 - mu):.6g}"), float(f"{hi * (1 - mu):.6g}"), label   # 0.1, not 0.09999...
    lo, hi = RANGES.get(o.name, RANGES["adam"])
    return lo, hi, LABELS.get(o.name, o.name)


def _readable(x: float) -> str:
    return f"{x:.2g}"


def _other_cause(config: RunConfig) -> str | None:
    """A sentence naming a cause of divergence besides the learning rate, or None."""
    if config.init == "normal":
        return ("N(0, 1) initial weights are far too large once a layer has more than a few inputs "
                "(activations grow with every layer): use init he (for ReLU) or default (PyTorch's).")
    wd = config.optim.weight_decay
    if math.isfinite(wd) and wd >= BIG_DECAY:
        return f"The weight decay {wd:g} is very large (usual: 1e-05 to 0.01): try 0.0001."
    kinds = [layer.get("type") for layer in config.layers if isinstance(layer, dict)]
    depth = sum(k in ("Linear", "Conv2d") for k in kinds)
    if depth >= DEEP and not any(k in ("BatchNorm", "LayerNorm") for k in kinds):
        return (f"A network of {depth} Linear/Conv2d layers without normalisation can blow up its signals: "
                f"add BatchNorm after each Linear or Conv2d.")
    return None


def divergence_advice(config: RunConfig) -> str:
    """One or two sentences on why a run of config diverged and what to change (no lead-in)."""
    lr = config.optim.lr
    lo, hi, label = lr_range(config)
    usual = f"the usual range for {label} ({lo:g} to {hi:g})"
    other = _other_cause(config)
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        what = "must be above 0" if isinstance(lr, (int, float)) and lr <= 0 else "is not a finite number"
        return f"The learning rate {lr} {what}: set one in {usual}, e.g. {_readable(hi / 10)}."
    if lr > hi:
        first = f"The learning rate {lr:g} is above {usual}: try {_readable(min(lr / 10, hi))}."
        return f"{first} {other}" if other else first
    if lr > lo:
        if other:
            return f"{other} If it still diverges, try the learning rate {_readable(lr / 10)}."
        return (f"The learning rate {lr:g} is within {usual} but probably too high for this network: "
                f"try {_readable(lr / 10)}.")
    first = f"The learning rate {lr:g} is already small for {label}, so it is not the cause."
    return f"{first} {other or _DATA}"


_DATA = ("Check the data: inputs with very large or invalid values diverge at any learning rate; "
         "scale them to about -1 to 1.")
