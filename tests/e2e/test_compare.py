"""A teacher in a browser: race a preset, watch the variants' curves appear and separate, stop one."""
from __future__ import annotations

import re
import time

import pytest

pytestmark = pytest.mark.e2e


def table_rows(page) -> dict[str, list[str]]:
    """The live summary as {variant: [cell texts]}."""
    rows = {}
    for tr in page.locator('[data-testid="stTable"] tbody tr').all():
        cells = [c.strip() for c in tr.locator("th, td").all_inner_texts()]
        rows[cells[0]] = cells[1:]
    return rows


def summary(page) -> str:
    """The live summary table's text (an st.table: plain HTML)."""
    return page.locator('[data-testid="stTable"]').last.inner_text()


def test_race_preset_then_stop_one(page, shot):
    page.get_by_role("link", name="Compare").click()
    page.get_by_role("button", name="Race", exact=True).wait_for()
    shot("compare-opened")
    t0 = time.time()
    page.get_by_role("button", name="SGD vs Momentum vs RMSprop vs Adam vs AdamW").click()
    page.get_by_role("button", name="Stop SGD", exact=True).wait_for(timeout=90_000)
    # ~5 s on a quiet machine (printed below); the bound catches a hang: five worker processes that
    # import torch at once on 2 cores beside a busy neighbour took past 30 s on CI
    while "starting" in summary(page):
        assert time.time() - t0 < 90, "the variants did not all start within 90 s"
        time.sleep(0.1)
    print(f"all five variants training {time.time() - t0:.1f} s after the preset click")
    page.get_by_role("button", name="Stop Adam", exact=True).click()
    deadline = time.time() + 30
    while "stopped" not in summary(page):
        assert time.time() < deadline, "Stop Adam did not stop it within 30 s"
        time.sleep(0.2)
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
    shot("racing")
    # The page keeps responding while five variants train: switch the x axis, time the answer.
    t0 = time.time()
    page.get_by_text("epoch", exact=True).first.click()
    page.locator('[data-testid="stRadio"] input[type="radio"]').nth(1).wait_for(state="attached")
    while not page.locator('[data-testid="stRadio"] input[type="radio"]').nth(1).is_checked():
        assert time.time() - t0 < 20, "the x-axis switch did not answer within 20 s"
        time.sleep(0.05)
    print(f"x-axis switch answered in {time.time() - t0:.2f} s while racing")
    # ... and the summary keeps updating (the page polls twice a second).
    first = summary(page)
    deadline = time.time() + 3
    while summary(page) == first and time.time() < deadline:
        time.sleep(0.1)
    assert summary(page) != first, "the live summary did not change within 3 s"
    # Let the others finish: five variants of a 20-epoch MNIST MLP.
    page.get_by_role("button", name="Stop all").wait_for()
    deadline = time.time() + 120
    while time.time() < deadline and page.get_by_role("button", name="Stop all").is_enabled():
        time.sleep(1)
    rows = table_rows(page)
    while any(cells[0] not in ("finished", "stopped") for cells in rows.values()):   # the last poll drawn
        assert time.time() < deadline, f"the race did not end within 120 s: {rows}"
        time.sleep(0.2)
        rows = table_rows(page)
    shot("finished")
    assert rows["Adam"][0] == "stopped", rows
    for name in ("SGD", "Momentum", "RMSprop", "AdamW"):
        assert rows[name][0] == "finished", f"{name} did not carry on to the end: {rows[name]}"
    # The curves separate: plain SGD needs far more steps to bring its loss to 0.5 (or never does).
    steps = {n: rows[n][5] for n in ("SGD", "Momentum", "RMSprop", "AdamW")}
    fastest = min(int(v.replace(",", "")) for n, v in steps.items() if n != "SGD")
    assert steps["SGD"] == "–" or int(steps["SGD"].replace(",", "")) > 2 * fastest, steps


def test_a_race_over_three_seeds_shows_bands_a_table_and_a_verdict(page, shot):
    """The learning-rate preset (too low / about right / too high) with 3 seeds: 9 runs, two seeds' races at
    once and the third in line; then the bands, the finals table with mean ± std over the seeds, and the
    paired verdicts in words."""
    page.get_by_role("link", name="Compare").click()
    page.get_by_role("button", name="Race", exact=True).wait_for()
    page.get_by_role("button", name="Learning rate too low / right / too high").click()
    page.get_by_role("button", name="Stop all").wait_for()
    deadline = time.time() + 180                        # let the first race end before the seeded one starts
    while page.get_by_role("button", name="Stop all").is_enabled():
        assert time.time() < deadline, "the preset's race did not end within 180 s"
        time.sleep(0.5)
    seeds = page.get_by_label("Seeds", exact=True)
    seeds.fill("3")
    seeds.press("Enter")
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Race", exact=True).click()
    page.get_by_text(re.compile(r"3 variants x 3 seeds \(0, 1, 2\)")).wait_for(timeout=60_000)
    deadline = time.time() + 240
    while not page.get_by_text(re.compile(r"9 of 9 runs ended")).count():
        assert time.time() < deadline, "the 9 runs did not end within 240 s"
        time.sleep(0.5)
    page.get_by_text("lr 0.1 (about right) is better than lr 0.001 (too low)").wait_for(timeout=30_000)
    rows = table_rows(page)
    assert set(rows) == {"lr 0.001 (too low)", "lr 0.1 (about right)", "lr 20 (too high)"}, rows
    assert rows["lr 0.001 (too low)"][0] == "3 of 3" and rows["lr 0.001 (too low)"][-1] == "reference"
    assert " ± " in rows["lr 0.1 (about right)"][1], rows
    assert rows["lr 0.1 (about right)"][-1].startswith("better: +"), rows
    assert rows["lr 20 (too high)"][0] == "0 of 3 (3 diverged)", rows
    page.get_by_text(re.compile(r"It diverged in 3 of 3 seeds \(no final value\)\.$")).wait_for()
    words = page.get_by_text(re.compile(r"^lr 0.1 \(about right\) is better than lr 0.001 \(too low\): validation "
                                        r"accuracy \+0\.\d+ on average \(95% interval \+0\.\d+ to \+0\.\d+\), better "
                                        r"in 3 of 3 seeds\.$"))
    assert words.count() == 1
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.wait_for()
    described = chart.get_attribute("aria-label") or chart.inner_html()
    assert "mean over the seeds" in described, described[:300]
    page.get_by_text("each seed", exact=True).click()
    shot("seeds")
