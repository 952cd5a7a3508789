"""A user in a browser: build a network, train it live, stop it, and meet a refused network."""
from __future__ import annotations

import re
import time

import pytest

from tests.e2e.ui import choose, metric, progress_step, set_number, wait_for_step

pytestmark = pytest.mark.e2e

FIRST_POINT_S = 12          # "fast" on a loaded 2-core machine; see test_mnist_cnn_first_point_fast


def test_train_spiral_live_then_stop(page, shot):
    train_spiral_live_then_stop(page, shot)


def train_spiral_live_then_stop(page, shot, first_point_s: float = 20) -> None:
    """Also run against a Ray cluster (test_cluster_app.py): the same steps, wherever runs train."""
    shot("opened")
    # Build: widen the first hidden layer and watch its output shape follow.
    args = page.get_by_role("textbox", name="arguments").first
    args.fill("out_features=32, bias=True")
    args.press("Enter")
    page.get_by_text("658 parameters").wait_for()          # 2*32+32 + 32*16+16 + 16*2+2
    set_number(page, "Epochs", 1000)                        # waits for the rerun with 1000 epochs
    shot("built")

    page.get_by_role("button", name="Start training").click()
    page.locator('[data-testid="stProgress"]').first.wait_for()
    deadline = time.time() + first_point_s
    first = 0
    while first == 0 and time.time() < deadline:
        first = progress_step(page)
        time.sleep(0.2)
    assert first > 0, f"no training step shown within {first_point_s:g} s of Start"
    wait_for_step(page, above=first)                        # the curve grows (fails if it stands still)
    shot("training")

    # Accuracy rises: wait for the validation accuracy to pass 80% on the spiral.
    deadline, acc = time.time() + 60, 0.0
    while time.time() < deadline:
        text = metric(page, "validation accuracy")
        acc = float(text.rstrip("%")) / 100 if text.endswith("%") else 0.0
        if acc > 0.8:
            break
        time.sleep(0.5)
    assert acc > 0.8, f"validation accuracy stayed at {acc:.1%}"
    assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 2       # loss curves
    assert page.locator('[data-testid="stImage"]').count() >= 1                # decision boundary

    page.get_by_role("button", name="Stop").click()
    page.get_by_text("stopped by the user").wait_for(timeout=15_000)
    shot("stopped")
    stopped_at = progress_step(page)
    time.sleep(1.5)                 # not a synchronisation: nothing must change over a while (~20 steps' worth)
    assert progress_step(page) == stopped_at, "training went on after Stop"


def test_refused_network_names_layer_and_fix(page, shot):
    choose(page, "type", "Conv2d")
    err = page.get_by_text("This network cannot train on this data")
    err.wait_for()
    body = page.locator('[data-testid="stAlert"]').filter(has_text="cannot train").inner_text()
    assert "layer 1 (Conv2d)" in body and "2-D points" in body, body
    assert page.get_by_role("button", name="Start training").is_disabled()
    shot("refused")


def test_mnist_cnn_first_point_fast(page, shot):
    choose(page, "Data set", "MNIST 5,000 (offline)")
    page.get_by_text("1x28x28 (CxHxW)").first.wait_for(timeout=30_000)
    page.get_by_text("9,098 parameters").wait_for()       # the Small CNN preset was swapped in
    set_number(page, "Epochs", 50)                        # long enough to still be running at Stop
    shot("mnist-built")
    page.get_by_role("button", name="Start training").click()
    first_point = wait_for_step(page, timeout=FIRST_POINT_S)
    print(f"time to first point after Start (MNIST small CNN, browser-measured): {first_point:.2f} s")
    # The server side takes ~40 ms (python -m playground bench); in the browser it is mostly Chromium
    # drawing the page on the same 2 cores: 1.5-4.6 s measured here and on CI. The bound is about three
    # times that, for a machine loaded by other tests: past it, something waits that should not.
    page.get_by_text("50 epochs planned").wait_for()      # the run has the epochs typed before Start
    page.get_by_text("accuracy per epoch", exact=False).first.wait_for()
    # past the first epoch (any of 2..5: a fast run can pass epoch 2 between two polls)
    page.locator('[data-testid="stProgress"]').filter(has_text=re.compile(r"epoch [2-9]/")).first \
        .wait_for(timeout=60_000)
    shot("mnist-training")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("running · 50 epochs planned").wait_for(timeout=10_000)     # not "starting" while it trains
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("stopped by the user").wait_for(timeout=15_000)
    sidebar.get_by_text(re.compile(r"stopped · \d+/50 epochs")).wait_for(timeout=10_000)
