"""Filters and feature maps: hand-set kernels, layer outputs against a manual forward pass, the
images drawn from them, and the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from playground.__main__ import main
from playground.config import RunConfig
from playground.data import Dataset
from playground.inspect import activations, conv_layer_numbers, conv_layers, filters
from playground.store import default_store
from playground.train.frozen import Frozen, frozen_model
from playground.viz.filters import GAP, diverging, feature_grid, filter_grid, grey
from tests.trained import train_stored

LAYERS = [{"type": "Conv2d", "out_channels": 2, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
          {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"}, {"type": "Linear", "out_features": 3}]


def tiny_cnn() -> Frozen:
    """Conv2d(1 -> 2, 3x3) with a vertical-edge kernel and its negative, on 4x4 images."""
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Flatten(), torch.nn.Linear(8, 3))
    edge = torch.tensor([[-1.0, 0, 1], [-1, 0, 1], [-1, 0, 1]])
    with torch.no_grad():
        model[0].weight.copy_(torch.stack([edge, -edge])[:, None])          # (2, 1, 3, 3)
        model[0].bias.copy_(torch.tensor([0.5, -0.5]))
        model[4].weight.fill_(0.1)
        model[4].bias.copy_(torch.tensor([0.0, 1.0, 0.0]))
    X = torch.zeros(3, 1, 4, 4)
    X[0, 0, :, 2:] = 1.0                                                    # dark left half, bright right half
    y = torch.tensor([1, 0, 2])
    cfg = RunConfig.from_dict({"layers": LAYERS})
    return Frozen(model.eval(), cfg, Dataset("tiny", "image", X, y, X, y, ["a", "b", "c"]), 2, 20, False)


def test_filters_are_the_layers_kernels():
    f = tiny_cnn()
    assert conv_layers(f) == [1] == conv_layer_numbers(LAYERS)
    v = filters(f)
    np.testing.assert_array_equal(v.arrays["weight"][0, 0], [[-1, 0, 1]] * 3)
    np.testing.assert_array_equal(v.arrays["bias"], [0.5, -0.5])
    assert v.summary["shape"] == [2, 1, 3, 3] and v.summary["abs_max"] == 1.0 and v.summary["layer"] == 1


def test_filters_of_a_layer_that_is_not_a_conv_is_a_clear_error():
    with pytest.raises(Exception, match=r"layer: 2 is not a Conv2d layer; the Conv2d layers are 1"):
        filters(tiny_cnn(), 2)


def test_each_layers_output_is_the_forward_pass_up_to_it():
    f = tiny_cnn()
    v = activations(f, sample=0)
    x = f.data.X_val[:1]
    for i in range(1, 6):
        np.testing.assert_allclose(v.arrays[f"layer_{i:02d}"], f.model[:i](x)[0].detach().numpy(), rtol=0, atol=1e-6)
    # by hand: the edge filter on the step image gives 3 (+ bias 0.5) at the two columns beside the edge
    conv = v.arrays["layer_01"][0]
    np.testing.assert_allclose(conv[1:3, 1:3], [[3.5, 3.5], [3.5, 3.5]])
    assert [layer["type"] for layer in v.summary["layers"]] == ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
    assert v.summary["layers"][2]["shape"] == [2, 2, 2]
    np.testing.assert_allclose(v.arrays["probs"].sum(), 1.0, rtol=1e-6)
    assert v.summary["true"] == "b" and v.summary["predicted"] == "b"          # the Linear's bias favours b


def test_a_sample_outside_the_split_names_the_range():
    with pytest.raises(Exception, match=r"sample: 3 is outside the val split, which has 3 examples \(0 to 2\)"):
        activations(tiny_cnn(), sample=3)


def test_weight_colours_are_blue_white_red_on_a_shared_scale():
    px = diverging(np.array([-2.0, 0.0, 2.0, 1.0]), 2.0)
    assert tuple(px[1]) == (255, 255, 255)
    assert px[0, 2] > px[0, 0] and px[2, 0] > px[2, 2]                         # negative blue, positive red
    assert 255 > px[3, 1] > px[2, 1]                                           # half way is paler
    two = np.stack([np.full((1, 3, 3), 1.0), np.full((1, 3, 3), 0.1)])       # 2 filters of 1 channel: side by side
    img = filter_grid(two, shared=True, cell=4)
    assert img.shape == (12 + 2 * GAP, 2 * 12 + 3 * GAP, 3)
    strong, weak = img[GAP, GAP], img[GAP, 2 * GAP + 12]
    assert strong[1] < weak[1]                                                  # shared: the weak one is paler
    own = filter_grid(two, shared=False, cell=4)
    assert tuple(own[GAP, GAP]) == tuple(own[GAP, 2 * GAP + 12])                # own scale: both full red
    deep = filter_grid(np.ones((3, 2, 3, 3)), cell=4)                           # 2 input channels: a row per filter
    assert deep.shape == (3 * 12 + 4 * GAP, 2 * 12 + 3 * GAP, 3)


def test_feature_maps_scale_each_map_on_its_own():
    maps = np.stack([np.arange(4.0).reshape(2, 2), 100 * np.arange(4.0).reshape(2, 2)])
    img = feature_grid(maps, size=2)
    assert tuple(img[GAP, GAP]) == (0, 0, 0)
    assert tuple(img[GAP, 2 * GAP + 2 + 1]) == tuple(img[GAP, GAP + 1])         # same place, same grey
    assert tuple(grey(np.ones((2, 2)))[0, 0]) == (128, 128, 128)
    assert tuple(grey(np.zeros((2, 2)))[0, 0]) == (0, 0, 0)                      # a silent ReLU map is black


@pytest.fixture(scope="module")
def cnn_run():
    return train_stored({"name": "filters digits", "layers": [
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}, {"type": "ReLU"},
        {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"}, {"type": "Linear", "out_features": 10}],
        "data": {"name": "digits", "max_train": 300}, "epochs": 2, "batch_size": 50})


def test_filters_change_with_training_and_the_initial_ones_are_the_init(cnn_run):
    store = default_store()
    w0 = filters(frozen_model(store, cnn_run.id, 0)).arrays["weight"]
    w2 = filters(frozen_model(store, cnn_run.id, 2)).arrays["weight"]
    assert w0.shape == (4, 1, 3, 3) and not np.allclose(w0, w2)


def test_cli_inspect_filters_and_activations(cnn_run, tmp_path, capsys):
    out = tmp_path / "filters.npz"
    assert main(["inspect", cnn_run.id, "filters", "--epoch", "1", "--layer", "1", "--out", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert s["epoch"] == 1 and s["shape"] == [4, 1, 3, 3]
    assert np.load(out)["weight"].shape == (4, 1, 3, 3)
    out = tmp_path / "acts.npz"
    assert main(["inspect", cnn_run.id, "activations", "--sample", "5", "--out", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    a = np.load(out)
    assert s["sample"] == 5 and a["layer_01"].shape == (4, 8, 8) and a["layer_03"].shape == (4, 4, 4)
    assert a["probs"].shape == (10,) and s["predicted"] == str(int(a["probs"].argmax()))
    assert main(["inspect", cnn_run.id, "filters", "--layer", "2"]) == 2
    assert "layer: 2 is not a Conv2d layer" in capsys.readouterr().err


def test_weights_gone_nan_are_a_clear_error():
    f = tiny_cnn()
    with torch.no_grad():
        f.model[0].weight[0, 0, 0, 0] = float("inf")
    with pytest.raises(Exception, match=r"layer 1's weights at epoch 2 are not finite .* pick an earlier epoch"):
        filters(f)
    with pytest.raises(Exception, match=r"output at epoch 2 is not finite"):
        activations(f)
