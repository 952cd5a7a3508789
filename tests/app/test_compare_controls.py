"""Compare's chart controls (AppTest, no browser), on two short variants raced from the page (one that
crawls, one that learns):

- "log y" draws the loss on a logarithmic y scale; off, the scale is linear again;
- "smoothing" s plots, per variant, the exponential moving average (debiased, as TensorBoard's) of the
  training losses the run recorded at every step; pandas' ewm is the reference;
- "target loss" gives, per variant, the first step (and the samples seen by then) at which that smoothed
  loss reaches the target, as computed here from the run's history; a variant that never reaches it shows
  '–' there."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from playground.train import REGISTRY
from tests.app.conftest import open_page
from ui.compare import variants_to_frame

OWNER = "compare-controls-000000"          # a valid ?me= token (22+ url-safe characters)
BATCH = 32
# 200 spiral points, 160 of them for training: 5 full batches an epoch, 50 steps in all
BASE = {"data": {"name": "spiral", "n_samples": 200}, "optim": {"name": "sgd"}, "batch_size": BATCH, "epochs": 10,
        "seed": 0, "layers": [{"type": "Linear", "out_features": 16}, {"type": "ReLU"},
                              {"type": "Linear", "out_features": 2}]}
VARIANTS = [{"name": "crawl", "optim": {"name": "sgd", "lr": 1e-4}},
            {"name": "learn", "optim": {"name": "adam", "lr": 0.03}}]


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


@pytest.fixture(scope="module")
def group() -> str:
    """The two variants, raced from the page's Race button and trained to the end."""
    at = open_page("views/compare.py", OWNER)
    at.session_state.cmp_base = BASE
    at.session_state.cmp_df = variants_to_frame(VARIANTS)
    at.session_state.cmp_ver = 100                     # a fresh variant table editor, holding this table
    ok(at.run())
    ok(next(b for b in at.button if b.label == "Race").click().run())
    runs = REGISTRY.group(at.session_state.cmp_group)
    assert [r.name for r in runs] == ["crawl", "learn"]
    for r in runs:
        assert r.join(120) and r.history.status == "finished", r.history.message
    return at.session_state.cmp_group


def page(gid: str) -> AppTest:
    """A fresh session of the Compare page showing the race."""
    at = open_page("views/compare.py", OWNER)
    at.session_state.cmp_group = gid
    return ok(at.run())


def chart(at: AppTest):
    [c] = at.get("vega_lite_chart")
    return c


def y_scale(at: AppTest) -> dict:
    return json.loads(chart(at).proto.spec)["layer"][0]["encoding"]["y"].get("scale", {})


def curves(at: AppTest) -> pd.DataFrame:
    """The rows the chart draws as lines (its "curves" data set, Arrow IPC as Streamlit sends it)."""
    [named] = [d for d in chart(at).proto.datasets if d.name == "curves"]
    return pa.ipc.open_stream(named.data.data).read_all().to_pandas()


def smoothed(run, s: float) -> np.ndarray:
    """The run's recorded step losses, exponentially smoothed with weight s and debiased: pandas' ewm
    with alpha 1 - s and adjust=True is sum(s^i x[t-i]) / sum(s^i) over i = 0..t."""
    return pd.Series(run.history.snapshot()["step_loss"], dtype=float).ewm(alpha=1 - s, adjust=True).mean().to_numpy()


def test_log_y_makes_the_loss_scale_logarithmic_and_off_linear(group):
    at = page(group)
    assert at.toggle(key="cmp_log").value is False
    assert y_scale(at).get("type", "linear") == "linear", y_scale(at)
    ok(at.toggle(key="cmp_log").set_value(True).run())
    assert y_scale(at).get("type") == "log", f"log y is on but the loss chart's y scale is {y_scale(at)}"
    assert len(curves(at)) == 2 * 50                           # every loss is positive: none left out
    ok(at.toggle(key="cmp_log").set_value(False).run())
    assert y_scale(at).get("type", "linear") == "linear", f"log y is off but the y scale is {y_scale(at)}"


@pytest.mark.parametrize("s", [0.0, 0.8])
def test_the_curves_are_the_exponential_moving_average_of_the_recorded_losses(group, s):
    at = page(group)
    ok(at.slider(key="cmp_smooth").set_value(s).run())
    drawn = curves(at)
    for run in REGISTRY.group(group):
        mine = drawn[drawn["variant"] == run.name]
        steps = run.history.snapshot()["step_x"]
        assert mine["x"].tolist() == steps, f"{run.name}: x is not the step"
        np.testing.assert_allclose(mine["y"].to_numpy(), smoothed(run, s), rtol=1e-6,
                                   err_msg=f"{run.name}: the curve drawn with smoothing {s} is not the EMA")


def test_the_target_loss_gives_the_first_step_each_variant_reaches_it(group):
    s = 0.5
    crawl, learn = REGISTRY.group(group)
    fast, slow = smoothed(learn, s), smoothed(crawl, s)
    target = round(float(fast[0] + fast.min()) / 2, 2)       # halfway down the learning variant's curve
    assert slow.min() > target > fast.min(), (slow.min(), target, fast.min())
    first = int(np.argmax(fast <= target))                   # the first step (index) at or below the target
    step = learn.history.snapshot()["step_x"][first]
    at = page(group)
    ok(at.slider(key="cmp_smooth").set_value(s).run())
    ok(at.number_input(key="cmp_target").set_value(target).run())
    table = at.table[0].value
    steps, samples = table[f"steps to loss {target:g}"], table[f"samples to loss {target:g}"]
    assert steps["learn"] == f"{step:,}", f"learn reaches {target} at step {step} (smoothing {s}), shown {steps}"
    assert samples["learn"] == f"{step * BATCH:,}", samples                # full batches of 32
    assert steps["crawl"] == samples["crawl"] == "–", f"crawl never reaches {target}, shown {steps['crawl']}"
