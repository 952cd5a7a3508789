"""A student trains the reversal transformer, watches the anti-diagonal appear on the Attention page
while scrubbing the epochs, clicks a cell to see the numbers behind it, and runs a lesson pair."""
from __future__ import annotations

import re
import time

import pytest

from tests.e2e.ui import go, idle, metric, set_number

pytestmark = pytest.mark.e2e


def show(page, view: str) -> None:
    page.locator('[data-testid="stButtonGroup"]').get_by_role("radio", name=view).click()


def best_score(page) -> float:
    text = page.get_by_text(re.compile(r"^anti diagonal: .* Best at epoch")).first.inner_text()
    return float(re.search(r"head \d+, ([0-9.]+)\.$", text.strip()).group(1))


def test_watch_reversal_attention_form_and_check_one_weight(page, shots):
    box = page.get_by_role("combobox", name="Example")
    box.click()
    box.press_sequentially("transformer · rev")              # the list is long: filter it as a user would
    page.get_by_role("option", name="tiny transformer · reverse", exact=True).click()
    page.get_by_role("button", name="Load example").click()
    page.get_by_text(re.compile(r"10 class scores at each of 8 positions")).wait_for(timeout=60_000)
    set_number(page, "Epochs", 10)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("finished 10 epochs").wait_for(timeout=120_000)
    t = go(page, "Attention", page.get_by_text("The numbers behind one weight"))
    print(f"Attention page opened in {t:.2f} s")
    show(page, "Over training")
    page.get_by_text(re.compile(r"^anti diagonal: .* Best at epoch 10")).wait_for()
    trained = best_score(page)
    assert trained >= 0.5, trained                      # the anti-diagonal is there
    shots(page, "trained-over-training")
    # scrub to the initial weights: no pattern yet (uniform attention scores 1/8)
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Epoch").first.get_by_role("slider")
    t0 = time.time()
    slider.press("Home")
    page.get_by_text(re.compile(r"^anti diagonal: .* Best at epoch 0")).wait_for()
    print(f"scrub to epoch 0 redrawn in {time.time() - t0:.2f} s")
    assert best_score(page) < 0.3
    show(page, "One head")
    shots(page, "epoch-0")
    slider.press("End")
    show(page, "Over training")
    page.get_by_text(re.compile(r"^anti diagonal: .* Best at epoch 10")).wait_for()
    show(page, "One head")
    # click the cell (query 2, key 5): the anti-diagonal's cell for position 2 of 8
    cell = page.locator('[aria-label^="key: where it reads from: 5; query: who reads: 2;"]').first
    cell.wait_for(timeout=30_000)
    cell.click()
    page.get_by_text(re.compile(r"^Position 2 \(token \d+\) reads from position 5 \(token \d+\) in layer 3")).wait_for()
    assert page.get_by_role("spinbutton", name=re.compile(r"^Query position")).input_value() == "2"
    check = page.locator('[data-testid="stAlert"]').filter(has_text="the forward pass used")
    check.wait_for()
    m = re.search(r"= ([0-9.]+); the forward pass used ([0-9.]+)", check.inner_text())
    assert m and m.group(1) == m.group(2), check.inner_text()
    shots(page, "cell-clicked")
    show(page, "All heads and rollout")
    page.get_by_text("Attention rollout (Abnar and Zuidema, 2020)").wait_for()
    shots(page, "all-heads")


def test_the_positional_encoding_lesson(page, shots):
    go(page, "Attention", page.get_by_text("Lessons: train a pair and compare"))
    page.get_by_role("button", name="Positional encoding: with vs without").click()
    page.get_by_text("finished · 20/20 epochs").first.wait_for(timeout=180_000)
    info = page.locator('[data-testid="stAlert"]').filter(has_text="Compared with").first
    info.wait_for(timeout=30_000)
    page.get_by_text("attention sees the sequence as a bag of tokens").wait_for()
    idle(page)
    deadline = time.time() + 60
    while "at epoch 20:" not in info.inner_text():      # the run compared with may end a moment after the one shown
        assert time.time() < deadline, f"the run compared with never reached epoch 20: {info.inner_text()}"
        go(page, "Runs", page.get_by_text("Every run kept"))
        go(page, "Attention", page.get_by_text("Lessons: train a pair and compare"))
        info.wait_for(timeout=30_000)
        idle(page)
    shots(page, "positional-lesson")
    # the numbers behind the lesson: without positions, reversal stays near what guessing from the
    # token counts gives (~30% here; 10% is one token in ten) ...
    m = re.search(r"no positional encoding\*?\*? at epoch 20: validation token accuracy ([\d.]+)%", info.inner_text())
    assert m, info.inner_text()
    without = float(m.group(1))
    # ... with them, the run shown (Build & Train's numbers for it) gets nearly every token right
    go(page, "Build & Train", page.get_by_text("finished 20 epochs"))
    idle(page)
    text = metric(page, "accuracy")
    with_positions = float(text.rstrip("%"))
    print(f"reversal, validation token accuracy: {with_positions}% with positions, {without}% without")
    assert with_positions >= 90, f"with positional encoding the accuracy is only {text}"
    assert without <= 50, f"without positional encoding the accuracy is {without}%: reversal was learned"
