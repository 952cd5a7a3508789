"""python -m playground bench: figures, not a test. Everything compared is measured side by side in
one run, alternating, median of the repeats (the machine is shared and noisy).

1. engine vs a bare hand-written PyTorch loop: same model and initial weights, data, batch size,
   thread settings, and the same per-epoch work (running train loss/accuracy, validation pass);
   in-process engine, and the app's path (a warm worker process);
2. two runs at once (app path) vs the two trained one after the other in the bare loop;
3. one run beside a busy neighbour process (a pure-Python spinner; a UMAP fit), against quiet;
   the bare loop with torch's default thread count beside the same neighbour, for contrast;
4. time from Start to the first point on the chart (app path, MNIST small CNN); and a worker's start
   until it can train: a process of its own (how workers started before the fork server) vs 3 forks at
   once of the pool's fork server (a race's extra workers);
5. a comparison: 4 variants of the MNIST small CNN, one epoch, raced at once (app path) vs the
   same 4 trained one after the other in the bare loop; and with repeats over seeds (compare --seeds),
   4 variants x 5 seeds as five races queued for the slots vs the 20 runs in the bare loop;
6. the run store's cost: the engine in a thread recording into a store (per-step loss, epoch
   metrics, weight snapshots, resume checkpoints every 2 s) vs the same run recording nothing.
   The worst case: here the writer thread shares the training process's GIL; in the app it runs
   in the server process, and section 1's app path already includes recording.
7. layer statistics (playground/train/probe.py): the same recorded run with statistics taken at
   every snapshot vs without (the issue's budget: at most 10%);
8-9. your own data: a 100,000-row CSV and a zip of 5,000 PNGs read into sets;
10. training on your own data: the engine/bare ratio on an uploaded copy beside the shipped set's;
11. a tiny run (the notes' XOR, 8,000 full-batch epochs): engine vs a bare loop, per-epoch overhead;
12. the fast path for tiny networks (playground/train/fast.py, on by default where it applies): the spiral
    MLP at batch 10 for 100 epochs, the bare eager loop vs the engine with it and without it
    (PLAYGROUND_FAST=0); both give the same numbers bit for bit.

What a student waits for in the browser (cold start, a second student's first page and point, page
switches, the epoch scrubbers, Explain's trust checks) is timed by scripts/wait_times.py: it needs a
server and Chromium.

The bench records into a store of its own in a temporary folder, never the app's runs/.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F

from playground.config import RunConfig
from playground.data import load_dataset
from playground.models.build import build_model
from playground.models.init import apply_init
from playground.models.presets import preset_layers
from playground.store.db import Store
from playground.train.optim import make_optimizer
from playground.train.registry import Registry
from playground.train.trainer import Trainer

CASES = {
    "MNIST small CNN, batch 64": dict(data={"name": "mnist_subset"}, layers=preset_layers("Small CNN", "image", 10),
                                      batch_size=64, optim={"name": "adam", "lr": 0.003}),
    "spiral MLP, batch 10": dict(data={"name": "spiral"}, layers=preset_layers("MLP", "points", 2),
                                 batch_size=10, optim={"name": "adam", "lr": 0.03}),
}
CNN = "MNIST small CNN, batch 64"           # sections 3-5 time this case


def _example(name: str) -> dict:
    from playground.config import read_mapping

    d = read_mapping(Path(__file__).resolve().parents[2] / "examples" / name)
    return {k: v for k, v in d.items() if k not in ("name", "epochs")}


CORE = tuple(CASES)                 # the cases of every section; the task cases run in section 1 only
CASES.update({
    "multi-Gaussian MLP regression, batch 16": _example("regression_gauss.yaml"),
    "MNIST autoencoder 784-128-64-2, batch 64": _example("mnist_autoencoder.yaml"),
    "tiny transformer on reverse, batch 128": _example("transformer_reverse.yaml"),
})
EPOCHS = {"MNIST small CNN, batch 64": 2, "spiral MLP, batch 10": 40, "multi-Gaussian MLP regression, batch 16": 20,
          "MNIST autoencoder 784-128-64-2, batch 64": 2, "tiny transformer on reverse, batch 128": 3}
NEIGHBOURS = {
    "a pure-Python spinner process": "while True: pass",
    "a UMAP fit process": ("import numpy as np, umap\nX = np.random.RandomState(0).rand(2000, 16)\n"
                           "while True: umap.UMAP(n_neighbors=15).fit_transform(X)"),
}


def config(name: str, epochs: int, seed: int = 0, stats: bool = True) -> RunConfig:
    return RunConfig.from_dict({**CASES[name], "epochs": epochs, "seed": seed, "threads": 1, "stats": stats})


def bare_loop(cfg: RunConfig) -> float:
    """What one writes by hand: returns wall seconds for training plus the per-epoch validation."""
    data = load_dataset(cfg.data, cfg.seed)
    model, _ = build_model(cfg.layers, data.input_shape, vocab=data.vocab)
    apply_init(model, cfg.init, torch.Generator().manual_seed(cfg.seed))
    task = cfg.task if cfg.task != "auto" else data.task

    def loss_of(out, xb, yb, reduction="mean"):          # the task's usual loss, written out
        if task == "regression":
            return F.huber_loss(out, yb, reduction=reduction) if cfg.loss.name == "huber" else \
                F.mse_loss(out, yb, reduction=reduction)
        if task == "reconstruction":
            return F.mse_loss(out, xb, reduction=reduction)
        return F.cross_entropy(out.reshape(-1, out.shape[-1]), yb.reshape(-1), reduction=reduction)

    def stat_of(out, xb, yb, loss):                      # what one tracks per step besides the loss
        if task == "regression":
            return (out - yb).abs().sum()
        if task == "reconstruction":
            return loss
        return (out.argmax(-1) == yb).sum()

    opt = make_optimizer(cfg.optim, model.parameters())
    X, y, Xv, yv = data.X_train, data.y_train, data.X_val, data.y_val
    n, bs = len(X), cfg.batch_size
    order = torch.Generator().manual_seed(cfg.seed + 1)
    t0 = time.perf_counter()
    for _ in range(cfg.epochs):
        model.train()
        perm = torch.randperm(n, generator=order)
        loss_sum, correct = torch.zeros(()), torch.zeros((), dtype=torch.long)
        for i in range(0, n, bs):
            idx = perm[i:i + bs]
            xb, yb = X[idx], y[idx]
            out = model(xb)
            loss = loss_of(out, xb, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach()
            correct = correct + stat_of(out.detach(), xb, yb, loss.detach())
        model.eval()
        with torch.no_grad():
            val = sum(loss_of(model(Xv[i:i + 1024]), Xv[i:i + 1024], yv[i:i + 1024], "sum").item()
                      for i in range(0, len(Xv), 1024))
        _ = (loss_sum.item(), correct.item(), val)
    return time.perf_counter() - t0


def engine_inprocess(cfg: RunConfig) -> float:
    run = Trainer.from_config(cfg)
    run.build()
    t0 = time.perf_counter()
    run.train()
    return time.perf_counter() - t0


def engine_thread(cfg: RunConfig, reg: Registry | None = None, probe_share: list | None = None) -> float:
    """Wall seconds of one run training in a thread of this process, prepared beforehand: as the
    registry records it into its store (reg), or recording nothing (the bare engine)."""
    if reg is not None:
        run = reg.prepare(cfg)                        # a handle; its executor (threads) built the Trainer
        trainer = reg.executor.trainer(run)
        start, join = lambda: reg.launch(run), run.join
    else:
        trainer = Trainer.from_config(cfg, publish_every=0.1)
        trainer.build()
        thread = threading.Thread(target=trainer.train_job)
        start, join = thread.start, thread.join
    t0 = time.perf_counter()
    start()
    join()
    dt = time.perf_counter() - t0
    assert trainer.history.status == "finished", trainer.history.message
    if probe_share is not None and trainer.probe is not None:
        probe_share.append(trainer.probe.seconds / dt)           # time inside the probe, as a share of the run
    return dt


def engine_app(reg: Registry, cfgs: list[RunConfig]) -> float:
    """Wall seconds from starting all cfgs (app path, warm workers) until the last one ends."""
    t0 = time.perf_counter()
    runs = [reg.start(c) for c in cfgs]
    for r in runs:
        r.join()
        assert r.history.status == "finished", r.history.message
    return time.perf_counter() - t0


def first_point(reg: Registry, cfg: RunConfig) -> float:
    t0 = time.perf_counter()
    run = reg.start(cfg)
    while not run.history.step_loss and run.alive:
        time.sleep(0.002)
    dt = time.perf_counter() - t0
    run.stop()
    run.join()
    return dt


def median_of(fn, repeats: int) -> float:
    return statistics.median(fn() for _ in range(repeats))


def samples(cfg: RunConfig) -> int:
    return len(load_dataset(cfg.data, cfg.seed).X_train) * cfg.epochs


def main(quick: bool = False) -> None:
    repeats = 2 if quick else 3
    torch.set_num_threads(1)
    home = tempfile.TemporaryDirectory(prefix="playground-bench-")
    store = Store(Path(home.name))
    reg = Registry(max_active=4, processes=True, store=store)
    for name in CASES:                                  # load data, warm caches
        bare_loop(config(name, 1))
    reg.executor.warm(4)                                # returns once the 4 workers are warm, one after another
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op thread per run; "
          f"median of {repeats}, alternating\n")
    one_run(reg, repeats, quick)
    two_runs(reg, repeats, quick)
    beside_a_neighbour(reg, repeats)
    first_points(reg, repeats)
    worker_start(repeats)
    race(reg, repeats, 2 if quick else 5)
    reg.executor.close()
    local = Registry(max_active=1, processes=False, store=store)
    store_cost(local, repeats, quick)
    stats_cost(local, repeats, quick)
    own_table(repeats)
    own_images(repeats)
    own_runs(store, repeats, quick)
    tiny_run(repeats, quick)
    fast_path(repeats, quick)
    home.cleanup()


def epochs_of(name: str, quick: bool) -> int:
    return max(1, EPOCHS[name] // (2 if quick else 1))


def one_run(reg: Registry, repeats: int, quick: bool) -> None:
    print("1. one run: engine vs bare PyTorch loop (same model, init, data, batch, threads)")
    for name in CASES:
        cfg = config(name, epochs_of(name, quick))
        n = samples(cfg)
        times = {"bare": [], "engine": [], "app": []}
        for _ in range(repeats):
            times["bare"].append(bare_loop(cfg))
            times["engine"].append(engine_inprocess(cfg))
            times["app"].append(engine_app(reg, [cfg]))
        t = {k: statistics.median(v) for k, v in times.items()}
        print(f"   {name}: bare {n / t['bare']:,.0f} samples/s | engine in-process {n / t['engine']:,.0f} "
              f"(ratio {t['bare'] / t['engine']:.2f}) | app path, worker process {n / t['app']:,.0f} "
              f"(ratio {t['bare'] / t['app']:.2f}; includes dispatch)")


def two_runs(reg: Registry, repeats: int, quick: bool) -> None:
    print("\n2. two runs at once (app path) vs the same two one after the other in the bare loop")
    for name in CORE:
        cfg = config(name, epochs_of(name, quick))
        seq, conc = [], []
        for _ in range(repeats):
            seq.append(bare_loop(cfg) + bare_loop(config(name, cfg.epochs, seed=1)))
            conc.append(engine_app(reg, [cfg, config(name, cfg.epochs, seed=1)]))
        s, c = statistics.median(seq), statistics.median(conc)
        print(f"   {name}: sequential bare {s:.2f} s, concurrent {c:.2f} s -> ratio {c / s:.2f} (target <= 1.1)")


def beside_a_neighbour(reg: Registry, repeats: int) -> None:
    print("\n3. beside a busy neighbour process (target: keep >= 0.5 of the quiet samples/s)")
    cfg = config(CNN, 1)
    n = samples(cfg)
    quiet_app = median_of(lambda: engine_app(reg, [cfg]), repeats)
    torch.set_num_threads(2)
    quiet_2t = median_of(lambda: bare_loop(cfg), repeats)
    torch.set_num_threads(1)
    for label, code in NEIGHBOURS.items():
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(3 if "spinner" in label else 20)           # UMAP: past numba's compile, into fits
            busy_app = median_of(lambda: engine_app(reg, [cfg]), repeats)
            torch.set_num_threads(2)
            busy_2t = median_of(lambda: bare_loop(cfg), repeats)
            torch.set_num_threads(1)
        finally:
            proc.kill()
            proc.wait()
        print(f"   {CNN} beside {label}: app path {n / busy_app:,.0f} samples/s vs quiet {n / quiet_app:,.0f} "
              f"-> keeps {quiet_app / busy_app:.2f}; bare loop with torch's 2 threads {n / busy_2t:,.0f} vs "
              f"quiet {n / quiet_2t:,.0f} -> keeps {quiet_2t / busy_2t:.2f}")
        time.sleep(1)


def first_points(reg: Registry, repeats: int) -> None:
    print("\n4. Start -> first point on the chart (app path, warm worker, MNIST small CNN)")
    fp = [first_point(reg, config(CNN, 3)) for _ in range(repeats)]
    print(f"   median {statistics.median(fp) * 1000:.0f} ms (max {max(fp) * 1000:.0f} ms; target < 2000 ms)")


def worker_start(repeats: int) -> None:
    from playground.train.worker import NICE, ROOT, WorkerPool

    code = f"import os\nos.nice({NICE})\nimport torch._dynamo\nfrom playground.train import worker\nworker._warm_up()"

    def own() -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
        return time.perf_counter() - t0

    pool = WorkerPool(3)
    pool.warm(1)                                        # the fork server has imported torch
    pool.release(pool.acquire(), healthy=False)         # and keeps no idle worker: each pass forks 3

    def forks() -> float:
        t0 = time.perf_counter()
        workers = [pool.acquire() for _ in range(3)]
        while not all(w.warm for w in workers):
            time.sleep(0.002)
        dt = time.perf_counter() - t0
        for w in workers:
            pool.release(w, healthy=False)
        return dt

    try:
        times = {"own": [], "forks": []}
        for _ in range(repeats):
            times["own"].append(own())
            times["forks"].append(forks())
    finally:
        pool.close()
    o, f = statistics.median(times["own"]), statistics.median(times["forks"])
    print(f"   a worker's start until it can train: a process of its own {o:.2f} s | 3 forks of the fork server at "
          f"once {f:.2f} s -> {o / f:.0f}x sooner")


def race(reg: Registry, repeats: int, seeds: int = 5) -> None:
    print("\n5. comparison: 4 variants of the MNIST small CNN, 1 epoch, raced at once vs one after another (bare)")
    variants = [RunConfig.from_dict({**CASES[CNN], "epochs": 1, "threads": 1, "optim": {"name": opt, "lr": lr}})
                for opt, lr in (("sgd", 0.05), ("momentum", 0.01), ("rmsprop", 0.001), ("adam", 0.003))]
    seq, raced = [], []
    for _ in range(repeats):
        seq.append(sum(bare_loop(c) for c in variants))
        t0 = time.perf_counter()
        for run in reg.group(reg.start_group(variants)):
            run.join()
        raced.append(time.perf_counter() - t0)
    s, r = statistics.median(seq), statistics.median(raced)
    print(f"   sequential bare {s:.2f} s, raced at once {r:.2f} s -> ratio {r / s:.2f} (target <= 1.15)")
    from playground.seeds import seed_configs

    named = [RunConfig.from_dict({**c.to_dict(), "name": c.optim.name}) for c in variants]
    groups = seed_configs(named, seeds)
    before, reg.waiting_per_owner = reg.waiting_per_owner, 1      # a line, as the app keeps: the seeds' races wait
    try:
        seq, raced = [], []
        for _ in range(max(1, repeats - 1)):
            seq.append(sum(bare_loop(c) for group in groups for c in group))
            t0 = time.perf_counter()
            for gid in reg.start_series(groups):
                for run in reg.group(gid):
                    run.join()
            raced.append(time.perf_counter() - t0)
    finally:
        reg.waiting_per_owner = before
    s, r = statistics.median(seq), statistics.median(raced)
    print(f"   with repeats (compare --seeds {seeds}): {len(groups) * len(variants)} runs, the seeds' races one after "
          f"another as slots free, {r:.2f} s vs {s:.2f} s for the same runs in the bare loop one after another -> "
          f"ratio {r / s:.2f} (issue 30's target <= 1.15)")


def store_cost(local: Registry, repeats: int, quick: bool) -> None:
    print("\n6. the run store's cost, worst case: one run in a thread, its writer in the same process, vs nothing "
          "recorded")
    for name in CORE:
        cfg = config(name, epochs_of(name, quick), stats=False)
        plain, recorded = [], []
        for _ in range(repeats):
            plain.append(engine_thread(cfg))
            recorded.append(engine_thread(cfg, local))
            local.flush()
        p, r = statistics.median(plain), statistics.median(recorded)
        print(f"   {name}: nothing recorded {p:.2f} s, recorded {r:.2f} s -> overhead {100 * (r / p - 1):+.1f}% "
              f"(target <= 5%)")


def stats_cost(local: Registry, repeats: int, quick: bool) -> None:
    print("\n7. layer statistics at every snapshot (a probe batch forward and backward, histograms): the same "
          "recorded run with and without")
    for name in CORE:
        epochs = epochs_of(name, quick)
        off, on = config(name, epochs, stats=False), config(name, epochs, stats=True)
        without, with_stats, share = [], [], []
        for _ in range(repeats):
            without.append(engine_thread(off, local))
            with_stats.append(engine_thread(on, local, share))
            local.flush()
        a, b = statistics.median(without), statistics.median(with_stats)
        print(f"   {name}: without {a:.2f} s, with statistics {b:.2f} s -> overhead {100 * (b / a - 1):+.1f}% "
              f"({epochs + 1} snapshots); time inside the probe: {100 * statistics.median(share):.1f}% of the run "
              f"(the steadier figure on a noisy machine; target <= 10%)")


def own_table(repeats: int) -> None:
    """Your own table: a generated 100,000-row x 20-column CSV (19 measurements and a text label)."""
    import numpy as np

    from playground.data.uploads import card, read_table, table_set

    print("\n8. your own table: a 100,000 x 20 CSV read, made a set and its data card computed (target < 2 s)")
    rng = np.random.RandomState(0)
    X = rng.randn(100_000, 19)
    label = np.where(X[:, 0] + X[:, 1] > 0, "yes", "no")
    lines = [",".join([f"f{i}" for i in range(19)] + ["label"])]
    lines += [",".join(f"{v:.5f}" for v in row) + "," + lab for row, lab in zip(X, label)]
    raw = ("\n".join(lines) + "\n").encode()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        card(table_set(read_table(raw, "bench.csv"), "label"))
        times.append(time.perf_counter() - t0)
    print(f"   {len(raw) / 2**20:.1f} MB: median {statistics.median(times):.2f} s (max {max(times):.2f} s)")


def own_images(repeats: int) -> None:
    """Your own images: a zip of 5,000 generated 28 x 28 PNGs in 4 class folders, decoded and resized."""
    from playground.data.samples import shapes_zip
    from playground.data.uploads import read_images

    print("\n9. your own images: a zip of 5,000 small PNGs decoded, cropped and resized (target < 10 s)")
    raw = shapes_zip(5000, 0, 28)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        read_images(raw, "bench.zip", size=28)
        times.append(time.perf_counter() - t0)
    print(f"   {len(raw) / 2**20:.1f} MB: median {statistics.median(times):.2f} s (max {max(times):.2f} s)")


def own_runs(store: Store, repeats: int, quick: bool) -> None:
    """The engine/bare ratio on an uploaded set against the ratio on the shipped set it copies: two of
    ten's 1,000 rows as a CSV, and 2,000 generated shapes as a zip of PNGs."""
    import numpy as np

    from playground.data.samples import shapes_zip
    from playground.data.uploads import save_set

    print("\n10. your own data trains like the shipped sets: engine in-process vs bare loop, each shipped set "
          "beside an uploaded copy of the same kind and size")
    with environment("PLAYGROUND_HOME", str(store.home)):             # the sets live beside the bench's store
        rng = np.random.RandomState(0)
        X = rng.randn(1000, 10)
        rows = "".join(",".join(f"{v:.6f}" for v in x) + f",{int(x[2] + x[7] > 0)}\n" for x in X)
        table = save_set((",".join(f"f{i + 1}" for i in range(10)) + ",label\n" + rows).encode(), "ten.csv", None)
        zipped = save_set(shapes_zip(2000, 0, 32), "shapes.zip", None, kind="images")
        mlp = dict(layers=preset_layers("MLP", "table", 2), batch_size=16, epochs=10 // (2 if quick else 1))
        cnn = dict(layers=preset_layers("Small CNN", "image", 4), batch_size=32, epochs=4 // (2 if quick else 1))
        pairs = {
            "table MLP, batch 16": ({"name": "two_of_ten"}, {"name": "upload", "upload": table["id"],
                                                             "target": "label"}, mlp),
            "shapes small CNN, batch 32": ({"name": "shapes"}, {"name": "upload_images", "upload": zipped["id"],
                                                                "image_size": 32}, cnn),
        }
        for name, (shipped, uploaded, net) in pairs.items():
            line = []
            for label, data in (("shipped", shipped), ("uploaded", uploaded)):
                cfg = RunConfig.from_dict({**net, "data": data, "optim": {"name": "adam", "lr": 0.003}, "seed": 0,
                                           "threads": 1})
                n = samples(cfg)
                bare, engine = [], []
                for _ in range(repeats):
                    bare.append(bare_loop(cfg))
                    engine.append(engine_inprocess(cfg))
                b, e = statistics.median(bare), statistics.median(engine)
                line.append(f"{label} {n / e:,.0f} samples/s, ratio {b / e:.2f}")
            print(f"   {name}: " + " | ".join(line))


def tiny_run(repeats: int, quick: bool) -> None:
    """The notes' XOR (examples/notes_xor_2_4_1.yaml): 4 points, full batch, thousands of epochs. A run
    this small is bound by per-epoch overhead, not arithmetic: the bare loop below does what the engine
    must (a step, the training accuracy, a validation pass every epoch) and nothing else."""
    from playground.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[2] / "examples" / "notes_xor_2_4_1.yaml")
    cfg.threads, cfg.epochs = 1, cfg.epochs // (4 if quick else 1)
    X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([[0.0], [1.0], [1.0], [0.0]])

    def bare() -> float:
        torch.manual_seed(0)
        m = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Sigmoid(), torch.nn.Linear(4, 1), torch.nn.Sigmoid())
        opt = torch.optim.SGD(m.parameters(), lr=cfg.optim.lr)
        t0 = time.perf_counter()
        for _ in range(cfg.epochs):
            out = m(X)
            loss = F.mse_loss(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            correct = ((out.detach() > 0.5).float() == y).sum()
            with torch.no_grad():
                val = m(X)
                _ = (loss.item(), correct.item(), F.mse_loss(val, y).item(), ((val > 0.5).float() == y).sum().item())
        return time.perf_counter() - t0

    print(f"\n11. a tiny run: the notes' XOR 2-4-1, {cfg.epochs:,} full-batch epochs (issue 29's target: the engine "
          f"within 1.25x of the bare loop)")
    b, e = median_of(bare, repeats), median_of(lambda: engine_inprocess(cfg), repeats)
    print(f"   bare {b:.2f} s ({b / cfg.epochs * 1e6:.0f} us an epoch) | engine in-process {e:.2f} s "
          f"({e / cfg.epochs * 1e6:.0f} us an epoch): engine / bare {e / b:.2f}x")
    with fast_path_off():
        d = median_of(lambda: engine_inprocess(cfg), repeats)
    print(f"   engine without the fast path {d:.2f} s ({d / cfg.epochs * 1e6:.0f} us an epoch): {d / b:.2f}x")


@contextmanager
def environment(name: str, value: str):
    """The environment variable name set to value inside, as it was after."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def fast_path_off():
    """PLAYGROUND_FAST=0 for the runs made inside: autograd and torch.optim's own step."""
    return environment("PLAYGROUND_FAST", "0")


def fast_path(repeats: int, quick: bool) -> None:
    """Issue 29's target: a tiny network at least 2x a bare eager loop, with the same numbers."""
    name = "spiral MLP, batch 10"
    cfg = config(name, 50 if quick else 100)

    def off() -> float:
        with fast_path_off():
            return engine_inprocess(cfg)
    steps = -(-len(load_dataset(cfg.data, cfg.seed).X_train) // cfg.batch_size)
    print(f"\n12. the fast path for tiny networks: {name}, {cfg.epochs} epochs, in-process (target: 2x the bare "
          f"eager loop)")
    b, f, o = (median_of(fn, repeats) for fn in (lambda: bare_loop(cfg), lambda: engine_inprocess(cfg), off))
    print(f"   bare eager loop {b:.2f} s | engine, fast path {f:.2f} s: {b / f:.2f}x as fast | engine without it "
          f"{o:.2f} s: {b / o:.2f}x | {cfg.epochs / f:.0f} epochs/s ({steps} steps each)")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
