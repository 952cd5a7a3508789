"""The Filters & feature maps page (AppTest, no browser)."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.config import RunConfig
from playground.models import preset_layers
from playground.train import REGISTRY

APP = str(Path(__file__).resolve().parents[2] / "app.py")
CNN = [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
       {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Conv2d", "out_channels": 6, "kernel_size": 3},
       {"type": "ReLU"}, {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]


@pytest.fixture(scope="module")
def runs():
    out = {}
    for name, cfg in (("cnn", {"layers": CNN, "data": {"name": "digits", "max_train": 200}, "epochs": 2}),
                      ("spiral", {"layers": preset_layers("MLP", "points", 2), "epochs": 1, "data": {"n_samples": 100}})):
        run = REGISTRY.start(RunConfig.from_dict({"name": f"filters {name}", **cfg}), owner="erin12")
        assert run.join(60) and run.history.status == "finished"
        out[name] = run
    assert REGISTRY.flush()
    return out


def page(run_id: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["me"] = "erin12"
    at.run()
    at.selectbox(key="run_id").set_value(run_id).run()
    at.switch_page("views/filters.py").run()
    assert not at.exception, at.exception
    return at


def test_filters_and_feature_maps_of_a_cnn(runs):
    at = page(runs["cnn"].id)
    assert at.selectbox(key="filters_layer").options == ["layer 1", "layer 4"]
    # the filter mosaic, the input, and a map mosaic per layer with a (C, H, W) output: layers 1-5
    assert len(at.get("image")) == 1 + 1 + 5
    at.selectbox(key="filters_layer").set_value(4).run()
    assert any("Layer 4 (Conv2d): 6 filters of 4x3x3" in c.value for c in at.caption)
    at.toggle(key="filters_shared").set_value(False).run()
    assert any("each filter on its own scale" in c.value for c in at.caption)
    at.number_input(key="filters_sample").set_value(7).run()
    assert not at.exception
    assert any(c.value.startswith("Predicted **") for c in at.caption)
    at.select_slider(key=f"scrub_{runs['cnn'].id}").set_value(0).run()        # the initial weights
    assert not at.exception


def test_a_points_run_says_filters_are_for_images(runs):
    at = page(runs["spiral"].id)
    assert any("filters and feature maps belong to image data" in i.value for i in at.info)
