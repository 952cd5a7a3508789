"""The Optimizer race page through Streamlit's AppTest (no browser).

The page runs on its own here, without app.py's sidebar (no "device"/"seed" in session state), which
is also how it must behave inside st.navigation. The figures are read back from the chart specs.
"""
import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from playground.surfaces import SURFACES

PAGE = str(Path(__file__).resolve().parents[2] / "views" / "race.py")


@pytest.fixture
def at():
    app = AppTest.from_file(PAGE, default_timeout=60)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def charts(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def array(v) -> np.ndarray:
    """A Plotly array from a chart spec: a list, or {dtype, bdata} (base64 of the raw bytes)."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    return np.asarray(v, dtype=float)


def path(spec: dict, name: str) -> np.ndarray:
    """(k, 2) points of the trajectory trace called `name` in the contour figure."""
    (trace,) = [t for t in spec["data"] if t.get("name") == name]
    return np.stack([array(trace["x"]), array(trace["y"])], axis=1)


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def test_page_runs_and_draws_the_race(at):
    assert [t.value for t in at.title] == ["Optimizer race"]
    assert errors(at) == []
    assert "device" not in at.session_state and "seed" not in at.session_state
    contour, loss = charts(at)
    names = [t.get("name") for t in contour["data"]]
    assert {"SGD", "SGD + momentum", "RMSprop", "Adam", "start", "minimum"} <= set(names)
    assert contour["layout"]["uirevision"] == "quadratic" and len(contour["frames"]) > 10
    assert loss["layout"]["yaxis"]["type"] == "log"
    # the default start is the surface's, the step is the last one, and every path is drawn to it
    start = SURFACES["quadratic"].start
    assert (at.slider(key="race_x0_quadratic").value, at.slider(key="race_y0_quadratic").value) == start
    assert at.slider(key="race_step").value == 100
    sgd = path(contour, "SGD")
    assert sgd.shape == (101, 2) and tuple(sgd[0]) == start
    # the update rules PyTorch uses are on the page
    assert any("v = momentum*v + g" in m.value for m in at.markdown)


def test_step_buttons_move_both_figures(at):
    at.button(key="race_prev").click().run()
    assert at.slider(key="race_step").value == 99
    at.button(key="race_first").click().run()
    at.button(key="race_next").click().run()
    assert at.slider(key="race_step").value == 1
    contour, loss = charts(at)
    assert path(contour, "Adam").shape == (2, 2)
    assert [s["x0"] for s in loss["layout"]["shapes"]] == [1]
    at.button(key="race_last").click().run()
    assert at.slider(key="race_step").value == 100


def test_changing_surface_resets_start_and_learning_rates(at):
    for name, surface in SURFACES.items():
        if name == "quadratic":
            continue
        at.selectbox(key="race_surface").set_value(name).run()
        assert not at.exception, [e.value for e in at.exception]
        assert errors(at) == []
        assert at.number_input(key=f"race_lr_{name}_sgd").value == surface.lrs["sgd"]
        assert at.slider(key="race_step").value == surface.steps
        contour, _ = charts(at)
        assert tuple(path(contour, "Adam")[0]) == pytest.approx(surface.start, abs=1e-6)
        assert contour["layout"]["uirevision"] == name
        assert not any("Condition" in s.label for s in at.select_slider)


def test_a_larger_condition_number_slows_sgd_down_the_valley(at):
    x_end = {}
    for kappa in (5, 1000):
        at.select_slider(key="race_condition").set_value(kappa).run()
        assert not at.exception
        assert any(f"κ = {kappa}" in c.value for c in at.caption)
        x_end[kappa] = abs(path(charts(at)[0], "SGD")[-1, 0])
    assert x_end[1000] > 100 * x_end[5]


def test_a_bad_learning_rate_shows_an_error_not_a_traceback(at):
    at.number_input(key="race_lr_quadratic_adam").set_value(-0.1).run()
    assert not at.exception
    assert len(errors(at)) == 1 and "Adam: the learning rate must be above 0, got -0.1" in errors(at)[0]
    assert charts(at) == []
    at.number_input(key="race_lr_quadratic_adam").set_value(0.3).run()
    assert errors(at) == [] and len(charts(at)) == 2


def test_a_diverging_optimizer_is_named_in_a_warning(at):
    at.number_input(key="race_lr_quadratic_sgd").set_value(10.0).run()
    assert not at.exception and errors(at) == []
    assert any("SGD left the plot (diverged) at step" in w.value for w in at.warning)
    names = [t.get("name", "") for t in charts(at)[0]["data"]]
    assert any(n.startswith("SGD · diverged at step") for n in names)


def test_no_optimizer_chosen_asks_for_one(at):
    at.multiselect(key="race_opts").set_value([]).run()
    assert not at.exception
    assert [i.value for i in at.info] == ["Pick at least one optimizer to race."]
    assert charts(at) == []


def test_a_lone_racer_that_leaves_the_plot_at_once_draws_no_step_slider(at):
    """Found by the crawler: one optimizer with a huge learning rate left the plot on its first step,
    and the step slider from 0 to 0 raised StreamlitInvalidMinMaxError."""
    at.multiselect(key="race_opts").set_value(["adam"]).run()
    surface = at.selectbox(key="race_surface").value
    at.number_input(key=f"race_lr_{surface}_adam").set_value(1e9).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [s for s in at.slider if s.key == "race_step"] == []
    assert any("diverged" in w.value for w in at.warning)
