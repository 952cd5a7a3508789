"""Ray figures, measured on a local cluster (tests/ray_cluster.py): what a user waits for, and what
the server pays per run. Not a test: it prints figures.

    .venv/bin/python scripts/cluster_figures.py [--runs 10]

- start: Start -> the actor placed on a node, and -> the first point of the curve;
- metric latency: how old the newest decision-boundary grid (stamped by the actor when drawn) is
  when it reaches the server's history;
- stop: Stop -> the run has ended (its last messages applied);
- fault: a node removed ungracefully -> its run reported lost; resume -> training again elsewhere;
- the server's own CPU (this process: the poller and the run store's recorder) with N runs training,
  per run, polled as N runs are and as each of 100 runs is, and so what 100 runs would take, split
  by thread (store-recorder: the run store's writes;
  ray-poller: Ray calls and the messages applied; native-N: Ray's own C++ threads); the memory of
  each run's actor process. --cost-only measures this alone.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.ray_cluster import LocalCluster  # noqa: E402

MLP = [{"type": "Linear", "out_features": 16}, {"type": "ReLU"}, {"type": "Linear", "out_features": 2}]


def config(seed=0, classroom=False):
    """A small MLP on 200 moons points, batch 16: 10 steps an epoch, the worst case for the server
    (an epoch record, with its validation, every 10 steps); classroom: Build & Train's defaults
    (spiral, 500 points, the MLP preset, batch 10, Adam at 0.03): 40 steps an epoch."""
    from playground.config import RunConfig
    from playground.models import preset_layers

    if classroom:
        return RunConfig.from_dict({"layers": preset_layers("MLP", "points", 2), "epochs": 100_000, "batch_size": 10,
                                    "seed": seed, "optim": {"name": "adam", "lr": 0.03},
                                    "data": {"name": "spiral", "n_samples": 500}})
    return RunConfig.from_dict({"layers": MLP, "epochs": 100_000, "batch_size": 16, "seed": seed,
                                "data": {"name": "moons", "n_samples": 200}})


def wait(cond, timeout=120.0):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError
        time.sleep(0.01)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10, help="runs training at once for the server's cost")
    ap.add_argument("--cost-only", action="store_true", help="only the server's cost per run")
    ap.add_argument("--classroom", action="store_true", help="the cost with Build & Train's default run, not the "
                                                             "worst case (an epoch every 10 steps)")
    args = ap.parse_args()
    cluster = LocalCluster(nodes=[{"num_cpus": 1}, {"num_cpus": 1}, {"num_cpus": args.runs}])
    try:
        from playground.store import Store
        from playground.train.cluster import RayExecutor
        from playground.train.registry import Registry

        reg = Registry(store=Store(Path(tempfile.mkdtemp(prefix="playground-figures-"))),
                       executor=RayExecutor(cluster.address))
        reg.executor.connect()
        if not args.cost_only:
            user_waits(reg, cluster)
        server_cost(reg, args.runs, classroom=args.classroom)
        reg.stop_all(wait=30)
        reg.executor.close(kill=True)
    finally:
        cluster.shutdown()
    return 0


def user_waits(reg, cluster) -> None:
    """Start, metric latency, stop (one run at a time, three times), and a node's fault."""
    starts, firsts, ages, stops = [], [], [], []
    for k in range(3):
        t0 = time.monotonic()
        run = reg.start(config(k))
        wait(lambda: run.job.where is not None)
        starts.append(time.monotonic() - t0)
        wait(lambda: run.history.progress["step"] > 0)
        firsts.append(time.monotonic() - t0)
        seen, end = None, time.monotonic() + 5
        while time.monotonic() < end:
            b = run.history.boundary
            if b is not None and b["at"] != seen:
                seen = b["at"]
                ages.append(time.time() - b["at"])
            time.sleep(0.002)
        t1 = time.monotonic()
        reg.stop(run.id)
        run.join(30)
        stops.append(time.monotonic() - t1)
    print(f"start -> placed on a node: {statistics.median(starts):.2f} s (median of 3; "
          f"{min(starts):.2f}-{max(starts):.2f})")
    print(f"start -> first point on the curve: {statistics.median(firsts):.2f} s "
          f"({min(firsts):.2f}-{max(firsts):.2f})")
    print(f"metric latency (age of a grid when the server has it): median {statistics.median(ages) * 1000:.0f} ms, "
          f"p95 {sorted(ages)[int(0.95 * len(ages))] * 1000:.0f} ms ({len(ages)} grids)")
    print(f"stop -> ended: median {statistics.median(stops) * 1000:.0f} ms ({min(stops) * 1000:.0f}-"
          f"{max(stops) * 1000:.0f})")

    # the fault: a node goes down under its run; resume elsewhere
    run = reg.start(config(7))
    wait(lambda: run.history.progress["step"] > 0)
    wait(lambda: reg.flush(5) and reg.store.load_checkpoint(run.id) is not None, 60)
    node = next(n for n in cluster.cluster.worker_nodes if n.node_id == run.job.where["node"])
    t0 = time.monotonic()
    cluster.cluster.remove_node(node, allow_graceful=False)
    wait(lambda: run.history.status == "lost", 30)
    lost_s = time.monotonic() - t0
    reg.flush()
    step = reg.store.load_checkpoint(run.id)["position"]["step"]
    t1 = time.monotonic()
    again = reg.resume(run.id)
    wait(lambda: again.history.progress["step"] > step)
    resume_s = time.monotonic() - t1
    print(f"node removed -> run reported lost: {lost_s:.2f} s; resume -> training again on another node: "
          f"{resume_s:.2f} s (from step {step})")
    reg.stop(again.id)
    again.join(30)


def server_cost(reg, n: int, seconds: float = 20.0, classroom: bool = False) -> None:
    """The server's CPU with n runs training, per run and by thread, twice: polled as n runs are
    (10 times a second for a few), then as each of 100 runs would be (cluster.CALLS_PER_S calls a
    second shared by 100), which is what the projection to 100 runs takes; the actors' memory."""
    import psutil

    from playground.train.cluster import CALLS_PER_S

    runs = [reg.start(config(100 + i, classroom)) for i in range(n)]
    wait(lambda: all(r.history.progress["step"] > 0 for r in runs), 300)
    me, ex = psutil.Process(), reg.executor
    for label, poll_s in ((f"polled as {n} runs are", ex.poll_s), ("polled as each of 100 runs is", 100 / CALLS_PER_S)):
        ex.poll_s = max(ex.poll_s, poll_s)
        time.sleep(2 * ex.poll_s)
        names = {t.native_id: t.name for t in threading.enumerate()}
        before = {t.id: t.user_time + t.system_time for t in me.threads()}
        r0, s0, steps0 = ex.rounds, ex.round_s, sum(r.history.progress["step"] for r in runs)
        c0, t0 = sum(me.cpu_times()[:2]), time.monotonic()
        time.sleep(seconds)
        wall = time.monotonic() - t0
        cpu = (sum(me.cpu_times()[:2]) - c0) / wall
        after = {t.id: t.user_time + t.system_time for t in me.threads()}
        names.update({t.native_id: t.name for t in threading.enumerate()})
        rounds, round_s = ex.rounds - r0, ex.round_s - s0
        steps = (sum(r.history.progress["step"] for r in runs) - steps0) / wall / n
        print(f"server with {n} {'classroom ' if classroom else ''}runs training "
              f"({steps:,.0f} steps/s each; poller + recorder, no pages), {label} "
              f"({rounds / wall:.1f} poll rounds/s, {round_s / max(rounds, 1) * 1000:.1f} ms each): {cpu:.1%} of a "
              f"core, {cpu / n:.2%} per run" + (f" -> 100 runs: {100 * cpu / n:.0%} of a core" if poll_s > 0.1 else ""))
        busiest = sorted((((after[i] - before.get(i, 0.0)) / wall, names.get(i, f"native-{i}")) for i in after),
                         reverse=True)[:6]
        print("  by thread: " + ", ".join(f"{name} {share:.1%}" for share, name in busiest))
    actor_mb = [psutil.Process(r.job.where["pid"]).memory_info().rss / 2**20 for r in runs]
    server_mb = me.memory_info().rss / 2**20
    print(f"memory: each run's actor process {statistics.median(actor_mb):.0f} MB (median; max "
          f"{max(actor_mb):.0f}); this server process {server_mb:.0f} MB with {n} runs")


if __name__ == "__main__":
    sys.exit(main())
