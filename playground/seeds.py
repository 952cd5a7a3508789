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


SEED_MARK = " · seed "


def variant_name(run_name: str) -> str:
    """The variant a run of seed_configs belongs to: its name without the " · seed <s>" seed_configs added."""
    return run_name.rsplit(SEED_MARK, 1)[0]


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
            d["seed"], d["name"] = c.seed + k, f"{c.name}{SEED_MARK}{c.seed + k}"
            group.append(RunConfig.from_dict(d))
        out.append(group)
    return out


def in_order(runs: list, configs: list[RunConfig]) -> list:
    """A race's runs (anything with a .name) in the order of its configs (the variants' order)."""
    by_name = {r.name: r for r in runs if r is not None}
    return [by_name.get(c.name) for c in configs]


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


DONE = ("finished", "stopped", "diverged")


def seed_results(snaps: list[dict | None], metric: str, higher_better: bool) -> list[dict]:
    """Per seed (a history snapshot each, None for a run not found): {"status", "final", "best"} of the
    validation metric, for a run that finished (early stopping included); one still training, stopped by
    hand or diverged has neither: its last value is not where the others ended."""
    out = []
    for snap in snaps:
        if snap is None:
            out.append({"status": "lost", "final": None, "best": None})
            continue
        values = [e[f"val_{metric}"] for e in snap["epochs"] if e.get(f"val_{metric}") is not None]
        done = snap["status"] == "finished" and values
        out.append({"status": snap["status"], "final": values[-1] if done else None,
                    "best": ((max if higher_better else min)(values)) if done else None})
    return out


def summary_rows(results: dict[str, list[dict]], reference: str, higher_better: bool, label: str,
                 fmt: str = ".3g") -> list[dict]:
    """The finals table of a comparison over seeds: per variant (results: name -> seed_results, the same
    seeds in the same order for every variant) the seeds done, the final and best metric's spread, and the
    paired verdict on the final value against the reference variant (None for the reference itself)."""
    ref = [r["final"] for r in results[reference]]
    rows = []
    for name, res in results.items():
        final, best = spread([r["final"] for r in res]), spread([r["best"] for r in res])
        diverged = sum(r["status"] == "diverged" for r in res)
        row = {"variant": name, "done": sum(r["final"] is not None for r in res), "seeds": len(res),
               "diverged": diverged, "final": final, "best": best, "against": None}
        if name != reference:
            result = paired(ref, [r["final"] for r in res], higher_better)
            words = verdict_words(name, reference, result, label, fmt)
            if diverged:
                words += f" It diverged in {diverged} of {len(res)} seeds (no final value)."
            row["against"] = {**result, "words": words}
        rows.append(row)
    return rows


def number_format(metric: str) -> str:
    """How a metric's values and differences are written: 3 decimals for a share (accuracy, R²), else 3 digits."""
    return ".3f" if metric in ("acc", "token_acc", "seq_acc", "r2") else ".3g"


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
