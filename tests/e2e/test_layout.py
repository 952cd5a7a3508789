"""Issue 25 item 9, what a teacher saw cut or wrapped in a browser, measured in one: whole words in
boxes, buttons and headers, charts inside the page. The window is a laptop's, 1280 px wide (the
harness's 1500 hides some of it). The runs are trained straight into the server's store. The words
half of the issue (item 8) is checked with AppTest in tests/app/test_words.py."""
from __future__ import annotations

import re

import pytest

from tests.e2e.test_afternoon import example, train_into
from tests.e2e.ui import choose, go, idle, watch
from tests.tokens import token

pytestmark = pytest.mark.e2e
WIDTH = 1280

# The words of `root` that the browser broke across two lines inside the word ("param|s",
# "triang|le"); a break after a hyphen, slash or arrow is a line break a reader expects.
BROKEN_WORDS = """root => {
  const out = [], walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n; (n = walker.nextNode());) {
    for (const m of n.textContent.matchAll(/[^\\s\\-/→]{2,}/g)) {
      const r = document.createRange();
      r.setStart(n, m.index);
      r.setEnd(n, m.index + m[0].length);
      const tops = new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top)));
      if (tops.size > 1) out.push(m[0]);
    }
  }
  return out;
}"""
# The elements under `root` (itself included) whose text is wider than they are: cut off, or "…".
CUT = """root => [root, ...root.querySelectorAll('*')]
  .filter(e => e.scrollWidth > e.clientWidth + 1 && (e.value || e.textContent).trim())
  .map(e => (e.value || e.textContent).trim())"""


@pytest.fixture(scope="module")
def shapes_run(server):
    """A small CNN on shapes (Conv2d, BatchNorm, MaxPool2d, Flatten; classes square ... triangle)."""
    return train_into(server, token("lay25"), example("shapes_cnn.json", epochs=2, data={"max_train": 300}))


@pytest.fixture
def student(browser, app_url, shapes_run):
    """student(token): Build & Train as browser `token` (lay25 owns shapes_run), in a 1280 px window;
    JS errors fail the test."""
    opened = []

    def open_as(name: str = "lay25"):
        ctx = browser.new_context(viewport={"width": WIDTH, "height": 1900})
        page = ctx.new_page()
        watch(page)
        page.set_default_timeout(30_000)
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        opened.append((ctx, errors))
        page.goto(f"{app_url}/?me={token(name)}")
        page.get_by_role("button", name="Start training").wait_for(timeout=60_000)
        page.get_by_text("params", exact=True).wait_for()            # the layer editor has been drawn
        return page
    yield open_as
    for ctx, errors in opened:
        ctx.close()
        assert not errors, f"JavaScript errors in the page: {errors}"


def test_the_layer_editor_shows_whole_type_names_and_one_line_headers(student, shots):
    """9a, 9b: type boxes cut to "MaxPo", "Flatte"; the "params" header wrapped to "param s"."""
    page = student("lay25e")                                         # a form of its own: no run needed
    choose(page, "Data set", "Digits 8x8 (sklearn)")                 # its network: the Small CNN preset
    page.get_by_text("1x8x8 (CxHxW)").first.wait_for()
    page.get_by_role("combobox", name="New layer").click()
    page.keyboard.type("PositionalEnc")                              # the longest type name there is
    page.get_by_role("option", name="PositionalEncoding", exact=True).click()
    page.get_by_role("button", name="Add layer").click()
    page.get_by_text("✗ refused").wait_for()                         # drawn (it does not fit a CNN: refused)
    shots(page, "layer-editor")
    boxes = page.get_by_role("combobox", name="type")
    names = [b.input_value() for b in boxes.all()]
    assert {"MaxPool2d", "Flatten", "PositionalEncoding"} <= set(names), names
    assert boxes.evaluate_all("els => els.filter(e => e.scrollWidth > e.clientWidth).map(e => e.value)") == []
    network = page.locator('[data-testid="stColumn"]').filter(has=page.get_by_role("heading", name="2 · Network")).last
    assert network.evaluate(BROKEN_WORDS) == []                      # the headers, and numbers like 1,168


def test_the_play_button_says_play(student, shots):
    """9d: the epoch scrubber's Play button cut to "P…" (a tenth of Evaluate's narrow row)."""
    page = student()
    go(page, "Evaluate", page.get_by_text("Most confidently wrong"))
    play = page.get_by_role("button", name="Play")
    play.wait_for()
    shots(page, "evaluate")
    text = play.locator('[data-testid="stMarkdownContainer"]')        # the word (the icon is a span beside it)
    assert text.inner_text() == "Play"
    assert text.evaluate(CUT) == [], text.evaluate(CUT)


def test_the_histograms_fit_the_page(student, shots):
    """9c: the fourth column of Layer statistics' histograms was cut off at the right."""
    page = student()
    go(page, "Layer statistics", page.get_by_role("tab", name="Distributions"))
    page.get_by_role("tab", name="Distributions").click()
    panel = page.get_by_role("tabpanel", name="Distributions")
    charts = panel.locator('[data-testid="stVegaLiteChart"]')
    charts.nth(8).locator("canvas, svg").first.wait_for()             # nine layers, nine histograms
    idle(page)                                                        # laid out: no rerun left to move them
    shots(page, "histograms")
    right = panel.bounding_box()["x"] + panel.bounding_box()["width"]
    drawn = [c.locator("canvas, svg").first.bounding_box() for c in charts.all()]
    assert len(drawn) == 9
    assert all(d["x"] + d["width"] <= right + 1 for d in drawn), (right, drawn)
    assert all(d["height"] >= 120 for d in drawn), drawn                 # each plot its own height, not squashed
    assert len({round(d["y"]) for d in drawn}) == 3                   # four, four and one


def test_the_top_examples_captions_break_between_words(student, shots):
    """9b: "triang le" under the examples that excite a filter most (true→predicted made one long word)."""
    page = student()
    go(page, "Filters & feature maps", page.get_by_role("heading", name="What makes a filter fire"))
    captions = page.locator("figure figcaption").filter(has_text=re.compile(r"^#\d+ · "))
    captions.first.wait_for()
    captions.last.scroll_into_view_if_needed()
    shots(page, "top-examples")
    assert captions.count() == 9
    assert [w for c in captions.all() for w in c.evaluate(BROKEN_WORDS)] == []


def test_every_slider_on_build_and_train_has_a_visible_label(student, shots):
    """9e: an unlabelled slider (the loss smoothing) under the live panel's metrics."""
    page = student()
    page.get_by_text("Training loss per step (faint: raw, bold: smoothed)").wait_for()     # the live panel
    idle(page)
    page.get_by_text("Training loss per step (faint: raw, bold: smoothed)").scroll_into_view_if_needed()
    shots(page, "live-panel")
    sliders = [s for s in page.locator('[data-testid="stMain"] [data-testid="stSlider"]').all() if s.is_visible()]
    assert len(sliders) >= 4                                          # not those in a closed expander
    labels = [s.locator('[data-testid="stWidgetLabel"]') for s in sliders]
    assert [label.inner_text().strip() if label.is_visible() else "" for label in labels].count("") == 0, \
        [label.inner_text() for label in labels]
