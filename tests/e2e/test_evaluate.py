"""A student in a browser evaluates the run they trained: scrub its epochs, move the threshold."""
from __future__ import annotations

import re
import time

import pytest

from tests.e2e.ui import go, metric, rerun, set_number, train_digits_cnn

pytestmark = pytest.mark.e2e


def thumb(page, label: str):
    return page.locator('[data-testid="stSlider"]').filter(has_text=label).first.get_by_role("slider")


def test_follow_the_training_run_then_scrub_epochs_and_move_the_threshold(page, shots):
    """Evaluate opened as soon as Start is pressed follows the run (its first snapshot, then the newest
    epoch) to the end without a click; then the epochs are scrubbed and the threshold moved."""
    set_number(page, "Epochs", 500)
    t0 = time.time()
    rerun(page, page.get_by_role("button", name="Start training").click, "Start training")   # the run is the page's
    go(page, "Evaluate", page.get_by_text("Balanced accuracy", exact=True))
    # drawn before the first snapshot ("no weight snapshot yet") or at an early epoch, the page must not
    # wait for the run's end (~7 s here) to show its metrics, nor stop at the epoch it first drew
    assert page.get_by_text("The run is still training").is_visible(), \
        f"Evaluate showed its metrics only after the run ended ({time.time() - t0:.1f} s after Start)"
    page.get_by_text("epoch 500").first.wait_for(timeout=60_000)
    page.get_by_text("The run is still training").wait_for(state="hidden")
    print(f"Evaluate's metrics shown while the run trained; its last epoch {time.time() - t0:.1f} s after Start")
    trained = metric(page, "Accuracy")
    shots(page, "evaluate-epoch-500")
    # back to the initial weights: an untrained network does not get the trained accuracy
    t0 = time.time()
    thumb(page, "Epoch").press("Home")
    page.get_by_text("epoch 0 (initial weights)").first.wait_for()
    while metric(page, "Accuracy") == trained:
        assert time.time() - t0 < 20, f"the accuracy still shows the trained {trained} 20 s after the scrub to epoch 0"
        time.sleep(0.05)
    print(f"scrub from epoch 500 to epoch 0 redrawn in {time.time() - t0:.2f} s (browser-measured)")
    shots(page, "evaluate-epoch-0")
    # the threshold moves the dot and the confusion matrix
    thumb(page, "Epoch").press("End")
    page.get_by_text("epoch 500").first.wait_for()
    caption = page.get_by_text(re.compile(r"^Confusion matrix at threshold 0\.50"))
    caption.wait_for()
    for _ in range(20):
        thumb(page, "Threshold").press("ArrowRight")
    page.get_by_text(re.compile(r"^Confusion matrix at threshold 0\.70")).wait_for()
    shots(page, "evaluate-threshold")


def test_a_cnn_inside_then_evaluated(page, shots):
    """Digits 8x8 with the Small CNN: its filters scrubbed back to the initial weights, a feature map
    of another example, then its 10-class evaluation."""
    train_digits_cnn(page, 4)
    go(page, "Filters & feature maps", page.get_by_text("One input through the network"))
    page.get_by_text(re.compile(r"^Layer 1 \(Conv2d\): \d+ filters of 1x3x3")).wait_for()
    predicted = page.get_by_text(re.compile(r"^Predicted \d")).inner_text()
    shots(page, "filters-trained")
    t0 = time.time()
    thumb(page, "Epoch").press("Home")
    page.get_by_text("epoch 0 (initial weights)").first.wait_for()
    while page.get_by_text(re.compile(r"^Predicted \d")).inner_text() == predicted:       # class or confidence
        assert time.time() - t0 < 20, f"the page still says '{predicted}' 20 s after the scrub to epoch 0"
        time.sleep(0.05)
    print(f"filters scrubbed from epoch 4 to 0 in {time.time() - t0:.2f} s (browser-measured, digits CNN)")
    shots(page, "filters-initial")
    box = page.get_by_role("spinbutton", name=re.compile(r"^Validation example"))
    box.fill("12")
    box.press("Enter")
    page.get_by_text("validation example 12 · true class").wait_for()      # (the conv explainer names it too)
    go(page, "Evaluate", page.get_by_text("Balanced accuracy", exact=True))
    page.get_by_text(re.compile(r"^Confusion matrix: rows are the true class")).wait_for()
    shots(page, "evaluate-digits")
    # the most confidently wrong examples: one strip of pictures, each drawn, with its true and predicted class
    wrong = page.locator("figure figcaption").filter(has_text=re.compile(r"^true \d → \d \(\d+%\)$"))
    wrong.first.wait_for()
    assert 1 <= wrong.count() <= 16
    assert page.locator("figure img").evaluate_all("imgs => imgs.length > 0 && imgs.every(i => i.naturalWidth > 0)")
