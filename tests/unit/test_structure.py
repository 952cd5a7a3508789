"""The engine's shape, checked: a run's config is validated once and its network built on the meta device and
budget-checked once per Start (on the server), and only built where it trains; the packages import downward only;
training and the store keep their functions short; importing the package starts no process or thread; every run
object pages read has the RunView surface."""
from __future__ import annotations

import ast
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

import playground.train.checked as checked_module
from playground.config import RunConfig
from playground.models import build as build_module
from playground.store import Store
from playground.train import runs
from playground.train.executor import RunHandle, ThreadExecutor
from playground.train.history import History
from playground.train.registry import Registry, StoredRun
from playground.train.stream import DONE, apply
from playground.train.worker import job_message, run_job

ROOT = Path(__file__).resolve().parents[2]
SPIRAL = {"data": {"name": "spiral"}, "epochs": 2, "batch_size": 20,
          "layers": [{"type": "Linear", "out_features": 8}, {"type": "ReLU"}, {"type": "Linear", "out_features": 2}]}
# Each package may import only those below it (the engine never imports ui/ or views/).
LAYERS = [("errors", "config", "device", "identity", "lessons", "quick_exit", "seeds"), ("data",), ("models",),
          ("store",), ("train",), ("inspect", "export", "compare", "projection", "surfaces", "viz", "__main__")]


@pytest.fixture
def counted(monkeypatch):
    """Counts of RunConfig.validate, budget checks and network builds by device ("meta" or "real")."""
    counts = Counter()
    validate, budget, build = RunConfig.validate, checked_module.check_budget, build_module.build_model

    def counting_validate(self):
        counts["validate"] += 1
        return validate(self)

    def counting_budget(*args, **kwargs):
        counts["budget"] += 1
        return budget(*args, **kwargs)

    def counting_build(*args, **kwargs):
        counts["meta" if kwargs.get("device") == "meta" else "real"] += 1
        return build(*args, **kwargs)
    monkeypatch.setattr(RunConfig, "validate", counting_validate)
    monkeypatch.setattr(checked_module, "check_budget", counting_budget)
    monkeypatch.setattr(checked_module, "build_model", counting_build)
    return counts


def test_one_start_validates_once_and_checks_the_budget_once(counted, tmp_path):
    reg = Registry(executor=ThreadExecutor(), store=Store(tmp_path))
    config = RunConfig.from_dict(SPIRAL)                     # the form makes the config: validated here
    run = reg.start(config)
    assert run.join(60) and run.history.status == "finished", run.history.message
    assert counted == Counter(validate=1, budget=1, meta=1, real=1)
    reg.shutdown()


def test_a_worker_builds_what_the_server_checked_and_checks_nothing_again(counted):
    """The process executor's message, handled by the worker's own function (here, in this process)."""
    config = RunConfig.from_dict(SPIRAL)
    handle = RunHandle(config, ThreadExecutor())
    handle.checked = checked_module.check(config)
    assert counted == Counter(validate=1, budget=1, meta=1)
    sent, history = [], History()

    def send(msg):
        sent.append(msg)
        if msg[0] != DONE:
            apply(history, msg)
    run_job(job_message(handle, wait_for_go=False), send, recv=None, stop=threading.Event())
    assert history.status == "finished" and len(history.epochs) == 2, history.message
    assert counted == Counter(validate=1, budget=1, meta=1, real=1)       # one more build: the real one


def _imports(path: Path) -> set[str]:
    """Top-level packages of playground that a module imports (anywhere in it, functions included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
            [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
        for name in names:
            parts = name.split(".")
            if parts[0] == "playground" and len(parts) > 1:
                out.add(parts[1])
    return out


def _layer(part: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if part.removesuffix(".py") in names)


def test_packages_import_downward_only():
    upward = []
    for path in sorted((ROOT / "playground").rglob("*.py")):
        rel = path.relative_to(ROOT / "playground").parts
        if rel[0] == "__init__.py":
            continue
        here = _layer(rel[0])
        upward += [f"{'/'.join(rel)} imports playground.{p}" for p in _imports(path) if _layer(p) > here]
    assert upward == []


def test_the_store_imports_nothing_of_training():
    assert all("train" not in _imports(p) for p in (ROOT / "playground" / "store").glob("*.py"))


def test_training_and_store_functions_fit_on_a_screen():
    long = []
    for package in ("train", "store"):
        for path in sorted((ROOT / "playground" / package).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    lines = node.end_lineno - node.lineno + 1
                    if lines > 60:
                        long.append(f"{package}/{path.name}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


def test_importing_the_package_starts_no_process_or_thread():
    code = ("import importlib, pkgutil, threading, psutil, playground\n"
            "for m in pkgutil.walk_packages(playground.__path__, 'playground.'):\n"
            "    if m.name not in ('playground.__main__', 'playground.train.actor'):\n"
            "        importlib.import_module(m.name)\n"
            "import playground.train.registry as r\n"
            "assert r._REGISTRY is None, 'the registry was made at import'\n"
            "print(threading.active_count(), len(psutil.Process().children(recursive=True)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "0"]


def test_a_process_spawned_by_multiprocessing_runs_none_of_the_app():
    """multiprocessing's spawn runs the main script again in its child as __mp_main__ (the UMAP
    projector's process under Streamlit): app.py must then import and start nothing (it once imported
    torch, drew the app in bare mode and warmed worker processes in that child)."""
    code = ("import runpy, sys, threading, psutil\n"
            "runpy.run_path('app.py', run_name='__mp_main__')\n"
            "print('torch' in sys.modules, 'ui.app' in sys.modules, threading.active_count(),\n"
            "      len(psutil.Process().children(recursive=True)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "1", "0"], out.stdout + out.stderr


def test_live_and_stored_runs_have_the_run_view_surface(tmp_path):
    store = Store(tmp_path)
    reg = Registry(executor=ThreadExecutor(), store=store)
    live = reg.start(RunConfig.from_dict(SPIRAL))
    assert live.join(60) and reg.flush()
    stored = StoredRun(store, store.get(live.id))
    for run in (live, stored):
        missing = [n for n in runs.FIELDS + runs.METHODS if not hasattr(run, n)]
        assert missing == [], type(run).__name__
        assert (run.id, run.name, run.where, run.alive) == (live.id, live.name, "", False)
        assert run.weights() is not None and run.history.status == "finished"
    reg.shutdown()
