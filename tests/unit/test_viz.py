"""playground/viz/curves.py: downsampling, smoothing and the chart / figure builders."""
import json

import numpy as np
import pytest
import torch

from playground.viz.curves import MAX_POINTS, boundary_image, downsample, ema, epoch_chart, step_loss_chart


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
def _spec_without_data(spec: dict) -> str:
    """The chart's Vega-Lite spec without its datasets (the parts a live redraw may change)."""
    return json.dumps({k: v for k, v in spec.items() if k != "datasets"}, sort_keys=True)


def test_step_loss_chart_has_raw_smoothed_and_rule_layers():
    spec = step_loss_chart([1, 2, 3], [1.0, 0.5, 0.2], smoothing=0.6)
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["line", "line", "rule"]
    assert spec["layer"][0]["encoding"]["y"]["field"] == "loss"
    assert spec["layer"][1]["encoding"]["y"]["field"] == "smoothed"
    assert [layer["data"]["name"] for layer in spec["layer"]] == ["main", "main", "rule"]   # the lines share data
    assert spec["height"] == 260
    main = spec["datasets"]["main"]
    close(main["loss"], [1.0, 0.5, 0.2])
    close(main["smoothed"], [1.0, 0.6875, 0.344 / 0.784], atol=1e-12)
    assert len(spec["datasets"]["rule"]) == 0                  # no divergence: no rule


def test_step_loss_chart_draws_the_diverged_rule_at_the_step():
    spec = step_loss_chart([1, 2, 3, 4], [0.7, 0.6, 5.0, 80.0], diverged_at=4)
    assert spec["datasets"]["rule"]["step"].tolist() == [4.0]


def test_step_loss_chart_log_scale():
    spec = step_loss_chart([1, 2], [1.0, 0.1], log_y=True)
    assert spec["layer"][0]["encoding"]["y"]["scale"] == {"type": "log"}
    spec = step_loss_chart([1, 2], [1.0, 0.1], log_y=False)
    assert spec["layer"][0]["encoding"]["y"]["scale"] == {"zero": False}


def test_step_loss_chart_downsamples_long_runs():
    n = 10 * MAX_POINTS
    main = step_loss_chart(list(range(1, n + 1)), [1.0] * n)["datasets"]["main"]
    assert len(main) <= MAX_POINTS and main["step"].iloc[-1] == n


def test_step_loss_chart_with_no_steps_yet_builds():
    spec = step_loss_chart([], [])
    assert len(spec["datasets"]["main"]) == 0
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["line", "line", "rule"]


def test_chart_specs_do_not_depend_on_the_data():
    # the live page re-sends charts each tick: only their data may change, so Vega redraws in place
    a = step_loss_chart([1, 2, 3], [1.0, 0.5, 0.2])
    b = step_loss_chart(list(range(1, 500)), list(np.linspace(2, 0.1, 499)), diverged_at=300)
    assert _spec_without_data(a) == _spec_without_data(b)
    e1 = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.2, "train_acc": 0.5, "val_acc": 0.4}]
    e2 = e1 + [{"epoch": 2, "train_loss": 0.5, "val_loss": 0.7, "train_acc": 0.8, "val_acc": 0.7}]
    assert _spec_without_data(epoch_chart(e1, "loss")) == _spec_without_data(epoch_chart(e2, "loss"))


def test_charts_are_valid_vega_lite_and_cheap_to_build(monkeypatch):
    """The specs are written by hand (no Altair): check them against Vega-Lite's schema through
    Altair once here, where the page must not pay for it on every poll."""
    import sys

    import altair as alt

    from playground.viz.compare import compare_chart
    from playground.viz.curves import lr_chart, lr_finder_chart

    snap = {"step_x": list(range(1, 3001)), "step_loss": list(np.linspace(2, 0.1, 3000)), "status": "running",
            "diverged_at": None, "marks": [(1, 10, 0.1, 0.01), (3000, 30000, 3.0, 0.001)], "epochs": EPOCHS}
    specs = [step_loss_chart(snap["step_x"], snap["step_loss"], diverged_at=2000), epoch_chart(EPOCHS, "acc"),
             lr_chart(snap["marks"]), lr_finder_chart([1e-4, 1e-3], [1.0, 0.5], [1.0, 0.6], 1e-3),
             compare_chart([("a", snap, 100), ("b", {**snap, "status": "diverged", "diverged_at": 2999}, 100)],
                           "train_loss_step", "epoch", 0.6, True)]
    for spec in specs:
        inline = {**spec, "datasets": {k: v.to_dict("records") for k, v in spec["datasets"].items()}}
        alt.Chart.from_dict(json.loads(json.dumps(inline)), validate=True)         # raises if invalid
    # Cheap: what made a chart slow (Altair: ~0.13 s a chart, measured) is never used, and a long run's
    # 3,000 steps are downsampled before they go into the spec. (A per-chart time bound, < 30 ms, was
    # a proxy for this that a loaded CI machine broke.)
    from playground.viz.curves import MAX_POINTS

    monkeypatch.setitem(sys.modules, "altair", None)             # `import altair` now raises ImportError
    spec = step_loss_chart(snap["step_x"], snap["step_loss"])
    assert type(spec) is dict and 0 < len(spec["datasets"]["main"]) <= MAX_POINTS < len(snap["step_x"])
    assert spec["datasets"]["main"]["step"].iloc[-1] == 3000      # the last step is kept


EPOCHS = [{"epoch": 1, "train_loss": 0.9, "val_loss": 1.1, "train_acc": 0.6, "val_acc": 0.55},
          {"epoch": 2, "train_loss": 0.4, "val_loss": 0.6, "train_acc": 0.85, "val_acc": 0.8}]


@pytest.mark.parametrize("metric, title, values", [
    ("loss", "loss", [0.9, 1.1, 0.4, 0.6]),
    ("acc", "accuracy", [0.6, 0.55, 0.85, 0.8]),
])
def test_epoch_chart_has_a_train_and_a_validation_line(metric, title, values):
    spec = epoch_chart(EPOCHS, metric)
    df = spec["datasets"]["main"]
    assert df["epoch"].tolist() == [1, 1, 2, 2]
    assert df["split"].tolist() == ["train", "validation"] * 2
    close(df["value"], values)
    assert spec["encoding"]["y"]["title"] == title
    assert spec["encoding"]["color"]["scale"]["domain"] == ["train", "validation"]
    if metric == "acc":
        assert spec["encoding"]["y"]["scale"] == {"zero": False, "domainMax": 1}   # up to 1, not from 0


def test_epoch_chart_before_the_first_epoch_builds():
    spec = epoch_chart([], "loss")
    df = spec["datasets"]["main"]
    assert len(df) == 0 and list(df.columns) == ["epoch", "split", "value"]
    assert spec["mark"] == {"type": "line", "point": True}


# ----------------------------------------------------------------------------- boundary image
X_TRAIN = np.array([[0.0, 0.0], [1.0, 1.0], [-1.0, 0.5]], dtype=np.float32)
Y_TRAIN = np.array([0, 1, 1])
X_VAL = np.array([[0.5, -0.5]], dtype=np.float32)
Y_VAL = np.array([0])
ORANGE, BLUE, GREY = [245, 147, 34], [8, 119, 189], [232, 234, 235]


def pixel(img, x, y, boundary):
    """The pixel at data point (x, y) on a boundary image (up is +y)."""
    size = img.shape[0]
    xs, ys = boundary["xs"], boundary["ys"]
    col = round((x - xs[0]) / (xs[-1] - xs[0]) * (size - 1))
    row = round((ys[-1] - y) / (ys[-1] - ys[0]) * (size - 1))
    return img[row, col].tolist()


def test_boundary_image_shades_by_probability_with_up_as_plus_x2():
    # P(class 1): bottom row (y = -1) all 0, top row (y = 1) all 1
    boundary = {"xs": [-1.0, 0.0, 1.0], "ys": [-1.0, 1.0], "p": [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], "at": 0.0}
    img = boundary_image(boundary, np.zeros((0, 2)), np.zeros(0), np.zeros((0, 2)), np.zeros(0), size=101)
    assert img.shape == (101, 101, 3) and img.dtype == np.uint8
    near = lambda a, b: np.abs(np.array(a, int) - b).max() <= 6            # noqa: E731 (bilinear: 1 px in)
    assert near(img[1, 50], BLUE)                           # top: P = 1
    assert near(img[99, 50], ORANGE)                        # bottom: P = 0
    assert img[50, 50].tolist() == GREY                     # the middle: P = 0.5


def test_the_boundary_is_stretched_as_torch_interpolates_bilinearly_with_aligned_corners():
    import torch
    import torch.nn.functional as F

    from playground.viz.curves import _stretch

    p = np.random.default_rng(0).random((7, 5)).astype(np.float32)
    ours = _stretch(_stretch(p, 53, 0), 41, 1)
    theirs = F.interpolate(torch.tensor(p)[None, None], size=(53, 41), mode="bilinear", align_corners=True)[0, 0]
    assert ours.shape == (53, 41) and np.abs(ours - theirs.numpy()).max() < 1e-5
    assert _stretch(np.ones((1, 3), np.float32), 4, 0).shape == (4, 3)


def test_the_colour_lookup_table_is_within_one_unit_of_the_ramp_and_clips():
    from playground.viz.curves import CLASS_RGB, MIDDLE_RGB, ramp, ramp_u8

    t = np.linspace(-1, 1, 9_999).reshape(101, 99)
    exact = ramp(t, CLASS_RGB[0], MIDDLE_RGB, CLASS_RGB[1]).astype(int)
    fast = ramp_u8(t, CLASS_RGB[0], MIDDLE_RGB, CLASS_RGB[1])
    assert fast.shape == (101, 99, 3) and fast.dtype == np.uint8
    assert np.abs(fast.astype(int) - exact).max() <= 1
    assert ramp_u8(np.array([-3.0, 0.0, 7.0]), CLASS_RGB[0], MIDDLE_RGB, CLASS_RGB[1]).tolist() == [
        list(CLASS_RGB[0]), list(MIDDLE_RGB), list(CLASS_RGB[1])]


def test_boundary_image_draws_points_in_their_class_colours():
    boundary = {"xs": [-2.0, 2.0], "ys": [-2.0, 2.0], "p": [[0.5, 0.5], [0.5, 0.5]], "at": 0.0}
    img = boundary_image(boundary, X_TRAIN, Y_TRAIN, X_VAL, Y_VAL, size=201)
    assert pixel(img, 0.0, 0.0, boundary) == ORANGE         # a training point of class 0: a filled dot
    assert pixel(img, 1.0, 1.0, boundary) == BLUE
    assert pixel(img, -1.0, 0.5, boundary) == BLUE
    assert pixel(img, 0.5, -0.5, boundary) == GREY          # a validation point: a ring, hollow
    assert pixel(img, 0.5 + 0.04, -0.5, boundary) == ORANGE   # ... in its class colour (2 px out)
    assert pixel(img, -1.5, -1.5, boundary) == GREY         # no point there: the background


def test_boundary_image_before_the_first_grid_has_only_points():
    img = boundary_image(None, torch.from_numpy(X_TRAIN), torch.from_numpy(Y_TRAIN),
                         torch.from_numpy(X_VAL), torch.from_numpy(Y_VAL), size=120)
    colours = {tuple(c) for c in img.reshape(-1, 3).tolist()}
    assert tuple(ORANGE) in colours and tuple(BLUE) in colours and tuple(GREY) not in colours


def test_epoch_chart_of_a_long_run_is_thinned_and_keeps_the_last_epoch():
    epochs = [{"epoch": k, "train_loss": 1 / k, "val_loss": 1 / k, "train_acc": 0.5, "val_acc": 0.5}
              for k in range(1, 2002)]
    spec = epoch_chart(epochs, "loss")
    shown = spec["datasets"]["main"]["epoch"].unique().tolist()
    assert len(shown) <= 401 and shown[0] == 1 and shown[-1] == 2001
    assert spec["mark"] == {"type": "line", "point": False}                  # no dot per epoch any more


def test_numbers_table_writes_each_value_in_its_coloured_cell():
    from playground.viz.filters import numbers_table

    html = numbers_table(np.array([[1.0, -1.0], [0.0, 0.5]]), "kernel <w>")
    assert "kernel &lt;w&gt;" in html                                  # the title is escaped
    cells = html.split("<td")[1:]
    assert [c.split(">")[1].split("<")[0] for c in cells] == ["1.00", "-1.00", "0.00", "0.50"]
    assert "background:#b2182b" in cells[0] and "background:#2166ac" in cells[1]    # RdBu's red and blue ends
    assert "background:#ffffff" in cells[2] and "color:#fff" in cells[0] and "color:#000" in cells[2]
    window = numbers_table(np.array([[0.0, 0.2]]), "window", False, np.array([[True, False]]))
    assert "pad 0" in window and "0.20" in window


def test_a_figure_strip_is_each_picture_as_a_png_with_its_caption_and_alt_text_escaped():
    import base64
    import io
    import re

    from PIL import Image

    from playground.viz.filters import figure_strip

    grey = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 1] = (255, 0, 0)
    html = figure_strip([grey, rgb], ["#3 · 0.91 · a → b", "<one>"], ['example "3"', "x & y"], width=50)
    assert html.count("<figure") == 2
    assert re.findall(r"<figcaption[^>]*>([^<]*)</figcaption>", html) == ["#3 · 0.91 · a → b", "&lt;one&gt;"]
    assert re.findall(r'alt="([^"]*)"', html) == ["example &quot;3&quot;", "x &amp; y"]
    pictures = [np.asarray(Image.open(io.BytesIO(base64.b64decode(u))))
                for u in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]
    assert np.array_equal(pictures[0], grey) and np.array_equal(pictures[1], rgb)     # the pixels, not resampled
    assert html.count('width="50"') == 2
    with pytest.raises(ValueError):                                   # a caption per picture, or it says so
        figure_strip([grey], [], [])


def test_the_live_charts_in_words_give_their_numbers():
    from playground.viz.curves import epoch_words, step_loss_caption, step_loss_words

    assert step_loss_words([], []) == "Training loss per step: no step yet."
    losses = [2.3] + [1.0] * 1888 + [0.11]
    assert step_loss_words(range(1, 1891), losses) == "Training loss per step: 1,890 steps, from 2.3 to 0.11."
    thinned = list(range(1, 3781, 2))                                   # a long run's history: every other step
    assert step_loss_words(thinned, losses).startswith("Training loss per step: 3,779 steps,")
    assert step_loss_words([1, 2], [1.0, 5e3], diverged_at=2).endswith("; diverged at step 2.")
    assert step_loss_caption([]) == step_loss_caption(range(1, MAX_POINTS + 1)) \
        == "Training loss per step (faint: raw, bold: smoothed)"               # every step drawn as it is
    assert step_loss_caption(range(1, 3 * MAX_POINTS + 1)).startswith("Training loss per step (faint: means of about "
                                                                      "3 steps each")      # buckets of 3
    compacted = list(range(2, 6 * MAX_POINTS + 1, 2))                  # a history of pairs, drawn in buckets of 3
    assert "about 6 steps" in step_loss_caption(compacted) and len(downsample(compacted, compacted)[0]) == MAX_POINTS
    e = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.2}, {"epoch": 2, "train_loss": 0.5, "val_loss": 0.7}]
    assert epoch_words(e, "loss") == "Loss per epoch, 2 epochs: training 1 to 0.5; validation 1.2 to 0.7."


def test_a_chart_drawn_on_a_page_names_what_it_shows_and_drops_layers_with_nothing_to_draw():
    from ui.charts import described, without_empty_layers

    spec = step_loss_chart([1, 2], [1.0, 0.5])
    assert [layer["mark"]["type"] for layer in without_empty_layers(spec)["layer"]] == ["line", "line"]
    assert len(without_empty_layers(step_loss_chart([1, 2], [1.0, 0.5], diverged_at=2))["layer"]) == 3
    assert spec["description"] == "Training loss per step, raw (faint) and smoothed"
    bars = {"encoding": {"x": {"field": "epoch"}, "y": {"title": "accuracy"}}}
    assert described(bars) == "chart: accuracy against epoch"


def test_a_confusion_matrix_says_its_accuracy_and_its_worst_confusion():
    from playground.viz.evaluate import confusion_chart, confusion_words

    cm = np.array([[50, 2, 0], [1, 40, 12], [0, 3, 45]])
    words = "Confusion matrix, 3 classes, accuracy 88%; most confused: disc read as triangle, 12 times."
    assert confusion_words(cm, ["square", "disc", "triangle"]) == words
    assert confusion_chart(cm, ["square", "disc", "triangle"])["description"] == words
    assert confusion_words(np.eye(2) * 5, ["a", "b"]) == "Confusion matrix, 2 classes, accuracy 100%."
