"""The Filters & feature maps page (AppTest, no browser)."""
import io
from pathlib import Path

import numpy as np
import pytest
import torch.nn.functional as F
from PIL import Image
from streamlit.testing.v1 import AppTest

from playground.config import RunConfig
from playground.inspect import activations
from playground.models import preset_layers
from playground.train import REGISTRY
from playground.train.frozen import frozen_model
from tests.tokens import token

APP = str(Path(__file__).resolve().parents[2] / "app.py")
CNN = [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
       {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Conv2d", "out_channels": 6, "kernel_size": 3},
       {"type": "ReLU"}, {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]


@pytest.fixture(scope="module")
def runs():
    out = {}
    for name, cfg in (("cnn", {"layers": CNN, "data": {"name": "digits", "max_train": 200}, "epochs": 2}),
                      ("spiral", {"layers": preset_layers("MLP", "points", 2), "epochs": 1,
                                  "data": {"n_samples": 100}})):
        run = REGISTRY.start(RunConfig.from_dict({"name": f"filters {name}", **cfg}), owner=token("erin12"))
        assert run.join(60) and run.history.status == "finished"
        out[name] = run
    assert REGISTRY.flush()
    return out


def page(run_id: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["me"] = token("erin12")
    at.run()
    at.selectbox(key="run_id").set_value(run_id).run()
    at.switch_page("views/filters.py").run()
    assert not at.exception, at.exception
    return at


def test_filters_and_feature_maps_of_a_cnn(runs):
    at = page(runs["cnn"].id)
    assert at.selectbox(key="filters_layer").options == ["layer 1", "layer 4"]
    # the filter mosaic, the input, a map mosaic per layer with a (C, H, W) output (layers 1-5), the
    # convolution window on the input; the gallery of top inputs is one strip of HTML, nine pictures
    assert len(at.get("image")) == 1 + 1 + 5 + 1
    strips = [h.proto.body for h in at.get("html") if "<figure" in h.proto.body]
    assert len(strips) == 1 and strips[0].count("<figure") == strips[0].count("data:image/png;base64,") == 9
    at.selectbox(key="filters_layer").set_value(4).run()
    assert any("Layer 4 (Conv2d): 6 filters of 4x3x3" in c.value for c in at.caption)
    at.toggle(key="filters_shared").set_value(False).run()
    assert any("each filter on its own scale" in c.value for c in at.caption)
    at.number_input(key="filters_sample").set_value(7).run()
    assert not at.exception
    assert any(c.value.startswith("Predicted **") for c in at.caption)
    at.select_slider(key=f"scrub_{runs['cnn'].id}").set_value(0).run()        # the initial weights
    assert not at.exception
    at.toggle(key="filters_shared").set_value(True).run()
    assert not at.exception
    # what the page shows now is epoch 0's snapshot: torch's weights and the inspect module's forward pass
    # of frozen_model(..., 0), and not the last epoch's
    first, last = (frozen_model(REGISTRY.store, runs["cnn"].id, e) for e in (0, 2))
    assert (first.epoch, last.epoch) == (0, 2)
    largest = [float(f.model[3].weight.detach().abs().max()) for f in (first, last)]   # layer 4: the second Conv2d
    assert f"{largest[0]:.3g}" != f"{largest[1]:.3g}"
    [caption] = [c.value for c in at.caption if c.value.startswith("Layer 4 (Conv2d): 6 filters of 4x3x3")]
    assert f"|w| up to {largest[0]:.3g})" in caption
    predicted = [activations(f, 7).summary for f in (first, last)]
    [said] = [c.value for c in at.caption if c.value.startswith("Predicted **")]
    assert said.startswith(f"Predicted **{predicted[0]['predicted']}** ({predicted[0]['confidence']:.0%}, ")
    assert predicted[0]["confidence"] != predicted[1]["confidence"]


def test_a_points_run_says_filters_are_for_images(runs):
    at = page(runs["spiral"].id)
    assert any("filters and feature maps belong to image data" in i.value for i in at.info)


def shown(at, text: str) -> list[str]:
    return [e.value for e in [*at.success, *at.error, *at.info, *at.caption, *at.markdown, *at.get("code")]
            if text in str(e.value)]


def test_a_cell_typed_in_shows_the_sum_that_f_conv2d_computes(runs):
    at = page(runs["cnn"].id)
    at.number_input(key="conv_channel").set_value(2)
    at.number_input(key="conv_row").set_value(3)
    at.number_input(key="conv_col").set_value(4).run()
    assert not at.exception, at.exception
    [line] = [s.value for s in at.success]
    frozen = frozen_model(REGISTRY.store, runs["cnn"].id)
    conv = frozen.model[0]
    ref = float(F.conv2d(frozen.data.X_val[:1], conv.weight, conv.bias, padding=1)[0, 2, 3, 4].detach())
    assert line.startswith("sum of products ") and f"= F.conv2d output {ref:.4g} at (channel 2, row 3, col 4)" in line
    assert f"after the ReLU: max(0, {ref:.4g}) = {max(ref, 0):.4g}" in line
    # a deeper layer: 4 input channels, one partial sum each, and its own (smaller) rows and columns
    at.selectbox(key="conv_layer").set_value(4).run()
    assert at.number_input(key="conv_row").max == 1 and at.number_input(key="conv_row").value <= 1
    assert shown(at, "The kernel has 4 input channels")
    assert "F.conv2d output" in at.success[0].value
    assert shown(at, "H_out = floor((4 + 2·0 − 3) / 1) + 1 = floor(1 / 1) + 1 = 2")


def test_the_output_size_of_a_pooling_layer_and_the_top_inputs(runs):
    at = page(runs["cnn"].id)
    at.selectbox(key="size_layer").set_value(3).run()
    assert shown(at, "H_out = floor((8 + 2·0 − 2) / 2) + 1 = floor(6 / 2) + 1 = 4")
    assert shown(at, "Layer 3 (MaxPool2d): input 4x8x8 → output 4x4x4")
    assert shown(at, "validation examples that excite it most, by the largest value of channel 0's map")
    at.selectbox(key="top_layer").set_value(7).run()                         # the Linear layer: one unit per class
    assert at.number_input(key="top_channel").max == 9
    at.number_input(key="top_channel").set_value(3).run()
    assert not at.exception and shown(at, "by unit 3's output (layer 7, Linear)")


def png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    return buf.getvalue()


def test_an_upload_goes_through_the_network_and_a_bad_one_is_a_clear_error(runs):
    at = page(runs["cnn"].id)
    at.radio(key="filters_source").set_value("upload").run()
    assert shown(at, "Upload an image: a light figure on a dark background")
    at.file_uploader(key="filters_upload").upload("notes.png", b"not an image at all", "image/png").run()
    assert not at.exception
    assert [e.value for e in at.error] == ["'notes.png' is not an image that can be read (UnidentifiedImageError): "
                                           "upload a PNG or JPEG file"]
    digit = np.full((64, 64), 250, np.uint8)
    digit[10:54, 28:36] = 10                                                 # a dark "1" on white paper
    at.file_uploader(key="filters_upload").upload("one.png", png(digit), "image/png").run()
    assert not at.exception and not at.error
    [notes] = shown(at, "Made like the training data: ")
    assert "inverted" in notes and "resized from 64x64 to 8x8 pixels" in notes
    assert shown(at, "your input has no true class")
    assert at.success and "F.conv2d output" in at.success[0].value


def test_drawing_asks_for_a_digit_until_there_is_one(runs):
    at = page(runs["cnn"].id)
    at.radio(key="filters_source").set_value("draw").run()
    assert not at.exception
    assert shown(at, "the canvas is empty: draw a digit")
    assert shown(at, "Draw a light digit on the dark square")
