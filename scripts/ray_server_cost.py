"""The web server's CPU per live Ray run, split by thread: N runs (a spiral MLP each) on a local
cluster of one N-CPU node, measured over a window once they all train. Not a test: it prints figures.

    .venv/bin/python scripts/ray_server_cost.py --runs 4 --seconds 20

Prints the server process's share of a core, per run, the runs' steps/s, the poller's rounds, and
the busiest threads (store-recorder: the run store's writes; ray-poller: Ray calls and the messages
applied; native-N: Ray's own C++ threads).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from tests.ray_cluster import LocalCluster  # noqa: E402

SPIRAL_MLP = [{"type": "Linear", "out_features": 32}, {"type": "ReLU"}, {"type": "Linear", "out_features": 16},
              {"type": "ReLU"}, {"type": "Linear", "out_features": 2}]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    cluster = LocalCluster(nodes=[{"num_cpus": args.runs}])
    try:
        from playground.config import RunConfig
        from playground.store import Store
        from playground.train.cluster import RayExecutor
        from playground.train.registry import Registry

        reg = Registry(store=Store(tempfile.mkdtemp()), executor=RayExecutor(cluster.address))
        runs = [reg.start(RunConfig.from_dict({"layers": SPIRAL_MLP, "epochs": 100_000, "batch_size": 10, "seed": i,
                                               "data": {"name": "spiral"}})) for i in range(args.runs)]
        end = time.monotonic() + 300
        while any(r.history.progress["step"] == 0 for r in runs):
            if time.monotonic() > end:
                print("the runs did not all start within 300 s", file=sys.stderr)
                return 1
            time.sleep(0.5)
        time.sleep(5)
        me, ex = psutil.Process(), reg.executor
        names = {t.native_id: t.name for t in threading.enumerate()}
        before = {t.id: t.user_time + t.system_time for t in me.threads()}
        steps0, c0, w0, r0, s0 = sum(r.history.progress["step"] for r in runs), me.cpu_times(), time.time(), \
            ex.rounds, ex.round_s
        time.sleep(args.seconds)
        c1, w1 = me.cpu_times(), time.time()
        steps1 = sum(r.history.progress["step"] for r in runs)
        after = {t.id: t.user_time + t.system_time for t in me.threads()}
        names.update({t.native_id: t.name for t in threading.enumerate()})
        wall = w1 - w0
        cpu = (c1.user + c1.system - c0.user - c0.system) / wall
        print(f"{args.runs} runs: server process {cpu:.1%} of a core, {cpu / args.runs:.2%} per run; "
              f"{(steps1 - steps0) / wall / args.runs:,.0f} steps/s per run; poller {(ex.rounds - r0) / wall:.1f} "
              f"rounds/s, {1000 * (ex.round_s - s0) / max(1, ex.rounds - r0):.1f} ms each")
        busiest = sorted((((after[i] - before.get(i, 0.0)) / wall, names.get(i, f"native-{i}")) for i in after),
                         reverse=True)[:8]
        for share, name in busiest:
            print(f"  {share:6.1%}  {name}")
        reg.stop_all(wait=15)
        reg.executor.close(kill=True)
    finally:
        cluster.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
