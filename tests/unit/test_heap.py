"""A training process keeps the memory a step freed for the next step (playground/train/heap.py), and a
worker hands it back when asked; checked by the page faults a step takes, in processes of their own
(the settings are process-wide)."""
from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from playground.config import RunConfig
from playground.train.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                                reason="the settings are glibc's malloc's")

# A step's activations: 16 tensors of 4 MB, allocated, written, freed, in a process that keeps freed
# memory; then the fewest page faults of its fourth and fifth steps, and what release() hands back
STEPS = """
import json, resource, torch
from playground.train import heap
kept = heap.keep_freed()
def step():
    xs = [torch.ones(1 << 20) for _ in range(16)]
    del xs
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()
step(); step(); step()
again = []
for _ in range(2):
    f0 = faults(); step(); again.append(faults() - f0)
before = rss(); heap.release()
print(json.dumps({"kept": kept, "faults": min(again), "released_mb": (before - rss()) / 2**20}))
"""


def test_a_kept_step_reuses_the_memory_the_last_step_freed_and_release_hands_it_back():
    """glibc's own thresholds hand such a step's memory back or not depending on what came before (0 to
    ~16,000 page faults a step here); kept, the step takes its memory from the last one's."""
    out = subprocess.run([sys.executable, "-c", STEPS], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    kept = json.loads(out.stdout.strip().splitlines()[-1])
    assert kept["kept"] is True
    assert kept["faults"] < 1_000, f"kept: the step's 64 MB still page-faulted back in ({kept})"
    assert kept["released_mb"] > 40, f"release() handed back {kept['released_mb']:.0f} MB of the 64 MB kept"


def test_a_worker_runs_a_cnn_again_without_page_faulting_its_memory_back_in(tmp_path):
    """The MNIST CNN's run (3 epochs of 10 steps) in a warm worker, three times: the third takes its memory
    from the runs before (22-830 page faults in 9 tries here). A worker whose malloc handed a step's memory
    back took 62,000-80,000 for each of these runs."""
    from playground.store.db import Store
    from playground.train.bench import CNN, config

    base = config(CNN, 3).to_dict()      # 10 steps an epoch: the data's own pages (it comes anew in each job) are few
    cfg = RunConfig.from_dict({**base, "data": {**base["data"], "max_train": 640}, "stats": False})
    reg = Registry(max_active=1, processes=True, store=Store(tmp_path))
    try:
        counts, pids = [], set()
        for _ in range(3):
            run = reg.start(cfg)
            assert run.join(120) and run.history.status == "finished", run.history.message
            pids.add(run.job.target.proc.pid)
            counts.append(minor_faults(run.job.target.proc.pid))
        assert len(pids) == 1, f"the runs trained in different workers {pids}"
        third = counts[2] - counts[1]
        assert third < 3_000, f"the third run page-faulted {third} pages (the worker's counts after each run: {counts})"
    finally:
        reg.executor.close()


def minor_faults(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])
