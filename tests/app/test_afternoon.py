"""What a teacher found in one afternoon of clicking (AppTest, no browser): each case failed before
its fix. The browser walks of the same cases, with screenshots, are in tests/e2e/test_afternoon.py."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.config import load_config
from playground.models import preset_layers
from playground.train import REGISTRY
from tests.app.conftest import APP, open_page
from tests.tokens import token
from tests.trained import train_stored

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def small_autoencoder(owner: str, name: str = "tiny autoencoder"):
    cfg = load_config(EXAMPLES / "mnist_autoencoder.yaml").to_dict()
    cfg.update(name=name, epochs=1)
    cfg["data"]["max_train"] = 300
    return train_stored(cfg, owner=owner)


def test_latent_space_keeps_a_clicked_spot_across_show_switches():
    """Item 1: a spot clicked in Code space, Show -> Against PCA -> Code space raised
    `float() argument must be ... not 'NoneType'`: the sliders holding the spot were not drawn on
    the PCA view, and Streamlit dropped their values."""
    run = small_autoencoder("lena77")
    at = open_page("views/latent.py", token("lena77"))
    at.session_state["run_id"] = run.id
    at.run()
    assert not at.exception, at.exception
    assert at.segmented_control(key="lat_method").value == "raw"
    x, y = (at.slider(key=k).min * 0.7 + at.slider(key=k).max * 0.3 for k in ("lat_z1", "lat_z2"))
    at.session_state["lat_pick"] = ("spot", (x, y))     # what take_click() keeps after a click on an empty spot
    at.session_state["lat_z1"], at.session_state["lat_z2"] = x, y
    at.run()
    assert not at.exception, at.exception
    for show in ("pca", "space", "decode", "space"):
        at.segmented_control(key="lat_show").set_value(show).run()
        assert not at.exception, (show, at.exception)
    assert (at.slider(key="lat_z1").value, at.slider(key="lat_z2").value) == pytest.approx((x, y))   # the spot kept


def test_the_runs_table_selection_starts_afresh_when_its_runs_change():
    """Item 2 (the browser walk clicks it: tests/e2e/test_afternoon.py): Streamlit keeps a table's
    selection as row positions, so after 'Delete for good' the selection pointed at the next run and
    the still-open popover offered to delete it. The table's identity now names the runs it lists."""
    first, second = (train_stored({"name": name, "layers": preset_layers("MLP", "points", 2), "epochs": 1,
                                   "data": {"n_samples": 100}}, owner="dora12") for name in ("older run", "newer run"))
    at = open_page("views/runs.py", token("dora12"))
    assert at.dataframe[0].value["id"].tolist() == [second.id, first.id]
    before = at.dataframe[0].proto.id
    at.run()
    assert at.dataframe[0].proto.id == before             # the same runs: the selection stays
    REGISTRY.delete(second.id, who=token("dora12"))
    at.run()
    assert not at.exception
    assert at.dataframe[0].value["id"].tolist() == [first.id]
    assert at.dataframe[0].proto.id != before


def test_the_vanishing_gradients_lesson_compares_after_a_page_switch():
    """Item 4: the lesson set 'Compare with', but a run that does not draw that widget (another page,
    or this page while the new run has no records yet) made Streamlit drop its value: 'nothing'."""
    earlier = train_stored({"name": "earlier", "layers": preset_layers("MLP", "points", 2), "epochs": 1,
                            "data": {"n_samples": 100}}, owner=token("vito88"))
    at = open_page("views/layer_stats.py", token("vito88"))
    at.session_state["run_id"] = earlier.id
    at.run()
    assert at.selectbox(key="stats_compare").value is None            # drawn: "nothing"
    at.button(key="lesson_Vanishing gradients: deep sigmoid vs deep ReLU").click().run()
    assert not at.exception
    first, second = at.session_state["run_id"], at.session_state["stats_compare"]
    for run in (REGISTRY.get(first), REGISTRY.get(second)):
        assert run.join(120) and run.history.status == "finished", run.history.message
    assert REGISTRY.flush()
    at.run()
    assert at.selectbox(key="stats_compare").value == second
    at.switch_page("views/build_train.py").run()       # a page that does not draw 'Compare with'
    at.switch_page("views/layer_stats.py").run()
    assert not at.exception
    assert at.selectbox(key="stats_compare").value == second


@pytest.mark.parametrize("epochs", [0, 1_000_000])
def test_epochs_out_of_range_refuse_to_start(epochs):
    """Item 6: the browser kept the old value of a number field typed out of its range, and Start
    trained that. Unbounded fields send the value; the config check names it and Start is off."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["me"] = token("eddy55")
    at.run()
    field = at.number_input(key="epochs")
    assert field.min is None and field.max is None      # else the browser would not send a typed 0
    field.set_value(epochs).run()
    assert not at.exception
    start = next(b for b in at.button if b.label == "Start training")
    assert start.disabled
    assert any("epochs: must be" in e.value and f"{epochs:,}" in e.value for e in at.error), [e.value for e in at.error]


def test_a_start_refusal_goes_once_the_form_changes():
    """Item 7: 'needs about ... GB' stayed on the page after the network was fixed."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["me"] = token("fred66")
    at.run()
    at.session_state["start_error"] = (None, "stale")   # shape check: a refusal with no config clears on any form
    at.run()
    assert not any(e.value == "stale" for e in at.error)
    # a real refusal: more parameters than the server accepts
    import os
    os.environ["PLAYGROUND_MAX_PARAMS"] = "100"
    try:
        next(b for b in at.button if b.label == "Start training").click().run()
    finally:
        del os.environ["PLAYGROUND_MAX_PARAMS"]
    refusal = [e.value for e in at.error]
    assert refusal, "Start was not refused"
    at.number_input(key="epochs").set_value(7).run()
    assert [e.value for e in at.error if e.value in refusal] == []


def test_the_lr_finders_curve_goes_once_the_form_holds_another_run():
    """Item 7, old messages: the range test's curve and suggestion stayed in the popover after the data
    or the network changed, though they were another config's. Taking its suggestion keeps them."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["me"] = token("lori88")
    at.run()
    next(b for b in at.button if b.label == "Run the range test").click().run()
    assert "lrf" in at.session_state and not at.exception
    suggestion = at.session_state["lrf"]["suggestion"]
    if suggestion is not None:
        next(b for b in at.button if b.label.startswith("Use lr")).click().run()
        assert "lrf" in at.session_state                     # the new rate is the test's own: still its curve
    at.selectbox(key="optim").set_value("sgd").run()
    assert "lrf" not in at.session_state
    assert not [b for b in at.button if b.label.startswith("Use lr")]
