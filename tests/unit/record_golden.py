"""Records what every example config trains to, for tests/unit/test_examples_golden.py.

    python tests/unit/record_golden.py tests/unit/golden_examples.json

Trains each example through the headless CLI, in-process, each into a new run store (PLAYGROUND_HOME),
on the CPU: a single-run config at the top of examples/ with `main(["train", CONFIG, "--epochs", N,
"--device", "cpu"])` (at most EPOCHS epochs), a comparison of examples/compare/ with `main(["compare",
COPY, "--epochs", N])` (at most COMPARE_EPOCHS; `compare` has no --device, so COPY is the config with
`device: cpu` added to its base). Then reads back what each run stored: the CLI's JSON result, the
run's row, every epoch record, every per-step loss, a sha256 of the weights of every snapshot (the
last is the final weights) and of every layer-statistics record. Everything time-based (time_s,
samples_per_s, the message that says how long it took, the lr marks and the result's "steps", taken
when the run publishes, every 0.5 s of wall clock) is left out.

Only the CLI, the config files and the run store's reading API (default_store, get, metrics,
snapshots, load_weights, stats) are used, never the engine, the Run or the Registry: those may change
in a refactor of the training core, these stay. The numbers are those of the checkout this file lives
in: re-record only on purpose, at a commit whose numbers are the reference.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = ROOT / "examples"
GOLDEN = Path(__file__).resolve().with_name("golden_examples.json")
EPOCHS = 2                     # at most this many epochs of each example (fewer if the config has fewer)
COMPARE_EPOCHS = 1             # of each comparison's variants: its process pool costs seconds already
# left out of the records: wall-clock times and rates, the message (it says how long the run took), the run's
# random id, and the CLI result's "steps": the step of the run's last publish (every 0.5 s of wall clock and
# at epoch ends), which for a diverged run is where a publish happened to find the loss gone (the step it
# diverged at is diverged_at; a finished run's last step is in its epoch records and step_x)
TIME_KEYS = {"time_s", "samples_per_s", "elapsed_s", "eta_s", "message", "run_id", "steps"}


def example_names() -> list[str]:
    """The single-run configs (*.yaml, *.yml, *.json at the top of examples/), then the comparison
    configs of examples/compare/ as 'compare/<file>', each sorted."""
    def configs(folder: Path) -> list[str]:
        return sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml", ".json"))

    return configs(EXAMPLES_DIR) + [f"compare/{n}" for n in configs(EXAMPLES_DIR / "compare")]


def _exact(x):
    """x with every non-finite float written as a string ('nan', 'inf', '-inf'), so that == compares
    it (nan != nan) and the file stays standard JSON; tuples as lists, as JSON reads them back."""
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)
    if isinstance(x, dict):
        return {k: _exact(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_exact(v) for v in x]
    return x


def weights_sha256(weights: dict) -> str:
    """sha256 over the tensors in sorted key order: each key, dtype, shape and raw bytes (not torch.save's
    bytes, which hold more than the numbers)."""
    import torch

    h = hashlib.sha256()
    for k in sorted(weights):
        t = weights[k].detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _json_sha256(record) -> str:
    return hashlib.sha256(json.dumps(_exact(record), sort_keys=True).encode()).hexdigest()


def float_fingerprint() -> str:
    """Which float kernels this machine's torch runs, as "<CPU capability>/<hash>": the hash is of the bits
    that a few operations the examples use give here (linear layers, a convolution, attention's matrix
    products, the activations, the losses, normalisations, an LSTM, both directions, and an Adam step).
    Machines whose vector units differ (AVX2, AVX-512) round some of these differently, and then every
    example trains to numbers a last bit away from another machine's, however exact the engine is."""
    import torch
    import torch.nn.functional as F

    capability = torch.backends.cpu.get_cpu_capability()
    h = hashlib.sha256(capability.encode())
    g = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=g)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        outs = []
        for batch, n_in, n_out in ((4, 2, 4), (64, 784, 128), (100, 30, 64), (32, 64, 10)):
            x, w, b = rand(batch, n_in), rand(n_out, n_in).requires_grad_(), rand(n_out).requires_grad_()
            y = F.linear(x, w, b)
            for f in (torch.tanh, torch.sigmoid, F.relu, F.gelu):
                y = y + f(y)
            loss = F.cross_entropy(y, torch.arange(batch) % n_out) + F.mse_loss(y, torch.zeros_like(y))
            loss.backward()
            outs += [y, w.grad, b.grad]
        img, k = rand(16, 3, 28, 28), rand(8, 3, 3, 3).requires_grad_()
        c = F.batch_norm(F.conv2d(img, k, padding=1), None, None, training=True)
        F.max_pool2d(c, 2).square().mean().backward()
        q, kk = rand(8, 12, 16).requires_grad_(), rand(8, 12, 16)
        att = torch.softmax(q @ kk.transpose(1, 2) / 4, -1) @ kk
        F.layer_norm(att, (16,)).sum().backward()
        lstm = torch.nn.LSTM(8, 16, batch_first=True)
        seq, _ = lstm(rand(4, 10, 8))
        seq.log_softmax(-1).mean().backward()
        opt = torch.optim.Adam(lstm.parameters(), lr=0.01)
        opt.step()
        outs += [c, k.grad, att, q.grad, seq, *lstm.parameters()]
    for t in outs:
        h.update(t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return f"{capability}/{h.hexdigest()[:16]}"


def _read(path: Path) -> dict:
    """A config file's mapping (YAML's loader reads JSON too)."""
    import yaml

    return yaml.safe_load(path.read_text())


def _stored(store, run_id: str) -> dict:
    """What the store holds of a run, time-based fields left out."""
    row = store.get(run_id)
    metrics = store.metrics(run_id)
    snapshots = [{"epoch": s.epoch, "step": s.step, "partial": s.partial,
                  "sha256": weights_sha256(store.load_weights(run_id, s.epoch)[0])}
                 for s in store.snapshots(run_id)]
    return {
        "run": {"status": row.status, "epochs_done": row.epochs_done, "params": row.params,
                "best_val_acc": row.best_val_acc, "final_val_acc": row.final_val_acc,
                "final_val_loss": row.final_val_loss, "diverged_at": row.diverged_at},
        "epochs": [{k: v for k, v in e.items() if k not in TIME_KEYS} for e in metrics["epochs"]],
        "step_x": metrics["step_x"],
        "step_loss": metrics["step_loss"],
        "snapshots": snapshots,
        "final_weights_sha256": snapshots[-1]["sha256"] if snapshots else None,
        "stats": [{"epoch": r.get("epoch"), "step": r.get("step"), "sha256": _json_sha256(r)}
                  for r in store.stats(run_id)],
    }


def _cli(argv: list[str]) -> tuple[int, list[dict]]:
    """main(argv) in this process: its exit code and the JSON objects it printed (one per line)."""
    from playground.__main__ import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(argv)
    return rc, [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]


def _collected(store, printed: dict) -> dict:
    """One printed JSON object and what its run stored; a comparison over seeds prints one object per
    variant with its runs (compare --seeds): each run's stored record, in seed order."""
    result = {k: v for k, v in printed.items() if k not in TIME_KEYS}
    if "runs" in printed:                               # a variant over seeds
        result["runs"] = [{k: v for k, v in r.items() if k not in TIME_KEYS} for r in printed["runs"]]
        return {"result": result, "seeds": [_stored(store, r["run_id"]) for r in printed["runs"]]}
    return {"result": result, **(_stored(store, printed["run_id"]) if "run_id" in printed else {})}


def train_and_collect(name: str, home: str | Path) -> dict:
    """Train the example `name` (a file of examples/, or 'compare/<file>') through the CLI into a new run
    store at `home`, on the CPU, for at most EPOCHS epochs (a comparison: COMPARE_EPOCHS), and return
    what the runs stored, time-based fields left out, non-finite floats as strings."""
    from playground.store import default_store

    home = Path(home)
    home.mkdir(parents=True, exist_ok=True)
    before = os.environ.get("PLAYGROUND_HOME")
    os.environ["PLAYGROUND_HOME"] = str(home)
    try:
        path = EXAMPLES_DIR / name
        if name.startswith("compare/"):
            # `compare` takes no --device: the same config with the base's device set to cpu
            config = _read(path)
            config["base"] = {**config["base"], "device": "cpu"}
            path = home / Path(name).name
            path.write_text(json.dumps(config))
            epochs = min(COMPARE_EPOCHS, int(config["base"].get("epochs", 20)))
            rc, printed = _cli(["compare", str(path), "--epochs", str(epochs)])
        else:
            epochs = min(EPOCHS, int(_read(path).get("epochs", 20)))
            rc, printed = _cli(["train", str(path), "--epochs", str(epochs), "--device", "cpu"])
        store = default_store()
        runs = [_collected(store, r) for r in printed]
    finally:
        if before is None:
            os.environ.pop("PLAYGROUND_HOME", None)
        else:
            os.environ["PLAYGROUND_HOME"] = before
    return _exact({"epochs_run": epochs, "exit_code": rc, "runs": runs})


def record(out: Path) -> dict:
    """Train every example, each into a fresh store, and write the numbers to `out`."""
    import subprocess

    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short=7", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    examples = {}
    with tempfile.TemporaryDirectory(prefix="playground-golden-") as tmp:
        for name in example_names():
            t = time.perf_counter()
            got = examples[name] = train_and_collect(name, Path(tmp) / name.replace("/", "-"))
            ended = ", ".join(r["result"].get("status", "over seeds") for r in got["runs"])
            print(f"{name}: {ended} after {got['epochs_run']} epoch(s), {time.perf_counter() - t:.1f} s",
                  file=sys.stderr, flush=True)
    golden = {"recorded_at_commit": commit, "epochs_cap": EPOCHS, "compare_epochs_cap": COMPARE_EPOCHS,
              "device": "cpu", "fingerprint": float_fingerprint(), "examples": examples}
    out.write_text(json.dumps(golden, indent=1) + "\n")
    return golden


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/unit/record_golden.py OUT.json")
    sys.path.insert(0, str(ROOT))                       # the code of this checkout
    record(Path(sys.argv[1]))
