"""The Evaluate page (AppTest, no browser): any snapshot of the run shown, and the threshold of a
two-class run."""
import pytest
import torch
from streamlit.testing.v1 import AppTest

from playground.config import RunConfig
from playground.inspect import evaluate
from playground.models import preset_layers
from playground.train import REGISTRY
from playground.train.frozen import frozen_model
from tests.app.conftest import metric, open_page
from tests.tokens import token


@pytest.fixture(scope="module")
def spiral():
    cfg = RunConfig.from_dict({"name": "eval page spiral", "layers": preset_layers("MLP", "points", 2), "epochs": 3,
                               "data": {"n_samples": 200}})
    run = REGISTRY.start(cfg, owner=token("dora12"))
    assert run.join(60) and run.history.status == "finished"
    assert REGISTRY.flush()
    return run


def evaluate_page(owner: str) -> AppTest:
    return open_page("views/evaluate.py", owner)


def test_scrubbing_to_the_initial_weights_changes_the_evaluation(spiral):
    at = evaluate_page("dora12")
    measured = spiral.history.snapshot()["epochs"][-1]["val_acc"]
    assert metric(at, "Accuracy") == f"{measured:.1%}"                  # the newest snapshot: the last epoch
    scrub = at.select_slider(key=f"scrub_{spiral.id}")
    assert scrub.value == 3 and list(scrub.options) == ["epoch 0 (initial weights)", "epoch 1", "epoch 2", "epoch 3"]
    scrub.set_value(0).run()
    assert not at.exception
    assert at.select_slider(key=f"scrub_{spiral.id}").value == 0        # it stays where the user put it
    # the numbers shown are those of the initial weights: the inspect module's own evaluation of epoch 0's
    # snapshot, and not the last epoch's
    first = evaluate(frozen_model(REGISTRY.store, spiral.id, 0), split="val").summary
    last = evaluate(frozen_model(REGISTRY.store, spiral.id, 3), split="val").summary
    assert first["epoch"] == 0 and last["epoch"] == 3
    assert metric(at, "Accuracy") == f"{first['accuracy']:.1%}" != f"{last['accuracy']:.1%}"
    assert metric(at, "MCC") == f"{first['mcc']:.3f}"
    assert last["accuracy"] == pytest.approx(measured, abs=1e-6)       # the reference agrees with the run's record
    caption = next(c.value for c in at.caption if "Confusion matrix at threshold" in c.value)
    frozen = frozen_model(REGISTRY.store, spiral.id, 0)
    with torch.no_grad():                                               # torch's own: P(class 1) >= 0.5
        p1 = torch.softmax(frozen.model(frozen.data.X_val), 1)[:, 1]
    right = float(((p1 >= 0.5).long() == frozen.data.y_val).float().mean())
    assert f"(accuracy {right:.1%})" in caption


def test_the_threshold_moves_the_confusion_matrix(spiral):
    at = evaluate_page("dora12")
    at.slider(key="eval_threshold").set_value(0.0).run()
    caption = next(c.value for c in at.caption if "Confusion matrix at threshold" in c.value)
    assert caption.startswith("Confusion matrix at threshold 0.00 (accuracy ")
    share = float(caption.split("accuracy ")[1].split("%")[0]) / 100       # everything called class 1
    y = spiral.data.y_val
    assert share == pytest.approx(float((y == 1).float().mean()), abs=0.0006)
    at.segmented_control(key="eval_split").set_value("train").run()
    assert not at.exception


def test_without_a_run_the_page_says_how_to_get_one():
    at = evaluate_page("nobody2")
    assert any("No run to evaluate yet" in i.value for i in at.info)
    assert REGISTRY.listing(token("nobody2")) == []
