"""Build & Train with the other tasks: examples, data knobs per set, losses per task, and a
regression and a sequence run trained from the page (AppTest; no browser)."""
import time

import pytest
import torch
from sklearn.metrics import r2_score

from playground.train import REGISTRY
from playground.train.frozen import frozen_model
from playground.train.tasks import IGNORE
from tests.app.conftest import metric


def load_example(at, title):
    at.selectbox(key="example").set_value(title).run()
    next(b for b in at.button if b.label == "Load example").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == []


def captions(at):
    return " | ".join(c.value for c in at.caption)


def train(at, timeout=90):
    next(b for b in at.button if b.label == "Start training").click().run()
    run = REGISTRY.get(at.session_state["run_id"])
    end = time.time() + timeout
    while run.alive and time.time() < end:
        time.sleep(0.2)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return run


def test_the_autoencoder_example_is_a_reconstruction_of_218514_parameters(at):
    load_example(at, "MNIST autoencoder 784-128-64-2")
    assert at.session_state["task"] == "reconstruction" and at.session_state["loss"] == "mse"
    assert "218,514 parameters" in captions(at) and "a reconstruction of the 1x28x28 (CxHxW) input" in captions(at)
    assert at.selectbox(key="loss").options[1:] == ["mean squared error", "binary cross-entropy (one sigmoid output)"]


def test_a_curve_set_offers_its_function_and_regression_losses_and_refuses_a_classifier_end(at):
    at.selectbox(key="data_name").set_value("curve").run()
    assert at.selectbox(key="function").value == "sine"
    assert at.selectbox(key="loss").options[1:] == ["mean squared error", "mean absolute error", "Huber", "log-cosh"]
    # the spiral MLP ends with 2 features: the page says what a regression on one target needs
    errs = [e.value for e in at.error]
    assert len(errs) == 1 and "1 target" in errs[0] and "out_features=1" in errs[0], errs
    assert next(b for b in at.button if b.label == "Start training").disabled


def test_a_regression_example_trains_from_the_page_with_its_metrics(at):
    load_example(at, "curve fit · good fit (16 units)")
    at.number_input(key="epochs").set_value(20).run()
    run = train(at)
    assert run.history.status == "finished", run.history.message
    last = run.history.epochs[-1]
    shown = metric(at, "validation R²")
    assert shown == f"{last['val_r2']:.3f}"                              # the run's own record of its last epoch
    assert REGISTRY.flush()
    frozen = frozen_model(REGISTRY.store, run.id)                      # and scikit-learn's, on the final weights
    assert frozen.epoch == last["epoch"] == 20
    with torch.no_grad():
        predicted = frozen.model(frozen.data.X_val).numpy()
    reference = r2_score(frozen.data.y_val.numpy(), predicted)
    assert last["val_r2"] == pytest.approx(reference, abs=1e-5)
    assert float(shown) == pytest.approx(reference, abs=0.0005)
    # the fitted curve is drawn: a Vega-Lite chart with the points and the line
    specs = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert any('"points"' in spec and '"line"' in spec for spec in specs)


def test_a_sequence_example_shows_token_accuracy(at):
    load_example(at, "tiny transformer · reverse")
    assert "10 class scores at each of 8 positions" in captions(at)
    assert at.session_state["seq_len"] == 8 and at.session_state["vocab"] == 10
    at.number_input(key="epochs").set_value(1).run()
    run = train(at)
    assert run.history.status == "finished", run.history.message
    last = run.history.epochs[-1]
    assert metric(at, "validation token accuracy") == f"{last['val_token_acc']:.1%}"
    assert REGISTRY.flush()
    frozen = frozen_model(REGISTRY.store, run.id)                      # torch's count on the final weights
    assert frozen.epoch == last["epoch"] == 1
    with torch.no_grad():
        predicted = frozen.model(frozen.data.X_val).argmax(-1)         # (N, L)
    scored = frozen.data.y_val != IGNORE
    reference = float((predicted == frozen.data.y_val)[scored].float().mean())
    assert last["val_token_acc"] == pytest.approx(reference, abs=1e-6)


def test_switching_to_reconstruction_drops_a_loss_of_the_old_task(at):
    at.selectbox(key="data_name").set_value("breast_cancer").run()
    at.selectbox(key="loss").set_value("hinge").run()
    assert "hinge" in at.selectbox(key="loss").value
    at.radio(key="task").set_value("reconstruction").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["loss"] == "auto"
    assert at.selectbox(key="loss").label == "Loss (reconstruction)"
