"""Which epochs keep a weight snapshot: dense early (where most changes), thinner later, bounded.

Pure functions, no I/O: the engine asks `plan()` which epoch ends to copy, the store asks `thin()`
which stored snapshots to drop when a run grew past its budget (train N more epochs).
"""
from __future__ import annotations

import math

BUDGET = 50          # snapshots per run at most, besides the final one (epoch 0, the initial weights, included)


def plan(epochs: int, budget: int = BUDGET) -> list[int]:
    """Epochs 0..epochs whose end gets a snapshot (0 = the initial weights), at most `budget`.

    All of them when they fit; otherwise 0, 1 and the last, and the rest spread evenly on a log
    scale, so that epochs 1-10 of a 1,000-epoch run are all kept and the later ones ~15% apart.
    """
    if epochs + 1 <= budget:
        return list(range(epochs + 1))
    if budget < 3:
        return sorted({0, epochs})[:max(budget, 1)] if budget >= 1 else []
    chosen: set[int] = set()
    n = budget
    while True:          # rounding merges neighbours early on: ask for more points until `budget` remain
        pts = {0, epochs} | {min(epochs, max(1, round(math.exp(k * math.log(epochs) / (n - 2)))))
                             for k in range(n - 1)}
        if len(pts) > budget:
            break
        chosen = pts
        n += 1
    return sorted(chosen)


def thin(epochs: list[int], budget: int = BUDGET, keep: set[int] | None = None) -> list[int]:
    """The epochs to drop from the stored `epochs` so that at most `budget` remain.

    Never drops the first or the last epoch, nor any in `keep` (a final snapshot); drops, one at a
    time, the one whose neighbours are closest on a log scale, so what remains stays log-spaced.
    """
    kept = sorted(set(epochs))
    keep = set(keep or ())
    dropped: list[int] = []
    while len(kept) > budget:
        best, best_gap = None, math.inf
        for i in range(1, len(kept) - 1):
            if kept[i] in keep:
                continue
            gap = math.log1p(kept[i + 1]) - math.log1p(kept[i - 1])
            if gap < best_gap:
                best, best_gap = i, gap
        if best is None:
            break
        dropped.append(kept.pop(best))
    return dropped
