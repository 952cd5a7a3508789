"""Repeats of a comparison over seeds, and what they say: is a difference between two variants signal or noise?

A comparison run with seeds 0..N-1 (added to the base's seed) trains every variant once per seed. For one
seed all variants start from the same initial weights and see the same data in the same order, so variant
B's run with seed 3 is paired with variant A's: the difference between them is what B changes, under that
seed's luck. Over the seeds, the paired differences give:

- the mean difference and its 95% confidence interval (Student's t over the n paired differences,
  n - 1 degrees of freedom: the seeds are the only source of variation the interval covers);
- in how many of the n seeds B did better;
- a verdict in words: "better", "worse", or "no clear difference at n seeds" when the interval
  crosses 0 (or there is one seed, and no interval at all).
"""
from __future__ import annotations

import math

from playground.config import RunConfig

MAX_SEEDS = 10
CONFIDENCE = 0.95


def seed_configs(configs: list[RunConfig], seeds: int) -> list[list[RunConfig]]:
    """The variants' configs once per seed: [[every variant with seed base + k] for k in range(seeds)].
    Each copy is named "<variant> · seed <s>"."""
    from playground.errors import ConfigError

    if not 1 <= seeds <= MAX_SEEDS:
        raise ConfigError(f"seeds: {seeds} repeats; give 1 to {MAX_SEEDS}")
    out = []
    for k in range(seeds):
        group = []
        for c in configs:
            d = c.to_dict()
            d["seed"], d["name"] = c.seed + k, f"{c.name} · seed {c.seed + k}"
            group.append(RunConfig.from_dict(d))
        out.append(group)
    return out


def spread(values: list[float]) -> dict:
    """{"n", "mean", "std" (sample, n - 1; None for one value), "min", "max"} of the finite values."""
    xs = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not xs:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None}
    mean = sum(xs) / len(xs)
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else None
    return {"n": len(xs), "mean": mean, "std": std, "min": min(xs), "max": max(xs)}


def t_quantile(p: float, df: int) -> float:
    """Student's t distribution's p-quantile with df degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(p, df))


def paired(reference: list[float], other: list[float], higher_better: bool = True,
           confidence: float = CONFIDENCE) -> dict:
    """other's paired differences from reference (same seeds, in the same order; a pair with a missing or
    non-finite value is left out): {"n", "mean_diff", "ci" [lo, hi] or None, "method", "better", "verdict"}.
    "better" counts the seeds where other beat reference (higher, or lower where lower is better)."""
    if len(reference) != len(other):
        raise ValueError(f"{len(reference)} reference values against {len(other)}: pair them by seed")
    diffs = [b - a for a, b in zip(reference, other)
             if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)]
    n = len(diffs)
    sign = 1 if higher_better else -1
    better = sum(sign * d > 0 for d in diffs)
    out = {"n": n, "mean_diff": None, "ci": None, "method": f"paired t, {round(100 * confidence)}% interval",
           "better": better, "confidence": confidence}
    if n == 0:
        return {**out, "verdict": "no pair of finished runs to compare"}
    mean = sum(diffs) / n
    out["mean_diff"] = mean
    if n == 1:
        return {**out, "verdict": "one seed: no interval; run more seeds before drawing a conclusion"}
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    half = t_quantile(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    lo, hi = mean - half, mean + half
    out["ci"] = [lo, hi]
    if sign * lo > 0 and sign * hi > 0:
        verdict = "better"
    elif sign * lo < 0 and sign * hi < 0:
        verdict = "worse"
    else:
        verdict = f"no clear difference at {n} seeds"
    return {**out, "verdict": verdict}


def verdict_words(name: str, reference: str, result: dict, metric: str, fmt: str = ".3g") -> str:
    """A verdict as a student reads it: "Adam is better than SGD: validation accuracy +0.042 on average
    (95% interval +0.031 to +0.053), better in 5 of 5 seeds." """
    n, k = result["n"], result["better"]
    if result["mean_diff"] is None:
        return f"{name} against {reference}: {result['verdict']}."
    diff = f"{metric} {result['mean_diff']:+{fmt}} on average"
    seeds = f"better in {k} of {n} seed{'s' if n != 1 else ''}"
    if result["ci"] is None:
        return f"{name} against {reference}: {diff}, {seeds}; {result['verdict']}."
    lo, hi = result["ci"]
    if lo == hi == 0:
        return f"{name} against {reference}: no difference: the same {metric} in all {n} seeds."
    interval = f"{round(100 * result['confidence'])}% interval {lo:+{fmt}} to {hi:+{fmt}}"
    if result["verdict"] in ("better", "worse"):
        return f"{name} is {result['verdict']} than {reference}: {diff} ({interval}), {seeds}."
    return (f"{name} against {reference}: no clear difference at {n} seeds: {diff}, but the {interval} "
            f"crosses 0; {seeds}.")
