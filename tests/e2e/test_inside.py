"""A student looks inside a CNN they trained: clicks a feature-map cell and checks the convolution
by hand, presses Play on the epoch scrubber, and reads its layer statistics; then a lesson pair."""
from __future__ import annotations

import re
import time

import pytest

from tests.e2e.ui import go, idle, metric, train_digits_cnn

pytestmark = pytest.mark.e2e


def thumb(page, label: str):
    return page.locator('[data-testid="stSlider"]').filter(has_text=label).first.get_by_role("slider")


def spreads(panel) -> dict[str, float]:
    """The histograms' titles in panel ("12 ReLU · std 212"), as {layer: std}, top left first (Vega
    writes each title into its chart's aria-label)."""
    labels = panel.locator('[data-testid="stVegaLiteChart"] [aria-label^="Title text"]').evaluate_all(
        "nodes => nodes.map(n => n.getAttribute('aria-label'))")
    found = {}
    for label in labels:
        m = re.fullmatch(r"Title text '(.+) · std ([^']+)'", label)
        if m:
            found.setdefault(m.group(1), float(m.group(2)))
    return found


def test_click_a_cell_play_the_epochs_and_read_the_statistics(page, shots):
    train_digits_cnn(page, 4)
    go(page, "Filters & feature maps", page.get_by_text("Inside one convolution: click an output cell"))
    equation = page.get_by_text(re.compile(r"^sum of products .* = F\.conv2d output"))
    equation.wait_for()
    assert "(channel 0, row 0, col 0)" in equation.inner_text()
    # a click on the map's cell (row 5, col 2): its window, kernel and products, and the same number as F.conv2d
    cell = page.locator('[aria-label^="col: 2; row: 5;"]').first
    cell.wait_for(timeout=30_000)
    cell.click()
    page.get_by_text(re.compile(r"F\.conv2d output .* at \(channel 0, row 5, col 2\)")).wait_for()
    assert " = F.conv2d output" in equation.inner_text()              # "≠" would mean our arithmetic is wrong
    assert page.get_by_role("spinbutton", name=re.compile(r"^Row")).input_value() == "5"
    page.get_by_text("kernel (weights)").first.scroll_into_view_if_needed()
    shots(page, "conv-cell-clicked")
    # Play from the last epoch starts over at the initial weights and walks forward
    page.get_by_role("button", name="Play").click()
    page.get_by_text("epoch 0 (initial weights)").first.wait_for()
    t0 = time.time()
    page.get_by_role("button", name="Pause").wait_for()
    page.locator('[data-testid="stSlider"]').filter(has_text="epoch 2").first.wait_for(timeout=20_000)
    print(f"played from epoch 0 to 2 in {time.time() - t0:.1f} s")
    page.get_by_role("button", name="Play").wait_for(timeout=20_000)      # it stopped at the last snapshot
    assert "epoch 4" in page.locator('[data-testid="stSlider"]').filter(has_text="Epoch").first.inner_text()
    # the same run's layer statistics: scrub to the initial weights, where no update has happened yet
    go(page, "Layer statistics", page.get_by_text("Gradient norm, first / last layer"))
    shots(page, "stats-trained")
    assert float(metric(page, "Update / weight (median)")) > 0
    thumb(page, "Epoch").press("Home")
    page.get_by_text(re.compile(r"^Gradient norm per layer at epoch 0")).wait_for()
    assert page.get_by_text("Update / weight (median)").count() == 0
    page.get_by_role("tab", name="Distributions").click()
    page.get_by_text(re.compile(r"^Every layer's outputs at epoch 0")).wait_for()
    shots(page, "stats-distributions-epoch-0")


def test_the_initialisation_lesson(page, shots):
    go(page, "Layer statistics", page.get_by_text("Lessons: train a pair and compare"))
    page.get_by_role("button", name="Initialisation: N(0, 1) vs He").click()
    page.get_by_text("finished · 30/30 epochs").first.wait_for(timeout=90_000)
    page.get_by_text("Gradient norm, first / last layer").wait_for()
    # N(0, 1) weights blow the outputs up layer after layer: the last ReLU's spread is in the hundreds
    page.get_by_role("tab", name="Distributions").click()
    page.get_by_text(re.compile(r"^Every layer's outputs at epoch 30")).wait_for()
    idle(page)
    std = spreads(page.get_by_role("tabpanel", name="Distributions"))
    print("outputs' standard deviation per layer (N(0, 1) weights):", std)
    relus = [v for name, v in std.items() if "ReLU" in name]
    assert len(relus) == 6, std
    assert relus[-1] >= 100, f"the last ReLU's outputs have std {relus[-1]:g}, not in the hundreds: {std}"
    assert relus[-1] > 10 * relus[0], f"the spread does not grow layer after layer: {std}"
    shots(page, "init-normal-distributions")
    page.get_by_role("tab", name="Gradients").click()
    page.get_by_text(re.compile(r"^Gradient norm per layer at epoch 30")).wait_for()
    idle(page)
    shots(page, "init-normal-vs-he-gradients")
