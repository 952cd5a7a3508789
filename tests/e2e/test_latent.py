"""A student trains the notes' autoencoder from the Latent space page, watches the code space form while
it trains, clicks a digit (its reconstruction and neighbours), clicks an empty spot (what the decoder
draws there), scrubs the epochs, and opens the decoded manifold and the comparison with PCA."""
from __future__ import annotations

import re
import time

import pytest

from tests.e2e.ui import go, idle, metric

pytestmark = pytest.mark.e2e


def epoch_shown(page) -> int:
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Epoch").first
    if not slider.count():
        return 0                                        # one snapshot so far: no slider yet
    return int(re.search(r"epoch (\d+)", slider.inner_text()).group(1))


def find_on_chart(page, point: bool) -> tuple[float, float]:
    """A spot of the scatter (a canvas) where the hover tooltip shows an example (point) or nothing
    at all (empty space, which the chart's background grid makes clickable)."""
    box = page.locator('[data-testid="stVegaLiteChart"] canvas').first.bounding_box()
    tip = page.locator("#vg-tooltip-element")
    fys, fxs = ([0.5, 0.45, 0.55, 0.4, 0.6, 0.35, 0.65], [0.5, 0.45, 0.55, 0.4, 0.6, 0.35, 0.65]) if point else \
        ([0.15, 0.2, 0.8, 0.25], [0.12, 0.15, 0.85, 0.9, 0.2])
    for fy in fys:
        for fx in fxs:
            x, y = box["x"] + fx * box["width"], box["y"] + fy * box["height"]
            page.mouse.move(2, 2)
            page.wait_for_timeout(60)
            page.mouse.move(x, y)
            page.wait_for_timeout(150)
            shown = tip.count() and tip.is_visible() and "example" in tip.inner_text()
            if bool(shown) == point:
                return x, y
    raise AssertionError(f"no {'point' if point else 'empty spot'} found on the scatter")


def test_train_an_autoencoder_watch_its_code_space_and_decode_a_clicked_spot(page, shots):
    go(page, "Latent space", page.get_by_role("button", name=re.compile("notes' autoencoder")))
    page.get_by_role("button", name=re.compile("notes' autoencoder")).click()
    page.get_by_text("5-NN accuracy of the code").wait_for(timeout=60_000)
    # while it trains, the page follows the newest snapshot by itself: it moves on from the epoch it
    # first drew, unasked. (At most one redraw per 3 s while the run trains: on a loaded 2-core machine a
    # 30-epoch run can end after two draws, {7, 30}, so a third epoch is not required.)
    first = epoch_shown(page)
    seen = {first}
    deadline = time.time() + 90
    while len(seen) < 3 and time.time() < deadline:
        page.wait_for_timeout(500)
        seen.add(epoch_shown(page))
    assert len(seen) >= 2 and max(seen) > first, seen
    shots(page, "while-training")
    page.get_by_text(re.compile(r"finished · 30/30 epochs")).wait_for(timeout=240_000)
    page.get_by_text("epoch 30").first.wait_for(timeout=30_000)
    idle(page)                                          # the scores shown are the last snapshot's
    trained_text = metric(page, "5-NN accuracy of the code")
    trained = float(trained_text.rstrip("%"))
    pca = float(metric(page, "PCA to 2-D, same test").rstrip("%"))
    print(f"5-NN: autoencoder {trained}%, PCA {pca}%")
    assert trained >= 55 and trained >= pca + 10
    shots(page, "trained")
    # click a digit: its reconstruction and its nearest neighbours
    x, y = find_on_chart(page, point=True)
    page.mouse.click(x, y)
    page.get_by_text(re.compile(r"^Example \d+ · label \d")).wait_for(timeout=30_000)
    page.get_by_text(re.compile(r"^Its 8 nearest neighbours in code space")).wait_for()
    shots(page, "clicked-point")
    # click an empty spot: the decoder's output there
    x, y = find_on_chart(page, point=False)
    page.mouse.click(x, y)
    page.get_by_text(re.compile(r"^the decoder's output at \(")).wait_for(timeout=30_000)
    assert not page.get_by_text(re.compile(r"^Example \d+ · label")).count()
    shots(page, "clicked-spot")
    # scrub to the initial weights: the code keeps much less of the label
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Epoch").first.get_by_role("slider")
    slider.press("Home")
    page.wait_for_function("() => document.body.innerText.includes('epoch 0 (initial weights)')", timeout=30_000)
    deadline = time.time() + 30
    while (untrained := metric(page, "5-NN accuracy of the code")) == trained_text:
        assert time.time() < deadline, f"the 5-NN score still shows epoch 30's {trained_text} 30 s after the scrub"
        time.sleep(0.1)
    idle(page)
    untrained = metric(page, "5-NN accuracy of the code")
    assert float(untrained.rstrip("%")) < trained - 15, (untrained, trained_text)
    shots(page, "epoch-0")
    slider.press("End")
    page.get_by_text("epoch 30").first.wait_for()
    page.locator('[data-testid="stButtonGroup"]').get_by_role("radio", name="Decode anywhere").click()
    page.get_by_text(re.compile(r"^The decoder's output on a 15 x 15 grid")).wait_for(timeout=30_000)
    page.get_by_text(re.compile(r"^Left and right: the inputs")).wait_for(timeout=30_000)
    page.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(timeout=30_000)
    shots(page, "manifold")
    page.locator('[data-testid="stButtonGroup"]').get_by_role("radio", name="Against PCA").click()
    page.get_by_text(re.compile(r"equals the sum of the discarded eigenvalues")).wait_for(timeout=30_000)
    shots(page, "against-pca")
    assert not page.locator('[data-testid="stException"]').count()
