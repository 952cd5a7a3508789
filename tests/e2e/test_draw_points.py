"""A student draws a set on the plane (issue 28): clicks six orange points on the left and six blue
ones on the right, undoes one, trains on them and sees the decision boundary split the plane."""
from __future__ import annotations

import re

import pytest

from tests.e2e.ui import idle, pick_data_set

pytestmark = pytest.mark.e2e
CHART = '[role="dialog"] [data-testid="stVegaLiteChart"] svg.marks'


def shown(drawn: int) -> str:
    """A JS predicate: the drawing shows `drawn` points (Vega has drawn the chart of that state)."""
    return f"""() => {{ const c = document.querySelector('{CHART}');
        return !!c && c.querySelectorAll('g.mark-symbol.role-mark path').length === {drawn}; }}"""


def click_at(page, fx: float, fy: float, drawn: int) -> None:
    """Click the drawing at fractions (fx, fy) of its plot (0, 0: top left) and wait until it shows the
    new point. Each click remounts the chart (so the same spot can be clicked again): a click in the
    moment before Streamlit listens to the new chart is lost, and is made again."""
    page.wait_for_function(shown(drawn), timeout=30_000)
    idle(page)
    for attempt in range(3):
        box = page.locator(CHART).first.bounding_box()
        page.mouse.move(2, 2)
        page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
        try:
            page.wait_for_function(shown(drawn + 1), timeout=15_000)
            idle(page)
            return
        except Exception:
            if attempt == 2 or page.evaluate(shown(drawn + 1)) or not page.evaluate(shown(drawn)):
                raise


def test_draw_points_train_on_them_and_see_the_boundary(page, shots):
    pick_data_set(page, "Draw your own")
    page.get_by_text("Draw at least 10 points of both classes").wait_for(timeout=30_000)
    page.get_by_role("button", name="Draw points").click()
    page.locator(CHART).first.wait_for(timeout=30_000)
    for k in range(6):
        click_at(page, 0.25 + 0.04 * (k % 2), 0.2 + 0.12 * k, drawn=k)
    page.get_by_text("6 orange, 0 blue").wait_for(timeout=10_000)
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("blue", exact=True).first.click()
    dialog.get_by_role("radio", name="blue").wait_for(state="attached")
    page.wait_for_function("() => [...document.querySelectorAll('[role=dialog] input[type=radio]')]"
                           ".some(r => r.checked && r.closest('label').innerText.trim() === 'blue')", timeout=30_000)
    idle(page)
    for k in range(7):
        click_at(page, 0.72 + 0.04 * (k % 2), 0.2 + 0.1 * k, drawn=6 + k)
    page.get_by_text("6 orange, 7 blue").wait_for(timeout=10_000)
    dialog.get_by_role("button", name="Undo").click()
    page.wait_for_function(shown(12), timeout=30_000)
    page.get_by_text("6 orange, 6 blue").wait_for(timeout=10_000)
    shots(page, "drawn")
    dialog.get_by_role("button", name="Use them").click()
    page.get_by_role("dialog").wait_for(state="detached", timeout=30_000)
    page.get_by_text(re.compile(r"input 2 features · 2 classes · 10 train / 2 validation")).wait_for(timeout=30_000)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(re.compile(r"^finished 100 epochs")).wait_for(timeout=90_000)
    idle(page)
    assert page.locator('[data-testid="stImage"] img').count() >= 1, "no decision boundary drawn"
    shots(page, "trained")
