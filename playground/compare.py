"""Comparisons: a base run and 2-6 variants that each change a few settings.

A compare config (JSON/YAML):

    base: {...a run config...}
    variants:
      - {name: SGD, optim: {name: sgd, lr: 0.1}}
      - {name: Adam, optim: {name: adam, lr: 0.001}}
      - {name: BN, batchnorm: true}              # insert BatchNorm after each hidden Linear/Conv2d
      - {name: drop 0.2, dropout: 0.2}           # set (or insert) Dropout p on the hidden layers

    seeds: 5                                     # optional: each variant once per seed (1 to 10)

A variant is deep-merged over the base (lists, such as layers, are replaced whole). All variants
keep the base's seed, so they start from the same initial weights (when their layers match) and
see the same data in the same order: the curves differ only by what the variant changes.
"""
from __future__ import annotations

import copy

from playground.config import RunConfig, read_mapping
from playground.errors import ConfigError

MIN_VARIANTS, MAX_VARIANTS = 2, 6
TRAINABLE = ("Linear", "Conv2d")
ACTIVATIONS = ("ReLU", "LeakyReLU", "GELU", "Tanh", "Sigmoid")


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def with_dropout(layers: list, p: float) -> list:
    """Set p on every Dropout; with none present, insert Dropout(p) after each hidden activation."""
    layers = copy.deepcopy(layers)
    if any(layer["type"] == "Dropout" for layer in layers):
        return [{**layer, "p": p} if layer["type"] == "Dropout" else layer for layer in layers]
    if p == 0:
        return layers
    out = []
    for i, layer in enumerate(layers):
        out.append(layer)
        if layer["type"] in ACTIVATIONS and any(m["type"] == "Linear" for m in layers[i + 1:]):
            out.append({"type": "Dropout", "p": p})
    return out


def with_batchnorm(layers: list, on: bool) -> list:
    """on: insert BatchNorm after every Linear/Conv2d but the last; off: remove BatchNorm layers."""
    layers = [layer for layer in copy.deepcopy(layers) if layer["type"] != "BatchNorm"]
    if not on:
        return layers
    last = max((i for i, layer in enumerate(layers) if layer["type"] in TRAINABLE), default=-1)
    out = []
    for i, layer in enumerate(layers):
        out.append(layer)
        if layer["type"] in TRAINABLE and i != last:
            out.append({"type": "BatchNorm"})
    return out


def variant_config(base: dict, variant: dict) -> RunConfig:
    """The run config of one variant: base dict, variant changes merged over it."""
    v = dict(variant)
    name = str(v.pop("name", "") or "variant")
    dropout, batchnorm = v.pop("dropout", None), v.pop("batchnorm", None)
    if "seed" in v:
        raise ConfigError(f"variant '{name}': a variant cannot change the seed (all variants share the base's "
                          f"initial weights and data order); change it in base")
    d = deep_merge(base, v)
    if dropout is not None:
        d["layers"] = with_dropout(d.get("layers", []), float(dropout))
    if batchnorm is not None:
        d["layers"] = with_batchnorm(d.get("layers", []), bool(batchnorm))
    d["name"] = name
    try:
        return RunConfig.from_dict(d)
    except ConfigError as e:
        raise ConfigError(f"variant '{name}': {e}") from None


def compare_configs(spec: dict) -> list[RunConfig]:
    """All variants' run configs of a compare spec {base, variants}; raises ConfigError."""
    if not isinstance(spec, dict) or "base" not in spec or "variants" not in spec:
        raise ConfigError("a compare config needs 'base' (a run config) and 'variants' (a list of changes)")
    base, variants = spec["base"], spec["variants"]
    RunConfig.from_dict(base)                                       # the base alone must be valid
    least = 1 if spec_seeds(spec) > 1 else MIN_VARIANTS       # one variant over seeds: its spread alone
    if not isinstance(variants, list) or not least <= len(variants) <= MAX_VARIANTS:
        n = len(variants) if isinstance(variants, list) else 0
        raise ConfigError(f"variants: give {least} to {MAX_VARIANTS} variants, got {n}"
                          + ("" if least == 1 else " (one variant is enough with seeds: 2 or more)"))
    configs = [variant_config(base, v) for v in variants]
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ConfigError(f"variants: names must differ, got {names}")
    return configs


def spec_seeds(spec: dict) -> int:
    """The seeds a compare config asks for (its `seeds`, 1 by default): each variant trains once per seed."""
    from playground.seeds import MAX_SEEDS

    n = spec.get("seeds", 1) if isinstance(spec, dict) else 1
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_SEEDS:
        raise ConfigError(f"seeds: {n!r}; give a whole number of seeds from 1 to {MAX_SEEDS}")
    return n


def load_compare(path) -> list[RunConfig]:
    return compare_configs(read_mapping(path))


def time_to_target(snap: dict, target: float, smoothing: float = 0.9):
    """(step, samples, seconds) when the smoothed training loss first reaches target, else None."""
    import numpy as np

    from playground.viz.curves import ema

    if not snap["step_loss"]:
        return None
    smooth = ema(np.asarray(snap["step_loss"], float), smoothing)
    hit = np.nonzero(smooth <= target)[0]
    if not len(hit):
        return None
    step = snap["step_x"][hit[0]]
    marks = snap["marks"]
    if not marks:
        return step, None, None
    steps = [m[0] for m in marks]
    samples = float(np.interp(step, steps, [m[1] for m in marks]))
    seconds = float(np.interp(step, steps, [m[2] for m in marks]))
    return step, samples, seconds


def summary_row(name: str, snap: dict, target: float, smoothing: float = 0.9) -> dict:
    """One line of the live summary table for a variant."""
    epochs = snap["epochs"]
    best = max(epochs, key=lambda e: e["val_acc"]) if epochs else None
    hit = time_to_target(snap, target, smoothing)
    return {
        "variant": name, "status": snap["status"],
        "final val acc": epochs[-1]["val_acc"] if epochs else None,
        "best val acc": best["val_acc"] if best else None,
        "best epoch": best["epoch"] if best else None,
        "final val loss": epochs[-1]["val_loss"] if epochs else None,
        f"steps to loss {target:g}": hit[0] if hit else None,
        f"samples to loss {target:g}": int(hit[1]) if hit and hit[1] is not None else None,
        f"seconds to loss {target:g}": round(hit[2], 2) if hit and hit[2] is not None else None,
        "samples/s": round(snap["progress"]["samples_per_s"]),
    }


def _layer_text(spec: dict) -> str:
    """A layer as one line: Linear(out_features=16)."""
    args = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "type")
    return f"{spec.get('type', '?')}({args})"


def _flat(d: dict, prefix: str = "") -> dict:
    """Nested settings as {"optim.lr": 0.01, ...} (lists and values kept whole)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_diff(a: dict, b: dict) -> list[dict]:
    """What changes from run config a to run config b (RunConfig.to_dict()s), the way a code review shows
    it: rows {"what", "a", "b", "change"} (changed, added, removed). Settings are compared one by one (the
    run's name is left out); layers are aligned first, so a layer inserted shows as one added row, not as
    every layer after it changed."""
    import difflib

    rows = []
    fa, fb = _flat({k: v for k, v in a.items() if k not in ("name", "layers")}), \
        _flat({k: v for k, v in b.items() if k not in ("name", "layers")})
    for key in [k for k in fa if k in fb] + [k for k in fb if k not in fa] + [k for k in fa if k not in fb]:
        va, vb = fa.get(key), fb.get(key)
        if va != vb:
            rows.append({"what": key, "a": va, "b": vb,
                         "change": "changed" if key in fa and key in fb else ("added" if key in fb else "removed")})
    la, lb = [_layer_text(s) for s in a.get("layers", [])], [_layer_text(s) for s in b.get("layers", [])]
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=la, b=lb, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        pairs = min(i2 - i1, j2 - j1) if op == "replace" else 0
        for k in range(pairs):
            rows.append({"what": f"layer {i1 + k + 1}", "a": la[i1 + k], "b": lb[j1 + k], "change": "changed"})
        for i in range(i1 + pairs, i2):
            rows.append({"what": f"layer {i + 1}", "a": la[i], "b": None, "change": "removed"})
        for j in range(j1 + pairs, j2):
            rows.append({"what": f"layer {j + 1} (new)", "a": None, "b": lb[j], "change": "added"})
    return rows
