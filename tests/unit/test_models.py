"""playground/models: layer specs, shape inference and its error messages, presets, inits, Dropout."""
import math
import re

import pytest
import torch
from torch import nn

from playground.errors import ConfigError, ShapeError
from playground.models import (
    LAYERS,
    PRESETS,
    build_model,
    layer_args_text,
    parse_layer_args,
    preset_layers,
    summarize,
    summarize_partial,
)
from playground.models.build import shape_text
from playground.models.init import apply_init
from playground.models.layers import Dropout, full_args

POINTS = (2,)
DIGITS = (1, 8, 8)
MNIST = (1, 28, 28)
RGB = (3, 32, 32)


def lin(n, **kw):
    return {"type": "Linear", "out_features": n, **kw}


def conv(c, k=3, **kw):
    return {"type": "Conv2d", "out_channels": c, "kernel_size": k, **kw}


RELU, FLAT = {"type": "ReLU"}, {"type": "Flatten"}


# ----------------------------------------------------------------------------- shape errors
def test_conv_on_points_names_layer_1_and_says_the_data_are_points():
    with pytest.raises(ShapeError) as e:
        summarize([conv(8), RELU, FLAT, lin(2)], POINTS, 2)
    msg = str(e.value)
    assert msg.startswith("layer 1 (Conv2d):")
    assert "gets 2 features" in msg
    assert "the data are 2-D points" in msg
    assert "use Linear layers" in msg


@pytest.mark.parametrize("kind", ["MaxPool2d", "AvgPool2d"])
def test_pooling_on_points_is_refused_too(kind):
    with pytest.raises(ShapeError, match=rf"^layer 1 \({kind}\): expects an image.*the data are 2-D points"):
        summarize([{"type": kind}, lin(2)], POINTS, 2)


def test_linear_after_conv_without_flatten_says_add_a_flatten():
    layers = [conv(8, padding=1), RELU, lin(10)]
    with pytest.raises(ShapeError) as e:
        summarize(layers, DIGITS, 10)
    msg = str(e.value)
    assert msg.startswith("layer 3 (Linear): expects a flat vector, gets 8x8x8 (CxHxW)")
    assert "add a Flatten layer before it (512 features)" in msg


def test_linear_on_raw_image_says_add_a_flatten_with_the_feature_count():
    with pytest.raises(ShapeError, match=r"layer 1 \(Linear\).*add a Flatten layer before it \(784 features\)"):
        summarize([lin(10)], MNIST, 10)


def test_linear_with_wrong_in_features_names_layer_sizes_and_fix():
    layers = [FLAT, lin(32, in_features=100), RELU, lin(10)]
    with pytest.raises(ShapeError) as e:
        summarize(layers, DIGITS, 10)
    msg = str(e.value)
    assert msg.startswith("layer 2 (Linear):")
    assert "expects 100 input features, gets 64 (1x8x8 flattened)" in msg
    assert "set in_features=64" in msg


def test_linear_with_wrong_in_features_on_points():
    with pytest.raises(ShapeError, match=r"^layer 3 \(Linear\): expects 8 input features, gets 16; "
                                         r"set in_features=16"):
        summarize([lin(16), RELU, lin(2, in_features=8)], POINTS, 2)


def test_flattened_shape_is_remembered_through_activations_only():
    # Flatten -> ReLU -> Linear: still says where the features came from ...
    with pytest.raises(ShapeError, match=r"gets 784 \(1x28x28 flattened\)"):
        summarize([FLAT, RELU, lin(10, in_features=10)], MNIST, 10)
    # ... but not after another Linear, whose output is not "flattened".
    with pytest.raises(ShapeError) as e:
        summarize([FLAT, lin(20), lin(10, in_features=10)], MNIST, 10)
    assert "flattened" not in str(e.value) and "gets 20;" in str(e.value)


def test_correct_in_features_is_accepted():
    rows = summarize([FLAT, lin(10, in_features=64)], DIGITS, 10)
    assert rows[-1].params == 64 * 10 + 10


def test_conv_with_wrong_in_channels_names_the_fix():
    with pytest.raises(ShapeError, match=r"^layer 1 \(Conv2d\): expects 3 input channels, gets 1 .*"
                                         r"set in_channels=1"):
        summarize([conv(8, in_channels=3)], DIGITS)


@pytest.mark.parametrize("classes, layers, fix", [
    (2, [lin(16), RELU, lin(3)], "set out_features=2 on layer 3 (Linear)"),
    (10, [FLAT, lin(16), RELU], "add a final Linear with out_features=10"),
    (10, [conv(8)], "end with Flatten and Linear(out_features=10)"),
])
def test_last_layer_must_output_one_score_per_class(classes, layers, fix):
    shape = POINTS if classes == 2 else DIGITS
    with pytest.raises(ShapeError) as e:
        summarize(layers, shape, classes)
    msg = str(e.value)
    assert f"the data set has {classes} classes" in msg
    assert f"must end with {classes} features" in msg
    assert msg.endswith(fix)


def test_without_num_classes_the_end_is_not_checked():
    rows = summarize([lin(16), RELU, lin(3)], POINTS)
    assert rows[-1].out_shape == (3,)


def test_kernel_larger_than_the_input():
    with pytest.raises(ShapeError) as e:
        summarize([conv(8, k=9), FLAT, lin(10)], DIGITS, 10)
    msg = str(e.value)
    assert msg.startswith("layer 1 (Conv2d): kernel_size 9 does not fit the 8x8 input (output would be 0x0)")
    assert "use a smaller kernel_size, add padding" in msg


def test_padding_makes_a_large_kernel_fit():
    rows = summarize([conv(8, k=9, padding=1), FLAT, lin(10)], DIGITS, 10)
    assert rows[0].out_shape == (8, 2, 2)


def test_pooling_that_shrinks_the_image_to_nothing_names_the_pooling_layer():
    # 8 -> conv3 -> 6 -> pool2 -> 3 -> pool2 -> 1 -> pool2 -> refused
    pool = {"type": "MaxPool2d", "kernel_size": 2}
    with pytest.raises(ShapeError, match=r"^layer 4 \(MaxPool2d\): kernel_size 2 does not fit the 1x1 input"):
        summarize([conv(4), pool, pool, pool, FLAT, lin(10)], DIGITS, 10)


def test_conv_after_flatten_says_remove_the_flatten():
    with pytest.raises(ShapeError, match=r"^layer 2 \(Conv2d\): expects an image .* gets 64 features; "
                                         r"remove the Flatten before it"):
        summarize([FLAT, conv(8)], DIGITS)


def test_unknown_layer_type_lists_the_types():
    with pytest.raises(ConfigError) as e:
        summarize([lin(8), {"type": "Dense", "units": 8}], POINTS)
    msg = str(e.value)
    assert msg.startswith("layer 2 (Dense): unknown layer type")
    for kind in LAYERS:
        assert kind in msg


def test_unknown_argument_lists_the_layers_arguments():
    with pytest.raises(ConfigError, match=r"^layer 1 \(Linear\): unknown argument\(s\) units; "
                                          r"its arguments: out_features, in_features, bias$"):
        summarize([{"type": "Linear", "units": 8}], POINTS)
    with pytest.raises(ConfigError, match=r"layer 1 \(ReLU\): unknown argument\(s\) inplace; its arguments: none"):
        summarize([{"type": "ReLU", "inplace": True}], POINTS)


@pytest.mark.parametrize("spec, message", [
    (lin(0), "out_features=0 is not valid; set out_features to a whole number >= 1"),
    (lin(2.5), "out_features=2.5 is not valid"),
    (lin(True), "out_features=True is not valid"),
    (conv(8, k=0), "kernel_size=0 is not valid"),
    (conv(8, padding=-1), "padding=-1 is not valid; set padding to a whole number >= 0"),
    (conv(8, stride="two"), "stride='two' is not valid"),
    ({"type": "Dropout", "p": 1.0}, "p=1.0 is not valid; set p to a drop probability"),
    ({"type": "Dropout", "p": "half"}, "p='half' is not valid"),
])
def test_bad_argument_values_are_config_errors(spec, message):
    shape = POINTS if spec["type"] in ("Linear", "Dropout") else DIGITS
    with pytest.raises(ConfigError, match=re.escape(message)):
        summarize([spec], shape)


def test_empty_network_is_refused():
    with pytest.raises(ConfigError, match="the network is empty"):
        build_model([], POINTS, 2)


# ----------------------------------------------------------------------------- rows, presets
def test_small_cnn_on_mnist_has_9098_parameters():
    rows = summarize(preset_layers("Small CNN", "image", 10), MNIST, 10)
    assert [r.type for r in rows] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d",
                                      "Flatten", "Linear"]
    assert [r.out_shape for r in rows] == [(8, 28, 28), (8, 28, 28), (8, 14, 14), (16, 14, 14), (16, 14, 14),
                                           (16, 7, 7), (784,), (10,)]
    # conv 1*8*9 + 8, conv 8*16*9 + 16, linear 784*10 + 10
    assert [r.params for r in rows] == [80, 0, 0, 1168, 0, 0, 0, 7850]
    assert sum(r.params for r in rows) == 9098
    assert [r.index for r in rows] == list(range(1, 9))
    assert rows[0].args == "out_channels=8, kernel_size=3, stride=1, padding=1"


@pytest.mark.parametrize("preset, kind, shape, classes, params, last_shapes", [
    # 2*16+16 + 16*16+16 + 16*2+2
    ("MLP", "points", POINTS, 2, 354, [(16,), (2,)]),
    # 64*64+64 + 64*64+64 + 64*10+10
    ("MLP", "image", DIGITS, 10, 8970, [(64,), (10,)]),
    # 2*32+32 + 3*(32*32+32) + 32*2+2
    ("Deep MLP", "points", POINTS, 2, 3330, [(32,), (2,)]),
    # 8x8 -> 8x4x4 -> 16x2x2 = 64 features: 80 + 1168 + 64*10+10
    ("Small CNN", "image", DIGITS, 10, 1898, [(64,), (10,)]),
    # 3x32x32 -> 16x8x8 = 1024 features, 4 classes: 3*8*9+8 + 1168 + 1024*4+4
    ("Small CNN", "image", RGB, 4, 224 + 1168 + 4100, [(1024,), (4,)]),
    ("Logistic regression", "points", POINTS, 2, 6, [(2,)]),
    ("Logistic regression", "image", MNIST, 10, 7850, [(784,), (10,)]),
])
def test_preset_rows(preset, kind, shape, classes, params, last_shapes):
    rows = summarize(preset_layers(preset, kind, classes), shape, classes)
    assert sum(r.params for r in rows) == params
    assert [r.out_shape for r in rows[-len(last_shapes):]] == last_shapes


def test_every_preset_fits_its_kind_of_data():
    for name in PRESETS:
        for kind, shape in (("points", POINTS), ("image", DIGITS)):
            if name == "Small CNN" and kind == "points":
                continue
            rows = summarize(preset_layers(name, kind, 3), shape, 3)
            assert rows[-1].out_shape == (3,)


def test_unknown_preset():
    with pytest.raises(KeyError, match="unknown preset 'Huge'"):
        preset_layers("Huge", "points", 2)


def test_summarize_partial_returns_the_rows_before_a_bad_layer():
    layers = [lin(8), RELU, conv(8), lin(2)]
    rows, error, bad = summarize_partial(layers, POINTS, 2)
    assert [(r.index, r.type, r.out_shape, r.params) for r in rows] == [(1, "Linear", (8,), 24), (2, "ReLU", (8,), 0)]
    assert error.startswith("layer 3 (Conv2d): expects an image")
    assert bad == 2                     # 0-based index of the refused layer


def test_summarize_partial_reports_a_bad_argument_at_its_row():
    rows, error, bad = summarize_partial([lin(8), lin(0), lin(2)], POINTS, 2)
    assert len(rows) == 1 and bad == 1
    assert "layer 2 (Linear): out_features=0" in error


def test_summarize_partial_of_a_good_network():
    layers = preset_layers("MLP", "points", 2)
    rows, error, bad = summarize_partial(layers, POINTS, 2)
    assert error is None and bad is None
    assert rows == summarize(layers, POINTS, 2)


def test_summarize_partial_with_a_wrong_ending_keeps_every_row():
    rows, error, bad = summarize_partial([lin(8), RELU, lin(3)], POINTS, 2)
    assert len(rows) == 3 and bad is None
    assert "set out_features=2 on layer 3" in error


@pytest.mark.parametrize("layers, shape", [
    (preset_layers("Small CNN", "image", 10), MNIST),
    (preset_layers("Deep MLP", "image", 10), DIGITS),
    ([conv(6, k=5, stride=2, padding=2), {"type": "BatchNorm"}, {"type": "GELU"},
      {"type": "AvgPool2d", "kernel_size": 3, "stride": 1}, {"type": "LayerNorm"}, {"type": "Dropout", "p": 0.2},
      FLAT, lin(12), {"type": "BatchNorm"}, {"type": "LeakyReLU", "negative_slope": 0.2}, {"type": "Sigmoid"},
      lin(10, bias=False)], RGB),
    ([lin(5), {"type": "Tanh"}, {"type": "LayerNorm"}, lin(2)], POINTS),
])
def test_inferred_shapes_and_params_match_pytorch(layers, shape):
    model, rows = build_model(layers, shape, 10 if shape != POINTS else 2)
    assert isinstance(model, nn.Sequential) and len(model) == len(rows) == len(layers)
    x = torch.randn(3, *shape)
    model.eval()
    for module, row in zip(model, rows):
        x = module(x)
        assert tuple(x.shape[1:]) == row.out_shape, row
        assert sum(p.numel() for p in module.parameters()) == row.params, row


def test_build_model_uses_the_spec_arguments():
    layers = [conv(6, k=5, stride=2, padding=2), {"type": "BatchNorm"}, {"type": "MaxPool2d", "kernel_size": 3},
              FLAT, lin(8, bias=False), {"type": "BatchNorm"}, {"type": "LeakyReLU", "negative_slope": 0.3},
              {"type": "Dropout", "p": 0.25}, lin(4)]
    model, _ = build_model(layers, RGB, 4)
    c = model[0]
    assert (c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding) == (3, 6, (5, 5), (2, 2), (2, 2))
    assert isinstance(model[1], nn.BatchNorm2d) and model[1].num_features == 6
    assert (model[2].kernel_size, model[2].stride) == (3, 3)          # pooling stride defaults to the kernel
    assert model[4].in_features == 6 * 5 * 5 and model[4].bias is None
    assert isinstance(model[5], nn.BatchNorm1d) and model[5].num_features == 8
    assert model[6].negative_slope == 0.3
    assert isinstance(model[7], Dropout) and model[7].p == 0.25
    assert (model[8].in_features, model[8].out_features) == (8, 4)


def test_hand_set_linear_relu_network_computes_the_expected_logits():
    model, _ = build_model([lin(2), RELU, lin(2)], POINTS, 2)
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, -1.0]]))
        model[0].bias.copy_(torch.tensor([0.0, 0.5]))
        model[2].weight.copy_(torch.tensor([[1.0, 1.0], [2.0, -1.0]]))
        model[2].bias.copy_(torch.tensor([0.0, 1.0]))
    x = torch.tensor([[1.0, 2.0], [-1.0, -1.0]])
    # hidden: relu([1, -1.5]) = [1, 0]; relu([-1, 1.5]) = [0, 1.5]
    expected = torch.tensor([[1.0, 3.0], [1.5, -0.5]])
    torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-6)


def test_shape_text():
    assert shape_text((16,)) == "16 features"
    assert shape_text((8, 14, 14)) == "8x14x14 (CxHxW)"


# ----------------------------------------------------------------------------- argument text
@pytest.mark.parametrize("kind", list(LAYERS))
def test_default_args_text_round_trips(kind):
    text = layer_args_text({"type": kind})
    spec = parse_layer_args(kind, text, 1)
    expected = {"type": kind, **{k: v for k, v in LAYERS[kind].items() if v is not None}}
    assert spec == expected
    assert layer_args_text(spec) == text


@pytest.mark.parametrize("kind, text", [
    ("Linear", "out_features=32, bias=False"),
    ("Linear", "out_features=4, in_features=2, bias=True"),
    ("Conv2d", "out_channels=16, kernel_size=5, stride=2, padding=1, in_channels=3"),
    ("MaxPool2d", "kernel_size=3, stride=1"),
    ("Dropout", "p=0.25"),
    ("LeakyReLU", "negative_slope=0.2"),
])
def test_args_text_round_trips(kind, text):
    spec = parse_layer_args(kind, text, 1)
    assert layer_args_text(spec) == text
    assert parse_layer_args(kind, layer_args_text(spec), 1) == spec


def test_parse_layer_args_reads_literals():
    assert parse_layer_args("Linear", "out_features=32, bias=False", 1) == \
        {"type": "Linear", "out_features": 32, "bias": False}
    assert parse_layer_args("Linear", " out_features = 8 ; in_features=auto ", 1) == \
        {"type": "Linear", "out_features": 8, "in_features": None}
    assert parse_layer_args("Conv2d", "in_channels=None, stride=TRUE", 1) == \
        {"type": "Conv2d", "in_channels": None, "stride": True}
    spec = parse_layer_args("Dropout", "p=0.5", 1)
    assert spec["p"] == 0.5 and isinstance(spec["p"], float)
    spec = parse_layer_args("Linear", "out_features=4", 1)
    assert spec["out_features"] == 4 and isinstance(spec["out_features"], int)
    assert parse_layer_args("ReLU", "", 3) == {"type": "ReLU"}


def test_parse_layer_args_without_equals_sign_explains_the_format():
    with pytest.raises(ConfigError) as e:
        parse_layer_args("Linear", "out_features", 2)
    msg = str(e.value)
    assert msg.startswith("layer 2 (Linear): cannot read 'out_features'")
    assert "write arguments as name=value" in msg
    assert "e.g. out_features=16, bias=True" in msg


def test_parse_layer_args_on_a_layer_without_arguments():
    with pytest.raises(ConfigError, match="nothing: this layer has no arguments"):
        parse_layer_args("ReLU", "fast", 4)


def test_parse_layer_args_without_a_name():
    with pytest.raises(ConfigError, match=r"layer 1 \(Linear\): cannot read '=3'"):
        parse_layer_args("Linear", "=3", 1)


def test_parse_layer_args_refuses_unknown_arguments_and_types():
    with pytest.raises(ConfigError, match=r"layer 5 \(Linear\): unknown argument\(s\) units"):
        parse_layer_args("Linear", "units=3", 5)
    with pytest.raises(ConfigError, match=r"layer 1 \(Dense\): unknown layer type"):
        parse_layer_args("Dense", "", 1)


def test_parsed_strings_are_refused_when_building():
    spec = parse_layer_args("Linear", "out_features=many", 1)
    assert spec["out_features"] == "many"
    with pytest.raises(ConfigError, match="out_features='many' is not valid"):
        summarize([spec], POINTS)


def test_full_args_merges_defaults():
    assert full_args({"type": "Conv2d", "out_channels": 4}, 1) == \
        {"out_channels": 4, "kernel_size": 3, "stride": 1, "padding": 0, "in_channels": None}


# ----------------------------------------------------------------------------- initialisation
def _wide_net():
    return nn.Sequential(nn.Linear(200, 100), nn.ReLU(), nn.Conv2d(4, 50, 3), nn.BatchNorm1d(3))


def test_normal_init_gives_unit_std_weights_and_zero_biases():
    net = _wide_net()
    apply_init(net, "normal", torch.Generator().manual_seed(0))
    for m in (net[0], net[2]):
        torch.testing.assert_close(m.weight.std().item(), 1.0, rtol=0, atol=0.05)
        torch.testing.assert_close(m.weight.mean().item(), 0.0, rtol=0, atol=0.1)
        assert torch.count_nonzero(m.bias) == 0


def test_xavier_init_is_glorot_uniform_with_zero_bias():
    net = _wide_net()
    apply_init(net, "xavier", torch.Generator().manual_seed(0))
    w = net[0].weight
    bound = math.sqrt(6 / (200 + 100))
    assert w.abs().max() <= bound
    torch.testing.assert_close(w.std().item(), bound / math.sqrt(3), rtol=0.05, atol=0)   # std of U(-b, b)
    assert torch.count_nonzero(net[0].bias) == 0 and torch.count_nonzero(net[2].bias) == 0


def test_he_init_is_kaiming_normal_with_zero_bias():
    net = _wide_net()
    apply_init(net, "he", torch.Generator().manual_seed(0))
    torch.testing.assert_close(net[0].weight.std().item(), math.sqrt(2 / 200), rtol=0.05, atol=0)
    torch.testing.assert_close(net[2].weight.std().item(), math.sqrt(2 / (4 * 9)), rtol=0.05, atol=0)
    assert torch.count_nonzero(net[0].bias) == 0 and torch.count_nonzero(net[2].bias) == 0


def test_default_init_is_pytorchs_with_bounded_nonzero_bias():
    net = _wide_net()
    apply_init(net, "default", torch.Generator().manual_seed(0))
    bound = 1 / math.sqrt(200)        # kaiming_uniform(a=sqrt(5)) on fan_in 200: bound 1/sqrt(fan_in)
    assert net[0].weight.abs().max() <= bound and net[0].bias.abs().max() <= bound
    assert torch.count_nonzero(net[0].bias) == 100


@pytest.mark.parametrize("scheme", ["default", "xavier", "he", "normal"])
def test_init_depends_only_on_the_generator(scheme):
    a, b = _wide_net(), _wide_net()
    torch.manual_seed(123)                       # the global RNG must not matter
    apply_init(a, scheme, torch.Generator().manual_seed(7))
    torch.manual_seed(456)
    apply_init(b, scheme, torch.Generator().manual_seed(7))
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
    c = _wide_net()
    apply_init(c, scheme, torch.Generator().manual_seed(8))
    assert not torch.equal(a[0].weight, c[0].weight)


def test_init_leaves_other_layers_alone():
    net = _wide_net()
    before = {k: v.clone() for k, v in net[3].state_dict().items()}
    apply_init(net, "normal", torch.Generator().manual_seed(0))
    for k, v in net[3].state_dict().items():
        assert torch.equal(v, before[k])


def test_unknown_init_scheme():
    with pytest.raises(ValueError, match="unknown init scheme 'zeros'"):
        apply_init(nn.Linear(2, 2), "zeros", torch.Generator())


# ----------------------------------------------------------------------------- Dropout
def test_dropout_same_generator_seed_same_mask():
    x = torch.ones(64, 32)
    a, b = Dropout(0.5), Dropout(0.5)
    a.generator = torch.Generator().manual_seed(3)
    b.generator = torch.Generator().manual_seed(3)
    torch.manual_seed(0)
    ya = a(x)
    torch.manual_seed(1)                          # the global RNG is not used
    yb = b(x)
    assert torch.equal(ya, yb)
    c = Dropout(0.5)
    c.generator = torch.Generator().manual_seed(4)
    assert not torch.equal(ya, c(x))


def test_dropout_zeroes_and_rescales():
    d = Dropout(0.25)
    d.generator = torch.Generator().manual_seed(0)
    x = torch.full((100, 100), 3.0)
    y = d(x)
    kept = y != 0
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 4.0), rtol=0, atol=1e-6)    # 3 / (1 - 0.25)
    torch.testing.assert_close(kept.float().mean().item(), 0.75, rtol=0, atol=0.02)


def test_dropout_is_identity_in_eval_mode_and_for_p_zero():
    x = torch.randn(8, 5)
    d = Dropout(0.9).eval()
    assert d(x) is x
    d0 = Dropout(0.0)
    assert d0.training and d0(x) is x


def test_dropout_refuses_bad_p():
    with pytest.raises(ValueError):
        Dropout(1.0)
    with pytest.raises(ValueError):
        Dropout(-0.1)
    assert repr(Dropout(0.3)) == "Dropout(p=0.3)"
