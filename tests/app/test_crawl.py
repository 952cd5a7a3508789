"""The crawler over the whole app: every page, for each kind of run the engine makes, with every
widget set to its choices one at a time (tests/app/crawl.py says how). One test per kind of run."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from playground.config import load_config
from playground.models import preset_layers
from tests.app.crawl import PAGES, RUN_FREE, Crawler
from tests.tokens import token
from tests.trained import train_stored

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REPORT = Path(__file__).resolve().parents[2] / "artifacts" / "crawl"


def example(name: str, epochs: int = 1, **data) -> dict:
    cfg = load_config(EXAMPLES / name).to_dict()
    cfg["epochs"] = epochs
    cfg["data"].update(data)
    return cfg


def spiral(**changes) -> dict:
    return {"name": "spiral", "layers": preset_layers("MLP", "points", 2), "epochs": 2, "data": {"n_samples": 200},
            **changes}


# The kinds of run, each as small as still makes the pages draw everything they draw for it.
KINDS = {
    "image classifier": lambda: example("shapes_cnn.json", 2, max_train=300),
    "2-D points": lambda: spiral(),
    "table": lambda: example("breast_cancer_mlp.yaml", 2),
    "regression": lambda: example("curve_goodfit.yaml", 3),
    "sequence model": lambda: example("transformer_reverse.yaml", 1, n_samples=400),
    "autoencoder": lambda: example("mnist_autoencoder.yaml", 1, max_train=300),
    "VAE": lambda: example("mnist_vae.yaml", 1, max_train=300),
    "vision transformer": lambda: example("mnist_vit.yaml", 1, max_train=300),
    "diverged": lambda: spiral(name="diverges", optim={"name": "sgd", "lr": 1e4}, init="normal", epochs=20),
    "interrupted": lambda: spiral(name="interrupted"),
}


def make_run(kind: str, owner: str):
    from playground.train import REGISTRY

    if kind == "no run":
        return None
    if kind == "running":
        run = REGISTRY.start(REGISTRY_CONFIG(), owner=owner)
        assert run.history.status in ("queued", "starting", "running")
        return run
    run = train_stored(KINDS[kind](), owner=owner) if kind != "diverged" else _diverged(owner)
    if kind == "interrupted":                       # as if the server had died mid-run: its pid is gone
        REGISTRY.store.update(run.id, status="running", pid=2**22 + 1, pid_started=1.0)
        assert REGISTRY.get(run.id).history.status == "interrupted"
    return run


def REGISTRY_CONFIG():
    from playground.config import RunConfig

    return RunConfig.from_dict(spiral(name="still training", epochs=100_000, data={"n_samples": 100}))


def _diverged(owner: str):
    from playground.config import RunConfig
    from playground.store import default_store
    from playground.train.registry import Registry

    reg = Registry(max_active=1, processes=False, store=default_store())
    run = reg.start(RunConfig.from_dict(KINDS["diverged"]()), owner=owner)
    assert run.join(60) and run.history.status == "diverged", run.history.status
    assert reg.flush()
    return run


@pytest.fixture(scope="module", autouse=True)
def _no_projections_left():
    """The crawl picks UMAP and t-SNE on Latent space for many runs: their fits queue in this process's
    projector, and would go on using a core under the tests that follow (the browser tests time pages)."""
    yield
    from ui.latent import projector

    projector().close()


@pytest.mark.parametrize("kind", [*KINDS, "running", "no run"])
def test_every_widget_on_every_page(kind, monkeypatch):
    owner = token("crawl" + "".join(c for c in kind if c.isalnum())[:20])
    run = make_run(kind, owner)
    rng = random.Random(kind)
    # With no run shown, Build & Train's Start is pressed after every setting: each data set, task,
    # loss, optimizer, schedule... is trained a few steps, not only drawn.
    crawler = Crawler(owner, run.id if run is not None else None, rng,
                      start_after="Start training" if kind == "no run" else None)
    try:
        for page in PAGES:
            if page not in RUN_FREE or kind == "no run":
                crawler.crawl(page, monkeypatch)
    finally:
        if kind == "running":
            run.stop()
    r = crawler.report
    REPORT.mkdir(parents=True, exist_ok=True)
    (REPORT / f"{owner}.json").write_text(json.dumps({"kind": kind, "states": r.states, "widgets": len(r.widgets),
                                                      "gone": r.gone, "downloads": r.downloads, "started": r.started,
                                                      "disabled": sorted(map(str, r.disabled)),
                                                      "problems": r.problems}, indent=1))
    print(f"{kind}: {r.states} states, {len(r.widgets)} widgets set, {r.gone} gone by their turn, "
          f"{r.downloads} downloads checked, {r.started} runs started by a click and trained, "
          f"{len(r.disabled)} widgets disabled at their turn, {len(r.problems)} problems")
    assert not r.problems, "\n".join(r.problems[:30])


def test_the_crawler_reports_each_kind_of_defect(monkeypatch):
    """On a page with one planted defect of each kind: an exception for one choice (the last of five,
    which the sampling must reach), an error in the log for a huge number, a download that fails and
    one that gives nothing (behind a toggle). A good download is counted and not reported."""
    from tests.app.crawl import Crawler

    app = str(Path(__file__).with_name("crawl_probe_app.py"))
    crawler = Crawler("probe", None, random.Random(0), app=app)
    crawler.crawl("probe", monkeypatch)
    problems = "\n".join(crawler.report.problems)
    assert "exception box: ValueError: a planted exception for the 'cross' choice" in problems, problems
    assert "logged: probe: a planted error in the log for a huge size" in problems, problems
    assert "download 'Broken download' fails: ZeroDivisionError" in problems, problems
    assert "download 'Empty download' gives an empty file" in problems, problems
    assert "Good download" not in problems and crawler.report.downloads >= 1
    assert {ident[1] for _, ident in crawler.report.widgets} >= {"shape", "size", "export"}
