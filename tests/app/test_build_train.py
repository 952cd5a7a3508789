"""The Build & Train page through Streamlit's AppTest (no browser).

AppTest never fires `run_every` fragments, so the live panel does not poll here: to see a finished
run, click Start, wait for the run in playground.train.REGISTRY, then run the script again.
"""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.models import preset_layers
from playground.train import REGISTRY

APP = str(Path(__file__).resolve().parents[2] / "app.py")
START = "Start training"


def button(at, label):
    matches = [b for b in at.button if label in b.label]
    assert len(matches) == 1, [b.label for b in at.button]
    return matches[0]


def layer_types(at):
    return [layer["type"] for layer in at.session_state["layers"]]


def errors(at):
    return [e.value for e in at.error]


def test_app_runs_and_shows_the_layer_editor(at):
    assert [t.value for t in at.title] == ["Build & Train"]
    assert errors(at) == []
    # the default network: the MLP preset for the 2-D spiral, one editor row per layer
    assert layer_types(at) == [s["type"] for s in preset_layers("MLP", "points", 2)]
    ids = [layer["id"] for layer in at.session_state["layers"]]
    assert [at.selectbox(key=f"ltype_{i}").value for i in ids] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert at.text_input(key=f"largs_{ids[0]}").value == "out_features=16, bias=True"
    # each row shows its parameter count: 2*16+16, 0, 16*16+16, 0, 16*2+2
    markdown = [m.value for m in at.markdown]
    counts = [m for m in markdown if m in ("48", "272", "34", "0")]
    assert counts == ["48", "0", "272", "0", "34"]
    assert any("354 parameters" in c.value for c in at.caption)
    assert not button(at, START).disabled


def test_choosing_mnist_subset_swaps_in_the_small_cnn(at):
    at.selectbox(key="data_name").set_value("mnist_subset").run()
    assert not at.exception
    assert errors(at) == []
    assert at.session_state["preset"] == "Small CNN"
    assert at.session_state["layers"] and layer_types(at) == [s["type"] for s in
                                                             preset_layers("Small CNN", "image", 10)]
    assert at.session_state["layers"][-1]["args"] == "out_features=10, bias=True"
    assert any("9,098 parameters" in c.value for c in at.caption)
    assert any("1x28x28" in c.value and "10" in c.value for c in at.caption)
    # and back to points: the MLP again
    at.selectbox(key="data_name").set_value("spiral").run()
    assert layer_types(at) == [s["type"] for s in preset_layers("MLP", "points", 2)]


def test_conv2d_on_spiral_shows_the_error_and_disables_start(at):
    first = at.session_state["layers"][0]["id"]
    at.selectbox(key=f"ltype_{first}").set_value("Conv2d").run()
    assert not at.exception
    errs = errors(at)
    assert len(errs) == 1
    assert "layer 1" in errs[0] and "the data are 2-D points" in errs[0]
    assert button(at, START).disabled
    assert any("refused" in m.value for m in at.markdown)        # the bad row is marked
    # setting it back makes the network trainable again
    at.selectbox(key=f"ltype_{first}").set_value("Linear").run()
    assert errors(at) == [] and not button(at, START).disabled


def test_unreadable_arguments_show_the_format(at):
    last = at.session_state["layers"][-1]["id"]
    at.text_input(key=f"largs_{last}").input("out_features").run()
    assert not at.exception
    errs = errors(at)
    assert len(errs) == 1 and "layer 5 (Linear): cannot read 'out_features'" in errs[0]
    assert "name=value" in errs[0]
    assert button(at, START).disabled


def test_wrong_number_of_outputs_names_the_fix(at):
    last = at.session_state["layers"][-1]["id"]
    at.text_input(key=f"largs_{last}").input("out_features=3").run()
    errs = errors(at)
    assert len(errs) == 1 and "the data set has 2 classes" in errs[0]
    assert "set out_features=2 on layer 5 (Linear)" in errs[0]
    assert button(at, START).disabled


def test_start_trains_and_the_page_shows_the_result(at):
    at.number_input(key="epochs").set_value(3)
    at.slider(key="n_samples").set_value(200)
    at.run()
    button(at, START).click().run()
    assert not at.exception
    assert errors(at) == []
    run_id = at.session_state["run_id"]
    run = REGISTRY.get(run_id)
    assert run is not None and run.config.epochs == 3 and run.config.data.n_samples == 200
    try:
        assert run.join(60), "the run did not end in time"
    finally:
        run.stop()
    at.run()
    assert not at.exception
    success = [s.value for s in at.success]
    assert len(success) == 1 and success[0].startswith("finished 3 epochs"), (success, run.history.message)
    metrics = {m.label: m.value for m in at.metric}
    assert {"validation loss", "validation accuracy", "learning rate"} <= set(metrics)
    assert metrics["validation accuracy"].endswith("%")
    assert float(metrics["validation loss"]) == pytest.approx(run.history.epochs[-1]["val_loss"], abs=1e-4)
    assert metrics["learning rate"] == f"{run.config.optim.lr:.3g}"
    assert len(at.get("image")) == 1                                    # the decision boundary
    assert REGISTRY.get(run_id).history.status == "finished"


def test_torchvision_set_without_files_shows_a_clear_error(at, tmp_path):
    at.selectbox(key="data_name").set_value("mnist").run()
    at.text_input(key="data_dir").input(str(tmp_path)).run()
    assert not at.exception
    errs = errors(at)
    assert any(str(tmp_path) in e and "download" in e for e in errs), errs
    assert button(at, START).disabled



def _token(at) -> str:
    value = at.query_params["me"]
    return value[0] if isinstance(value, list) else value


def test_runs_belong_to_the_browser_that_started_them():
    """Another browser (another ?me= token) lists only its own runs by default and cannot stop
    this browser's run even when it shows it."""
    from playground.train import REGISTRY

    at = AppTest.from_file(APP, default_timeout=60).run()
    at.number_input(key="epochs").set_value(2000).run()
    next(b for b in at.button if "Start" in b.label).click().run()
    run = REGISTRY.get(at.session_state.run_id)
    try:
        assert run.owner == _token(at)
        other = AppTest.from_file(APP, default_timeout=60).run()
        assert _token(other) != _token(at)
        assert all(r.owner == _token(other) for r in REGISTRY.runs(_token(other)))
        assert "run_id" not in other.session_state or other.session_state.run_id != run.id
        other.toggle(key="all_runs").set_value(True).run()
        other.selectbox(key="run_id").set_value(run.id).run()
        assert not other.exception
        assert next(b for b in other.button if b.label == "Stop").disabled
        assert run.alive
    finally:
        run.stop()
        run.join(30)


def test_a_change_event_that_changes_nothing_keeps_the_network_and_the_loss():
    """Under load Streamlit reported a layer type 'changed' to the type it had (a click that
    interrupted the first draw): the last Linear's arguments were reset to the default 16 outputs and
    the run was refused (scripts/load.py, 7 of 10 students). Such events change nothing now."""
    import streamlit as st

    from ui import layer_editor
    from ui.run_form import data_changed

    layer = {"id": 905, "type": "Linear", "args": "out_features=2, bias=True"}
    st.session_state["ltype_905"] = "Linear"
    layer_editor._type_changed(layer)
    assert layer == {"id": 905, "type": "Linear", "args": "out_features=2, bias=True"}
    st.session_state["ltype_905"] = "Tanh"                            # a real change still resets them
    layer_editor._type_changed(layer)
    assert layer["type"] == "Tanh" and layer["args"] == "" and st.session_state["largs_905"] == ""

    s = st.session_state
    s.update({"data_name": "moons", "_data_was": "moons", "loss": "mse", "task": "regression"})
    data_changed()
    assert (s.loss, s.task) == ("mse", "regression")


def test_each_layer_row_is_drawn_with_its_own_values_as_the_widgets_defaults(at):
    # a browser that draws a row from a later script run than the one that seeded the widgets' state
    # falls back on the defaults the element carries: those must be the layer's, not "" / the first type
    layers = at.session_state["layers"]
    last = layers[-1]["id"]
    at.text_input(key=f"largs_{last}").input("out_features=2, bias=False").run()
    at.selectbox(key=f"ltype_{layers[1]['id']}").set_value("Tanh").run()
    assert errors(at) == [] and layer_types(at)[1] == "Tanh"
    for layer in at.session_state["layers"]:
        args = at.text_input(key=f"largs_{layer['id']}")
        kind = at.selectbox(key=f"ltype_{layer['id']}")
        assert args.proto.default == args.value == layer["args"]
        assert kind.options[kind.proto.default] == kind.value == layer["type"]
    assert at.text_input(key=f"largs_{last}").proto.default == "out_features=2, bias=False"
