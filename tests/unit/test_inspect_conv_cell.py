"""One convolution output cell by hand (against F.conv2d), the output-size arithmetic, the inputs
that excite a filter most (against a brute-force loop), inputs of the user's own, and the CLI."""
from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from playground.__main__ import main
from playground.data import Dataset
from playground.errors import DataError, PlaygroundError
from playground.inspect import VIEWS, activations, conv_cell, output_size, top_inputs
from playground.inspect.inputs import canvas_input, image_input
from playground.train.frozen import Frozen
from tests.trained import train_stored

EDGE = torch.tensor([[-1.0, 0, 1], [-1, 0, 1], [-1, 0, 1]])


def frozen_of(model: torch.nn.Sequential, X: torch.Tensor, classes: int = 3) -> Frozen:
    y = torch.arange(len(X)) % classes
    data = Dataset("tiny", "image", X, y, X, y, [f"c{i}" for i in range(classes)])
    return Frozen(model.eval(), None, data, 2, 20, False)


def edge_cnn() -> Frozen:
    """Conv2d(1 -> 2, 3x3, padding 1): a vertical-edge kernel (bias 0.5) and its negative (bias
    -0.5), then ReLU, on 4x4 images; image 0 is dark on the left half and bright on the right."""
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Flatten(), torch.nn.Linear(8, 3))
    with torch.no_grad():
        model[0].weight.copy_(torch.stack([EDGE, -EDGE])[:, None])          # (2, 1, 3, 3)
        model[0].bias.copy_(torch.tensor([0.5, -0.5]))
        model[4].weight.fill_(0.1)
        model[4].bias.zero_()
    X = torch.zeros(3, 1, 4, 4)
    X[0, 0, :, 2:] = 1.0
    return frozen_of(model, X)


def test_a_cell_inside_the_image_is_window_times_kernel_plus_bias():
    v = conv_cell(edge_cnn(), layer=1, sample=0, channel=0, row=1, col=1)
    np.testing.assert_array_equal(v.arrays["window"][0], [[0, 0, 1]] * 3)
    np.testing.assert_array_equal(v.arrays["kernel"][0], EDGE.numpy())
    np.testing.assert_array_equal(v.arrays["products"][0], [[0, 0, 1]] * 3)
    assert not v.arrays["padding"].any()
    s = v.summary
    assert (s["sum"], s["bias"], s["value"], s["conv2d"], s["matches"]) == (3.0, 0.5, 3.5, 3.5, True)
    assert (s["window_top"], s["window_left"], s["window_span"]) == (0, 0, [3, 3])
    assert s["equation"] == ("sum of products 3 + bias 0.5 = 3.5 = F.conv2d output 3.5 at (channel 0, row 1, col 1); "
                             "after the ReLU: max(0, 3.5) = 3.5")


def test_a_corner_cell_hangs_over_the_zero_padding():
    v = conv_cell(edge_cnn(), channel=0, row=0, col=3)                       # columns 2, 3 and the padding
    np.testing.assert_array_equal(v.arrays["padding"], [[True] * 3, [False, False, True], [False, False, True]])
    np.testing.assert_array_equal(v.arrays["window"][0], [[0, 0, 0], [1, 1, 0], [1, 1, 0]])
    s = v.summary
    assert (s["sum"], s["value"], s["after_relu"], s["padding_cells"]) == (-2.0, -1.5, 0.0, 5)
    assert (s["window_top"], s["window_left"]) == (-1, 2)
    s1 = conv_cell(edge_cnn(), channel=1, row=0, col=3).summary               # the negated kernel fires there
    assert (s1["sum"], s1["bias"], s1["value"]) == (2.0, -0.5, 1.5)


CASES = [  # c_in, c_out, kernel, stride, padding, dilation, groups, H, W
    (1, 2, 3, 1, 1, 1, 1, 6, 6),
    (3, 4, 3, 2, 1, 1, 1, 7, 9),
    (2, 3, 5, 2, 2, 1, 1, 8, 8),
    (4, 4, 3, 1, 0, 2, 1, 9, 9),
    (4, 6, 3, 2, 1, 1, 2, 8, 8),
    (3, 2, 4, 1, "same", 1, 1, 7, 6),
    (2, 5, (3, 2), (2, 1), (1, 0), 1, 1, 7, 5),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("c_in, c_out, k, stride, padding, dilation, groups, H, W", CASES)
def test_every_cell_equals_f_conv2d(c_in, c_out, k, stride, padding, dilation, groups, H, W):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(c_in, c_in, 1), torch.nn.ReLU(),   # layer 3 sees a ReLU's output
                                torch.nn.Conv2d(c_in, c_out, k, stride, padding, dilation, groups))
    f = frozen_of(model, torch.randn(2, c_in, H, W))
    conv = model[2]
    with torch.no_grad():
        inp = model[:2](f.data.X_val[1:2])
        ref = F.conv2d(inp, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)[0]
    _, h_out, w_out = ref.shape
    for ch in range(c_out):
        for r in range(h_out):
            for c in range(w_out):
                v = conv_cell(f, layer=3, sample=1, channel=ch, row=r, col=c)
                assert v.summary["matches"], (ch, r, c, v.summary["equation"])
                torch.testing.assert_close(v.summary["value"], float(ref[ch, r, c]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(v.arrays["map"], ref[-1].numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(v.arrays["input"], inp[0].numpy(), rtol=0, atol=0)
    assert v.arrays["window"].shape == v.arrays["kernel"].shape == (c_in // groups, *conv.kernel_size)
    np.testing.assert_allclose(v.arrays["partial"].sum() + v.summary["bias"], v.summary["value"], atol=1e-5)
    assert [row["out"] for row in v.summary["output_size"]] == [h_out, w_out]


def test_cells_outside_the_output_name_the_valid_range():
    f = edge_cnn()
    with pytest.raises(PlaygroundError, match=r"row: 4 is outside layer 1's output, which has 4 rows \(0 to 3\)"):
        conv_cell(f, row=4)
    with pytest.raises(PlaygroundError, match=r"col: -1 is outside layer 1's output, which has 4 columns"):
        conv_cell(f, col=-1)
    with pytest.raises(PlaygroundError, match=r"channel: 2 is outside layer 1's output, which has 2 channels"):
        conv_cell(f, channel=2)
    with pytest.raises(PlaygroundError, match=r"layer: 2 \(ReLU\) is not a Conv2d layer; the Conv2d layers are 1"):
        conv_cell(f, layer=2)


def test_output_size_arithmetic_with_the_layers_numbers():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Conv2d(2, 2, 3, stride=2, padding=1), torch.nn.AvgPool2d(3, stride=1))
    f = frozen_of(model, torch.zeros(2, 1, 28, 28))
    rows = output_size(f, 1).summary["rows"]
    assert rows[0]["formula"] == "floor((28 + 2·1 − 3) / 1) + 1 = floor(27 / 1) + 1 = 28"
    pool = output_size(f, 3).summary
    assert pool["type"] == "MaxPool2d" and pool["in_shape"] == [2, 28, 28] and pool["out_shape"] == [2, 14, 14]
    assert pool["rows"][1]["formula"] == "floor((28 + 2·0 − 2) / 2) + 1 = floor(26 / 2) + 1 = 14"
    assert output_size(f, 4).summary["rows"][0]["formula"] == "floor((14 + 2·1 − 3) / 2) + 1 = floor(13 / 2) + 1 = 7"
    assert output_size(f, 5).summary["out_shape"] == [2, 5, 5]
    with pytest.raises(PlaygroundError, match=r"layer: 2 \(ReLU\) is not a Conv2d or pooling layer; .* are 1, 3, 4, 5"):
        output_size(f, 2)


def brute_force_top(frozen, layer, channel, k):
    values = []
    for x in frozen.data.X_val:
        out = frozen.model[:layer](x[None])[0]
        values.append(float(out[channel].max()))
    order = sorted(range(len(values)), key=lambda i: -values[i])[:k]
    return order, [values[i] for i in order]


@pytest.mark.parametrize("layer, channel", [(1, 0), (1, 3), (2, 2), (5, 1)])
def test_top_inputs_agree_with_a_brute_force_loop(layer, channel, monkeypatch):
    monkeypatch.setattr(sys.modules["playground.inspect.filters"], "TOP_BATCH", 7)  # several batches, a ragged last one
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Flatten(), torch.nn.Linear(64, 3))
    f = frozen_of(model, torch.randn(30, 1, 10, 10))
    with torch.no_grad():
        order, values = brute_force_top(f, layer, channel, 5)
    v = top_inputs(f, layer=layer, channel=channel, k=5)
    assert v.arrays["indices"].tolist() == order
    np.testing.assert_allclose(v.arrays["values"], values, rtol=1e-6)
    np.testing.assert_array_equal(v.arrays["inputs"], f.data.X_val[order].numpy())
    assert v.summary["kind"] == ("unit" if layer == 5 else "channel")
    preds = model(f.data.X_val[order]).argmax(1)
    assert v.arrays["predicted"].tolist() == preds.tolist()
    assert [t["true"] for t in v.summary["top"]] == [f"c{int(f.data.y_val[i])}" for i in order]


def test_top_inputs_of_a_unit_outside_the_layer_names_the_range():
    with pytest.raises(PlaygroundError,
                       match=r"channel: 5 is outside layer 1's output, which has 2 channels \(0 to 1\)"):
        top_inputs(edge_cnn(), layer=1, channel=5)
    with pytest.raises(PlaygroundError, match=r"layer: 9 is not a layer of this network; its layers are 1 to 5"):
        top_inputs(edge_cnn(), layer=9)


def png(a: np.ndarray, mode: str = "L") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a, mode).save(buf, "PNG")
    return buf.getvalue()


def test_an_upload_is_made_like_the_data_and_goes_through_the_same_forward_pass():
    page = np.full((100, 80), 255, np.uint8)                                # a dark bar on white paper
    page[20:80, 30:50] = 0
    x, notes = image_input(png(page), (1, 28, 28), name="seven.png")
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    assert any("inverted" in n for n in notes) and "resized from 80x100 to 28x28 pixels" in notes
    assert float(x[0, 14, 14]) > 0.9 and float(x[0, 1, 1]) < 0.1             # the bar is now light on dark
    f = edge_cnn()
    small, _ = image_input(png(np.zeros((4, 4), np.uint8)), (1, 4, 4))
    v = activations(f, x=small)
    assert v.summary["sample"] is None and "true" not in v.summary
    np.testing.assert_allclose(v.arrays["layer_01"], f.model[:1](small[None])[0].detach().numpy())
    cell = conv_cell(f, x=small, row=1, col=1).summary
    assert cell["sample"] is None and cell["value"] == 0.5                   # a black image: only the bias


def test_an_rgb_upload_for_colour_data_and_a_range_other_than_0_1():
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[..., 0] = 255
    x, notes = image_input(png(rgb, "RGB"), (3, 8, 8), lo_hi=(-1.0, 1.0))
    assert x.shape == (3, 8, 8)
    torch.testing.assert_close(x[:, 4, 4], torch.tensor([1.0, -1.0, -1.0]))
    assert "scaled to the data's range -1 to 1" in notes


def test_a_file_that_is_not_an_image_or_too_large_is_a_clear_error():
    with pytest.raises(DataError, match=r"'notes.txt' is not an image that can be read .* upload a PNG or JPEG"):
        image_input(b"hello, not a picture", (1, 28, 28), name="notes.txt")
    with pytest.raises(DataError, match=r"'huge.png' is 11.0 MB; images up to 10 MB are accepted"):
        image_input(b"\0" * (11 * 2**20), (1, 28, 28), name="huge.png")
    with pytest.raises(DataError, match=r"inputs have 2 channels"):
        image_input(png(np.zeros((4, 4), np.uint8)), (2, 4, 4))


def test_a_drawing_is_cropped_and_centred_like_mnist():
    canvas = np.zeros((200, 200, 4), np.uint8)
    with pytest.raises(DataError, match="the canvas is empty"):
        canvas_input(canvas, (1, 28, 28))
    canvas[10:60, 10:30] = 255                                               # a stroke in the top-left corner
    x, notes = canvas_input(canvas, (1, 28, 28))
    assert x.shape == (1, 28, 28) and any("centred in a 20x20 box" in n for n in notes)
    rows, cols = np.nonzero(x[0].numpy() > 0.5)
    assert 12 <= rows.mean() <= 15 and 12 <= cols.mean() <= 15               # moved to the middle
    assert rows.max() - rows.min() + 1 in (19, 20, 21)


@pytest.fixture(scope="module")
def cnn_run():
    return train_stored({"name": "conv cell digits", "layers": [
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
        {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"}, {"type": "Linear", "out_features": 10}],
        "data": {"name": "digits", "max_train": 300}, "epochs": 1, "batch_size": 50})


def test_cli_inspect_conv_top_and_size(cnn_run, tmp_path, capsys):
    import argparse

    from playground.__main__ import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    view = next(a for a in sub.choices["inspect"]._actions if a.dest == "view")
    assert tuple(view.choices) == tuple(VIEWS)
    assert main(["inspect", cnn_run.id, "conv", "--layer", "1", "--channel", "2", "--row", "3", "--col", "4",
                 "--json"]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert s["view"] == "conv" and s["matches"] and (s["channel"], s["row"], s["col"]) == (2, 3, 4)
    assert s["equation"].startswith("sum of products ")
    assert "at (channel 2, row 3, col 4); after the ReLU" in s["equation"]
    assert [r["out"] for r in s["output_size"]] == [8, 8]
    out = tmp_path / "top.npz"
    assert main(["inspect", cnn_run.id, "top", "--channel", "1", "--k", "4", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "top at epoch 1" in text and 'measure: "the largest value of channel 1\'s map"' in text
    a = np.load(out)
    assert a["indices"].shape == (4,) and np.all(np.diff(a["values"]) <= 0) and a["inputs"].shape == (4, 1, 8, 8)
    assert main(["inspect", cnn_run.id, "size", "--layer", "3", "--json"]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert s["rows"][0]["formula"] == "floor((8 + 2·0 − 2) / 2) + 1 = floor(6 / 2) + 1 = 4"
    assert main(["inspect", cnn_run.id, "conv", "--row", "99"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == ("error: row: 99 is outside layer 1's output, which has 8 rows (0 to 7); pick one in "
                           "that range") and "Traceback" not in err
