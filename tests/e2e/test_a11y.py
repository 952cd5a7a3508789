"""Everyone in the class can read it (issue 32): axe-core (bundled by axe-playwright-python) on every page,
each with a run of its kind shown, finds no serious or critical violation. The runs are trained into the
server's store before it starts, as one student's; the report of every page goes to
artifacts/e2e/a11y.json (look at it when this fails: each violation with the elements it names)."""
from __future__ import annotations

import json
import re

import pytest

from playground.config import load_config
from tests.e2e.harness import ARTIFACTS, ROOT, Server
from tests.e2e.ui import go, idle, rerun
from tests.tokens import token

pytestmark = pytest.mark.e2e
ME = token("a11y-student")
# the run each page shows: an example config, trained for a few epochs
RUNS = {"cnn": ("shapes_cnn.json", 2), "transformer": ("attention_reverse_1head.yaml", 2),
        "autoencoder": ("mnist_autoencoder.yaml", 1), "table": ("two_of_ten_mlp.yaml", 3),
        "points": ("spiral_mlp.yaml", 5)}
PAGES = [("Build & Train", "points", "Start training"), ("Compare", "points", "Compare"),
         ("Optimizer race", "points", "Optimizer race"), ("Runs", "points", "Runs"),
         ("Evaluate", "cnn", "Confusion matrix"), ("Filters & feature maps", "cnn", "One input through the network"),
         ("Layer statistics", "cnn", "Layer statistics"), ("Attention", "transformer", "The numbers behind one weight"),
         ("Latent space", "autoencoder", "Latent space"), ("Explain", "cnn", "The network says"),
         ("Explain", "table", "Two inputs, the others held at their mean"), ("Lessons", "points", "Lessons"),
         ("Class board", "points", "Class board")]
SERIOUS = ("serious", "critical")


@pytest.fixture(scope="module")
def a11y_server(tmp_path_factory):
    from playground.store import Store
    from playground.train.registry import Registry

    home = tmp_path_factory.mktemp("a11y-store")
    reg = Registry(max_active=1, processes=False, store=Store(home))
    names = {}
    for kind, (file, epochs) in RUNS.items():
        cfg = load_config(ROOT / "examples" / file)
        cfg.epochs, cfg.name = epochs, f"a11y {kind}"
        run = reg.start(cfg, owner=ME)
        assert run.join(300) and run.history.status == "finished", run.history.message
        names[kind] = cfg.name
    assert reg.flush()
    reg.stop_all()
    srv = Server(home, name="streamlit-a11y")
    srv.start()
    yield srv, names
    srv.stop()


def show_run(page, name: str) -> None:
    """Pick the run `name` under the sidebar's Run shown (unless it is shown)."""
    box = page.get_by_role("combobox", name="Run shown")
    if name in box.input_value():
        return
    box.click()
    rerun(page, lambda: page.get_by_role("option", name=re.compile(re.escape(name))).first.click(), f"{name} shown")


def audit(page) -> list[dict]:
    """axe-core's serious and critical violations on the page as it is now: rule, impact, help, and the
    first few elements (selector, html) each names."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [{"rule": v["id"], "impact": v["impact"], "help": v["help"], "count": len(v["nodes"]),
             "nodes": [{"target": n["target"], "html": n["html"][:200]} for n in v["nodes"][:5]]}
            for v in found if v["impact"] in SERIOUS]


def test_every_page_with_a_run_of_its_kind_has_no_serious_accessibility_violation(a11y_server, browser, shots):
    from tests.e2e.harness import open_page

    srv, names = a11y_server
    page, ctx, errors = open_page(browser, f"{srv.url}/?me={ME}")
    report = {}
    try:
        for title, kind, ready in PAGES:
            go(page, title, page.get_by_role("heading", name=title, level=1).first)
            show_run(page, names[kind])
            page.get_by_text(ready).first.wait_for(timeout=60_000)
            idle(page)
            page.wait_for_timeout(500)
            report[f"{title} ({kind})"] = audit(page)
            shots(page, title.replace(" ", "-").replace("&", "and"))
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "a11y.json").write_text(json.dumps(report, indent=1))
        ctx.close()
    table = {p: sum(v["count"] for v in vs) for p, vs in report.items()}
    assert not any(table.values()), f"serious/critical violations per page: {table}; see artifacts/e2e/a11y.json"
    assert not errors, errors


def tab_to(page, test: str, what: str, limit: int = 250) -> int:
    """Press Tab until the focused element passes the JS predicate `test` (on `el`); the presses it took."""
    for n in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => {{ const el = document.activeElement; return !!el && ({test}); }}"):
            return n
    raise AssertionError(f"{what} not reached with {limit} presses of Tab")


def focus_named(name: str) -> str:
    """A predicate: the focused element is named `name` (its label, text or aria-label)."""
    n = json.dumps(name)
    return (f"(el.getAttribute('aria-label') || '').includes({n}) "
            f"|| (el.innerText || '').split('\\n').map(t => t.trim()).includes({n}) "     # after an icon's line
            f"|| (el.labels && [...el.labels].some(l => l.innerText.includes({n})))")


def test_the_keyboard_alone_reaches_start_the_data_set_every_page_and_the_latent_point_panel(a11y_server, browser,
                                                                                           shots):
    from tests.e2e.harness import open_page

    srv, names = a11y_server
    page, ctx, errors = open_page(browser, f"{srv.url}/?me={ME}")
    try:
        presses = {"Data set": tab_to(page, focus_named("Data set"), "the data set")}     # from the page's top
        presses["Start training"] = tab_to(page, focus_named("Start training"), "Start training")
        for title, _, _ in PAGES[1:]:
            page.reload()                                      # Tab from the top of the page again
            page.get_by_role("heading", level=1).first.wait_for(timeout=60_000)
            presses[title] = tab_to(page, f"el.tagName === 'A' && {focus_named(title)}", f"the link to {title}")
            page.keyboard.press("Enter")
            page.get_by_role("heading", name=title, level=1).first.wait_for(timeout=60_000)
            idle(page)
        go(page, "Latent space", page.get_by_role("heading", name="Latent space", level=1).first)
        show_run(page, names["autoencoder"])
        page.get_by_text("Example (0 to").first.wait_for(timeout=60_000)
        page.get_by_role("heading", name="Latent space", level=1).first.click()     # Tab on from the title
        presses["Latent's example box"] = tab_to(page, f"el.tagName === 'INPUT' && ({focus_named('Example (0 to')})",
                                                 "the example box")
        page.keyboard.type("7")
        rerun(page, lambda: page.keyboard.press("Enter"), "example 7 chosen")
        page.get_by_text(re.compile(r"^Example 7 · label ")).first.wait_for(timeout=30_000)
        shots(page, "latent-by-keyboard")
        print("Tab presses to reach each:", presses)
        root = "() => getComputedStyle(document.documentElement).fontSize"
        assert page.evaluate(root) == "16px"
        rerun(page, page.get_by_test_id("stCheckbox").filter(has_text="Large type").click, "large type on")
        assert page.evaluate(root) == "21px", "Large type did not enlarge the page"
    finally:
        ctx.close()
    assert not errors, errors
