"""Evaluate, Filters and Layer statistics opened with a regression, a sequence and a reconstruction run
(AppTest, no browser): no exception, and one number or message each, checked against a reference the
page does not compute (torch on the frozen model, the inspect module's own function)."""
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from playground.config import RunConfig, load_config
from playground.errors import PlaygroundError
from playground.inspect import evaluate, filters
from playground.train import REGISTRY
from playground.train.frozen import frozen_model
from playground.train.probe import probe_indices
from tests.app.conftest import metric
from tests.tokens import token

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
OWNER = token("olga12")
SMALL = {"regression": ("curve_goodfit.yaml", {"epochs": 20}),
         "sequence": ("transformer_reverse.yaml", {"epochs": 2, "data": {"name": "reverse", "n_samples": 600,
                                                                        "seq_len": 8, "vocab": 10}}),
         "reconstruction": ("mnist_conv_autoencoder.yaml", {"epochs": 1, "data": {"name": "mnist_subset",
                                                                                  "max_train": 300}})}


@pytest.fixture(scope="module")
def runs():
    out = {}
    for task, (example, small) in SMALL.items():
        cfg = {**load_config(ROOT / "examples" / example).to_dict(), **small, "name": f"pages {task}", "device": "cpu"}
        run = REGISTRY.start(RunConfig.from_dict(cfg), owner=OWNER)
        assert run.join(120) and run.history.status == "finished", run.history.message
        assert run.task.name == task
        out[task] = run
    assert REGISTRY.flush()
    return out


def page(run_id: str, script: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["me"] = OWNER
    at.run()
    at.selectbox(key="run_id").set_value(run_id).run()
    at.switch_page(script).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("task", list(SMALL))
def test_evaluate_says_it_is_for_classifiers_as_the_inspect_module_does(runs, task):
    at = page(runs[task].id, "views/evaluate.py")
    with pytest.raises(PlaygroundError) as said:            # the inspect module's own answer for the same snapshot
        evaluate(frozen_model(REGISTRY.store, runs[task].id), split="val")
    assert f"this run is a {task} run" in str(said.value)
    assert [e.value for e in at.error] == [f"{said.value}."]
    assert not at.metric                                     # no classifier's numbers for a run of another task


def test_filters_of_a_regression_and_a_sequence_run_say_they_are_for_images(runs):
    at = page(runs["regression"].id, "views/filters.py")
    assert [i.value for i in at.info if "1-D curves: filters and feature maps belong to image data" in i.value]
    at = page(runs["sequence"].id, "views/filters.py")
    [note] = [i.value for i in at.info if "token sequences: filters and feature maps belong to image data" in i.value]
    assert "What a sequence model attends to is on **Attention**." in note


def test_filters_of_a_conv_autoencoder_show_the_snapshots_weights(runs):
    run = runs["reconstruction"]
    at = page(run.id, "views/filters.py")
    assert at.selectbox(key="filters_layer").options == ["layer 1", "layer 4"]
    ref = filters(frozen_model(REGISTRY.store, run.id), 1).summary           # the inspect module on the last snapshot
    weight = frozen_model(REGISTRY.store, run.id).model[0].weight.detach()   # and torch's own tensor
    assert ref["abs_max"] == pytest.approx(float(weight.abs().max()), rel=1e-6)
    [caption] = [c.value for c in at.caption if c.value.startswith("Layer 1 (Conv2d): 8 filters of 1x3x3")]
    assert f"|w| up to {ref['abs_max']:.3g})" in caption
    assert any("A reconstruction run: the network's output is the last map below" in c.value for c in at.caption)


def probe_loss(run_id: str, epoch: int) -> float:
    """The loss on the run's probe batch, recomputed from the snapshot at epoch with torch (training mode,
    as the probe measures it)."""
    frozen = frozen_model(REGISTRY.store, run_id, epoch)
    X, y = frozen.data.X_train, frozen.data.y_train
    idx = probe_indices(len(X), tuple(X.shape[1:]), frozen.config.seed)
    model, task = frozen.model.train(), frozen.task
    task.prepare(model, "cpu")
    with torch.no_grad():
        return float(task.loss(model(X[idx]), task.target(X[idx], y[idx]), model))


@pytest.mark.parametrize("task", list(SMALL))
def test_layer_statistics_show_the_probe_loss_of_the_snapshot(runs, task):
    run = runs[task]
    at = page(run.id, "views/layer_stats.py")
    epochs = [s.epoch for s in REGISTRY.store.snapshots(run.id)]
    last = epochs[-1]
    assert metric(at, "Probe loss") == f"{probe_loss(run.id, last):.4g}"
    at.select_slider(key=f"scrub_{run.id}").set_value(0).run()               # the initial weights
    assert not at.exception, [e.value for e in at.exception]
    assert metric(at, "Probe loss") == f"{probe_loss(run.id, 0):.4g}" != f"{probe_loss(run.id, last):.4g}"
