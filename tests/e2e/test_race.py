"""A student in a browser: open the optimizer race, step through it, see the paths and the loss."""
from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.e2e


def step_shown(page) -> str:
    box = page.locator('[data-testid="stSlider"]').filter(has_text="Step").last
    return box.locator('[data-testid="stSliderThumbValue"]').inner_text()


def wait_for_step_shown(page, value: str, timeout: float = 20.0) -> None:
    """The page reruns after a click; on a busy machine that takes a while (no fixed sleep)."""
    t0 = time.time()
    while step_shown(page) != value:
        assert time.time() - t0 < timeout, \
            f"the step slider shows {step_shown(page)}, not {value}, after {timeout:.0f} s"
        time.sleep(0.05)


def test_race_steps_through(page, shot):
    page.get_by_role("link", name="Optimizer race").click()
    plots = page.locator('[data-testid="stPlotlyChart"]')
    plots.nth(1).wait_for()
    assert plots.count() == 2                              # contour with paths, loss against step
    plots.nth(1).locator(".main-svg").first.wait_for()      # drawn, for the picture
    shot("race")
    page.get_by_role("button").filter(has_text="first_page").first.click()
    wait_for_step_shown(page, "0")
    page.get_by_role("button").filter(has_text="navigate_next").first.click()
    wait_for_step_shown(page, "1")
    shot("race-step-1")
