"""A student trains the shapes CNN from the Explain page, sees four methods side by side, scrubs to the
initial weights and back, follows one input over training, runs the trust checks (the pointing game on
objects at known places); then trains the two-of-ten table and reads SHAP's ranking. A second student
on another page is not disturbed."""
from __future__ import annotations

import re

import pytest

from tests.e2e.harness import open_page
from tests.e2e.ui import go, idle

pytestmark = pytest.mark.e2e


def test_explain_a_shapes_cnn_check_its_maps_and_read_shap_on_a_table(page, shots, browser, app_url):
    go(page, "Explain", page.get_by_role("button", name=re.compile("Shapes CNN")))
    page.get_by_role("button", name=re.compile("Shapes CNN")).click()
    page.get_by_text("The network says").wait_for(timeout=60_000)
    page.get_by_text(re.compile(r"finished · 4/4 epochs")).wait_for(timeout=60_000)
    page.get_by_text("epoch 4").first.wait_for(timeout=30_000)
    for name in ("Grad-CAM", "Saliency", "Integrated Gradients", "GradientShap"):
        page.get_by_text(name, exact=True).first.wait_for(timeout=30_000)
    # IG and SHAP say how far their values miss what they should add up to
    gap = page.get_by_text(re.compile(r"^sum -?[\d.]+ vs -?[\d.]+, gap [\d.]+%$")).first
    gap.wait_for(timeout=30_000)
    assert float(re.search(r"gap ([\d.]+)%", gap.inner_text()).group(1)) < 5
    # four maps, five epochs in the strip (drawn after the maps: wait for them)
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stImage\"] img').length >= 4 + 5",
                           timeout=30_000)
    shots(page, "trained")
    # the initial weights: the network is unsure, and says so
    said = "() => (document.body.innerText.match(/The network says \\w+ with p = [\\d.]+/) || [''])[0]"
    trained = page.evaluate(said)
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Epoch").first.get_by_role("slider")
    slider.press("Home")
    page.wait_for_function(f"(before) => ({said})() !== before", arg=trained, timeout=30_000)
    untrained = page.evaluate(said)
    p = [float(re.search(r"p = ([\d.]+)", t).group(1)) for t in (untrained, trained)]
    print(f"epoch 0: {untrained}; epoch 4: {trained}")
    assert p[0] < p[1]
    idle(page)                                          # the maps of epoch 0 drawn too, for the picture
    shots(page, "epoch-0")
    slider.press("End")
    page.wait_for_function(f"(before) => ({said})() === before", arg=trained, timeout=30_000)
    # one colour scale over training
    page.get_by_text("One colour scale for all epochs", exact=True).click()
    page.get_by_text(re.compile(r"^One colour scale across all epochs")).wait_for(timeout=30_000)
    # the trust checks stream in; Grad-CAM points at the objects
    page.get_by_role("button", name="Run the trust checks").click()
    page.get_by_text(re.compile(r"^Trust checks of Grad-CAM at epoch 4")).wait_for(timeout=120_000)
    pointing = page.get_by_text(re.compile(r"the map's peak is on the object")).first
    rate, chance = (float(v) for v in re.search(r"in (\d+)% of 200 images .* would score (\d+)%",
                                                  pointing.inner_text()).groups())
    print(f"pointing game: {rate}% vs random {chance}%")
    assert rate >= 80 and rate >= 2 * chance
    page.get_by_text(re.compile(r"with every layer re-initialised the map's rank correlation")).wait_for()
    page.locator('[data-testid="stPlotlyChart"]').nth(1).wait_for()             # randomisation and deletion charts
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 2           # (drawn just after their text)
    shots(page, "trust")
    # a second student, elsewhere, is not disturbed by the first one's checks
    other, ctx, errors = open_page(browser, app_url)
    try:
        go(other, "Runs", other.get_by_text("Runs").first)
        assert not other.locator('[data-testid="stException"]').count() and not errors
    finally:
        ctx.close()
    # a table: SHAP ranks the two features that decide the label first
    page.get_by_text("Train a network to explain").click()
    page.get_by_role("button", name=re.compile("Two of ten")).click()
    page.get_by_text(re.compile(r"^Every validation row")).wait_for(timeout=60_000)
    page.get_by_text(re.compile(r"finished · 15/15 epochs")).wait_for(timeout=60_000)
    page.get_by_text(re.compile(r"^Row 0: why its score for")).wait_for(timeout=30_000)
    idle(page)
    bar = page.locator('[data-testid="stPlotlyChart"]').nth(1)
    bar.locator(".ytick text").nth(9).wait_for(timeout=30_000)         # ten features ranked
    ticks = [t.strip() for t in bar.locator(".ytick text").all_text_contents()]
    print("SHAP ranking, bottom to top:", ticks)
    assert set(ticks[-2:]) == {"f3", "f8"}, ticks
    page.get_by_text(re.compile(r"^Row 0: why its score for")).wait_for()
    shots(page, "table")
    assert not page.locator('[data-testid="stException"]').count()
