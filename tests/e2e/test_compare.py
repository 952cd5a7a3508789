"""A teacher in a browser: race a preset, watch the variants' curves appear and separate, stop one."""
from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.e2e


def summary(page) -> str:
    return page.locator('[data-testid="stDataFrame"]').last.inner_text()


def test_race_preset_then_stop_one(page, shot):
    page.get_by_role("link", name="Compare").click()
    page.get_by_role("button", name="Race", exact=True).wait_for()
    shot("compare-opened")
    page.get_by_role("button", name="SGD vs Momentum vs RMSprop vs Adam vs AdamW").click()
    page.get_by_role("button", name="Stop SGD", exact=True).wait_for(timeout=30_000)
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.wait_for()
    time.sleep(2.0)
    shot("racing")
    page.get_by_role("button", name="Stop Adam", exact=True).click()
    deadline = time.time() + 60
    while time.time() < deadline:
        page.locator('[data-testid="stDataFrame"]').last.wait_for()
        if page.get_by_text("stopped").count() or "stopped" in page.content():
            break
        time.sleep(0.5)
    # Let the others finish: five variants of a 15-epoch digits MLP.
    page.get_by_role("button", name="Stop all").wait_for()
    deadline = time.time() + 120
    while time.time() < deadline and page.get_by_role("button", name="Stop all").is_enabled():
        time.sleep(1)
    page.wait_for_timeout(1500)
    shot("finished")
    content = page.content()
    assert "stopped" in content, "the stopped variant is not marked stopped"
    assert content.count("finished") >= 3, "the other variants did not carry on to the end"
