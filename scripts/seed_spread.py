"""How much the seed alone moves an example's result: each example trained once per seed (its own seed,
+1, ...), its final validation metric's mean, standard deviation and range. Not a test: it prints
figures (how many seeds a comparison needs before a difference means something).

    .venv/bin/python scripts/seed_spread.py                     # spiral, MNIST CNN, reverse transformer, 8 seeds
    .venv/bin/python scripts/seed_spread.py --seeds 4 spiral_mlp.yaml
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playground.config import load_config  # noqa: E402
from playground.seeds import spread, t_quantile  # noqa: E402
from playground.train.tasks import METRIC_LABELS  # noqa: E402
from playground.train.trainer import Trainer  # noqa: E402

EXAMPLES = ["spiral_mlp.yaml", "mnist_cnn.yaml", "transformer_reverse.yaml"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("examples", nargs="*", default=EXAMPLES, help="configs under examples/")
    ap.add_argument("--seeds", type=int, default=8)
    args = ap.parse_args()
    for name in args.examples:
        base = load_config(ROOT / "examples" / name)
        finals, t0 = [], time.perf_counter()
        for k in range(args.seeds):
            cfg = load_config(ROOT / "examples" / name)
            cfg.seed, cfg.threads, cfg.device = base.seed + k, 1, "cpu"
            trainer = Trainer.from_config(cfg)
            trainer.run()
            metric = trainer.task.headline
            finals.append(trainer.history.snapshot()["epochs"][-1][f"val_{metric}"])
        s = spread(finals)
        # the smallest mean paired difference a t interval over n seeds could tell from 0, if the paired
        # differences spread like single runs (an upper bound: pairing usually cancels part of it)
        need = {n: t_quantile(0.975, n - 1) * s["std"] * math.sqrt(2) / math.sqrt(n) for n in (3, 5, 8)}
        print(f"{name} ({args.seeds} seeds, {time.perf_counter() - t0:.0f} s): final validation "
              f"{METRIC_LABELS.get(metric, metric)} mean {s['mean']:.4f}, std {s['std']:.4f}, range "
              f"{s['min']:.4f} to {s['max']:.4f}; a difference needs to exceed about "
              + ", ".join(f"{v:.4f} at {n} seeds" for n, v in need.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
