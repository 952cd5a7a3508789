"""The Layer statistics page (AppTest, no browser): a lesson pair trained from its button and shown
side by side, the scrubber, the tabs, and runs without statistics."""
from streamlit.testing.v1 import AppTest

from playground.config import RunConfig
from playground.models import preset_layers
from playground.train import REGISTRY
from tests.app.conftest import metric, open_page
from tests.tokens import token


def stats_page(owner: str) -> AppTest:
    return open_page("views/layer_stats.py", owner)


def number(at, label: str) -> float:
    return float(metric(at, label).rstrip("%"))


def test_the_vanishing_gradients_lesson():
    at = stats_page("vera31")
    assert any(i.value.startswith("No run yet") for i in at.info)
    at.button(key="lesson_Vanishing gradients: deep sigmoid vs deep ReLU").click().run()
    assert not at.exception and not at.error
    relu, sigmoid = sorted(REGISTRY.runs(token("vera31")), key=lambda r: r.name)  # "deep ReLU" < "deep sigmoid"
    for run in (sigmoid, relu):
        assert run.join(120) and run.history.status == "finished", run.history.message
    assert REGISTRY.flush()
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["run_id"] == sigmoid.id and at.session_state["stats_compare"] == relu.id
    # the sigmoid net's first layer gets a tiny fraction of the last layer's gradient; the ReLU net's does not
    assert number(at, "Gradient norm, first / last layer") < 1e-3
    bars = at.get("vega_lite_chart")[0].proto.spec
    assert "this run" in bars and relu.name in bars                   # both runs' bars in one chart
    at.selectbox(key="run_id").set_value(relu.id).run()
    assert number(at, "Gradient norm, first / last layer") > 0.05
    assert "Dead ReLU units" in [m.label for m in at.metric]
    # the initial weights: no update yet, so no update ratio
    at.select_slider(key=f"scrub_{relu.id}").set_value(0).run()
    assert not at.exception
    assert "Update / weight (median)" not in [m.label for m in at.metric]
    assert any("at epoch 0" in c.value for c in at.caption)
    at.segmented_control(key="stats_kind").set_value("grad").run()
    assert any("Every layer's gradients at epoch 0" in c.value for c in at.caption)
    at.selectbox(key="stats_ridge_layer_act").set_value(2).run()
    assert not at.exception
    # Play from the last snapshot starts over at the first; the button becomes Pause
    at.select_slider(key=f"scrub_{relu.id}").set_value(30).run()
    at.button(key=f"scrub_play_{relu.id}").click().run()
    assert at.select_slider(key=f"scrub_{relu.id}").value == 0
    assert at.button(key=f"scrub_play_{relu.id}").label == "Pause"
    at.button(key=f"scrub_play_{relu.id}").click().run()
    assert at.button(key=f"scrub_play_{relu.id}").label == "Play"


def test_a_run_without_statistics_says_so():
    cfg = RunConfig.from_dict({"name": "no stats", "layers": preset_layers("MLP", "points", 2), "epochs": 1,
                               "data": {"n_samples": 100}, "stats": False})
    run = REGISTRY.start(cfg, owner=token("walt44"))
    assert run.join(60) and REGISTRY.flush()
    at = stats_page("walt44")
    assert any("has no layer statistics yet" in i.value for i in at.info)
