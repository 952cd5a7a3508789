"""playground/viz/curves.py: downsampling, smoothing and the chart / figure builders."""
import json
import re

import numpy as np
import pytest
import torch

from playground.viz.curves import MAX_POINTS, boundary_figure, downsample, ema, epoch_chart, step_loss_chart


def close(actual, expected, atol=1e-9):
    torch.testing.assert_close(torch.tensor(np.array(actual, dtype=float)),
                               torch.tensor(np.array(expected, dtype=float)), rtol=0, atol=atol)


# ----------------------------------------------------------------------------- downsample
def test_downsample_averages_equal_buckets_and_keeps_the_last_x():
    # 10 points into at most 4: buckets of 3 -> x = each bucket's last, y = its mean; 1 left over
    xs, ys = downsample(list(range(10)), [float(v) for v in range(10)], max_points=4)
    close(xs, [2, 5, 8, 9])
    close(ys, [1, 4, 7, 9])


def test_downsample_without_a_remainder():
    xs, ys = downsample([1, 2, 3, 4, 5, 6], [1.0, 3.0, 2.0, 4.0, 0.0, 0.0], max_points=3)
    close(xs, [2, 4, 6])
    close(ys, [2, 3, 0])


def test_downsample_leaves_short_series_alone():
    xs, ys = downsample([1, 2, 3], [0.5, 0.25, 0.125], max_points=3)
    close(xs, [1, 2, 3])
    close(ys, [0.5, 0.25, 0.125])
    xs, ys = downsample([], [])
    assert len(xs) == len(ys) == 0


@pytest.mark.parametrize("n", [1, 2, 7, 100, 1499, 1500, 1501, 2999, 3001, 20_000, 31_337])
@pytest.mark.parametrize("max_points", [2, 3, 10, MAX_POINTS])
def test_downsample_keeps_at_most_max_points_and_the_last_x(n, max_points):
    x = np.arange(1, n + 1) * 3
    y = np.sin(x.astype(float))
    xs, ys = downsample(x, y, max_points)
    assert len(xs) == len(ys) <= max_points
    assert xs[-1] == x[-1]
    assert np.all(np.diff(xs) > 0)
    if n <= max_points:
        close(ys, y)


def test_downsample_preserves_the_mean_of_equal_buckets():
    y = np.random.default_rng(0).random(3000)
    _, ys = downsample(np.arange(3000), y, max_points=1500)        # exactly 1500 pairs
    close(ys.mean(), y.mean(), atol=1e-12)


# ----------------------------------------------------------------------------- ema
@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.9, 0.99])
def test_ema_of_a_constant_is_that_constant(weight):
    close(ema(np.full(50, 2.5), weight), np.full(50, 2.5), atol=1e-9)


def test_ema_with_weight_0_is_the_identity():
    y = np.array([3.0, -1.0, 4.0, 1.5])
    close(ema(y, 0.0), y)


def test_ema_is_debiased_exponential_smoothing():
    # acc: 0.4, 0.44, 0.344; debias by 1 - 0.6^k: 0.4, 0.64, 0.784
    close(ema(np.array([1.0, 0.5, 0.2]), 0.6), [1.0, 0.6875, 0.344 / 0.784], atol=1e-12)


def test_ema_of_integers_returns_floats():
    out = ema(np.array([1, 2]), 0.5)
    assert out.dtype == float
    close(out, [1.0, (0.25 + 1.0) / 0.75])


# ----------------------------------------------------------------------------- charts
def _spec_without_data(chart) -> str:
    """The chart's Vega-Lite spec with the data sets and their content-hash names removed."""
    d = chart.to_dict()
    d.pop("datasets", None)
    return re.sub(r'"data-[0-9a-f]+"', '"data"', json.dumps(d, sort_keys=True))


def _datasets(chart) -> list:
    return list(chart.to_dict()["datasets"].values())


def test_step_loss_chart_has_raw_smoothed_and_rule_layers():
    chart = step_loss_chart([1, 2, 3], [1.0, 0.5, 0.2], smoothing=0.6)
    spec = chart.to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["line", "line", "rule"]
    assert spec["layer"][0]["encoding"]["y"]["field"] == "loss"
    assert spec["layer"][1]["encoding"]["y"]["field"] == "smoothed"
    assert spec["height"] == 260
    close(chart.data["loss"], [1.0, 0.5, 0.2])                 # the lines share the chart's data
    close(chart.data["smoothed"], [1.0, 0.6875, 0.344 / 0.784], atol=1e-12)
    assert len(chart.layer[2].data) == 0                       # no divergence: no rule


def test_step_loss_chart_draws_the_diverged_rule_at_the_step():
    chart = step_loss_chart([1, 2, 3, 4], [0.7, 0.6, 5.0, 80.0], diverged_at=4)
    assert chart.layer[2].data["step"].tolist() == [4.0]
    assert [{"step": 4.0}] in _datasets(chart)


def test_step_loss_chart_log_scale():
    spec = step_loss_chart([1, 2], [1.0, 0.1], log_y=True).to_dict()
    assert spec["layer"][0]["encoding"]["y"]["scale"] == {"type": "log"}
    spec = step_loss_chart([1, 2], [1.0, 0.1], log_y=False).to_dict()
    assert spec["layer"][0]["encoding"]["y"]["scale"] == {"zero": False}


def test_step_loss_chart_downsamples_long_runs():
    n = 10 * MAX_POINTS
    chart = step_loss_chart(list(range(1, n + 1)), [1.0] * n)
    assert len(chart.data) <= MAX_POINTS and chart.data["step"].iloc[-1] == n


def test_step_loss_chart_with_no_steps_yet_builds():
    chart = step_loss_chart([], [])
    assert len(chart.data) == 0
    assert [layer["mark"]["type"] for layer in chart.to_dict()["layer"]] == ["line", "line", "rule"]


def test_chart_specs_do_not_depend_on_the_data():
    # the live page re-sends charts each tick: only their data may change, so Vega redraws in place
    a = step_loss_chart([1, 2, 3], [1.0, 0.5, 0.2])
    b = step_loss_chart(list(range(1, 500)), list(np.linspace(2, 0.1, 499)), diverged_at=300)
    assert _spec_without_data(a) == _spec_without_data(b)
    e1 = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.2, "train_acc": 0.5, "val_acc": 0.4}]
    e2 = e1 + [{"epoch": 2, "train_loss": 0.5, "val_loss": 0.7, "train_acc": 0.8, "val_acc": 0.7}]
    assert _spec_without_data(epoch_chart(e1, "loss")) == _spec_without_data(epoch_chart(e2, "loss"))


EPOCHS = [{"epoch": 1, "train_loss": 0.9, "val_loss": 1.1, "train_acc": 0.6, "val_acc": 0.55},
          {"epoch": 2, "train_loss": 0.4, "val_loss": 0.6, "train_acc": 0.85, "val_acc": 0.8}]


@pytest.mark.parametrize("metric, title, values", [
    ("loss", "loss", [0.9, 1.1, 0.4, 0.6]),
    ("acc", "accuracy", [0.6, 0.55, 0.85, 0.8]),
])
def test_epoch_chart_has_a_train_and_a_validation_line(metric, title, values):
    chart = epoch_chart(EPOCHS, metric)
    df = chart.data
    assert df["epoch"].tolist() == [1, 1, 2, 2]
    assert df["split"].tolist() == ["train", "validation"] * 2
    close(df["value"], values)
    spec = chart.to_dict()
    assert spec["encoding"]["y"]["title"] == title
    assert spec["encoding"]["color"]["scale"]["domain"] == ["train", "validation"]
    if metric == "acc":
        assert spec["encoding"]["y"]["scale"] == {"zero": False, "domainMax": 1}   # up to 1, not from 0


def test_epoch_chart_before_the_first_epoch_builds():
    chart = epoch_chart([], "loss")
    assert len(chart.data) == 0 and list(chart.data.columns) == ["epoch", "split", "value"]
    assert chart.to_dict()["mark"] == {"type": "line", "point": True}


# ----------------------------------------------------------------------------- boundary figure
X_TRAIN = np.array([[0.0, 0.0], [1.0, 1.0], [-1.0, 0.5]], dtype=np.float32)
Y_TRAIN = np.array([0, 1, 1])
X_VAL = np.array([[0.5, -0.5]], dtype=np.float32)
Y_VAL = np.array([0])


def test_boundary_figure_with_a_grid():
    boundary = {"xs": [-1.0, 0.0, 1.0], "ys": [-1.0, 1.0], "p": [[0.1, 0.5, 0.9], [0.2, 0.6, 1.0]], "at": 0.0}
    fig = boundary_figure(boundary, X_TRAIN, Y_TRAIN, X_VAL, Y_VAL)
    assert [t.type for t in fig.data] == ["heatmap", "scatter", "scatter"]
    heat, train, val = fig.data
    close(heat.z, boundary["p"])
    assert (heat.zmin, heat.zmax) == (0, 1)
    assert (train.name, val.name) == ("train", "validation")
    close(train.x, X_TRAIN[:, 0])
    close(train.y, X_TRAIN[:, 1])
    assert list(train.marker.color) == ["#f59322", "#0877bd", "#0877bd"]     # class 0 orange, class 1 blue
    assert list(val.marker.line.color) == ["#f59322"]                        # validation: coloured rings
    assert fig.layout.yaxis.scaleanchor == "x"                               # equal aspect


def test_boundary_figure_before_the_first_grid_has_only_points():
    fig = boundary_figure(None, torch.from_numpy(X_TRAIN), torch.from_numpy(Y_TRAIN),
                          torch.from_numpy(X_VAL), torch.from_numpy(Y_VAL))
    assert [t.type for t in fig.data] == ["scatter", "scatter"]
    assert len(fig.data[0].x) == 3 and len(fig.data[1].x) == 1
