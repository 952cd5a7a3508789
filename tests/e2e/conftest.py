"""Browser end-to-end fixtures: `streamlit run app.py` on a free port, driven by Playwright+Chromium.

Screenshots of every step go to artifacts/e2e/ (look at them). Chromium: Debian's /usr/bin/chromium,
else Playwright's own download. Without either the tests are skipped with the reason, except under
CI=true, where a missing browser is a failure.
"""
from __future__ import annotations

import glob
import os
import shutil
from pathlib import Path

import pytest

from tests.e2e.harness import ARTIFACTS, Server, open_page

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def find_chromium() -> str | None:
    for path in (os.environ.get("PLAYWRIGHT_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser",
                 shutil.which("chromium")):
        if path and os.path.exists(path):
            return path
    found = glob.glob(os.path.expanduser("~/.cache/ms-playwright/chromium*/chrome-linux*/chrome"))
    return found[0] if found else None


CHROMIUM = find_chromium()
if CHROMIUM is None and os.environ.get("CI"):
    raise RuntimeError("no Chromium for the browser tests: run scripts/ensure-browser.sh (apt-get install chromium)")


def pytest_collection_modifyitems(items):
    if CHROMIUM is None:
        mark = pytest.mark.skip(reason="no Chromium found: apt-get install chromium, or playwright install chromium")
        for item in items:
            if "e2e" in str(item.fspath):
                item.add_marker(mark)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("store"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def app_url(server):
    return server.url


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def stop_left_running(pg) -> None:
    """A test that failed half-way leaves its run training; stop it so that it does not slow the
    next tests on the same server (best effort: the page may be anywhere)."""
    for name in ("Stop", "Stop all"):
        try:
            button = pg.get_by_role("button", name=name, exact=True)
            if button.count() and button.first.is_visible() and button.first.is_enabled():
                button.first.click()
                pg.wait_for_timeout(1000)
        except Exception:
            pass


@pytest.fixture
def page(browser, app_url):
    pg, ctx, errors = open_page(browser, app_url)
    yield pg
    stop_left_running(pg)
    ctx.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


@pytest.fixture
def shots(request):
    """shots(page, "name") saves artifacts/e2e/<test>-<n>-<name>.png of that page, in full."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    count = [0]

    def take(pg, name: str) -> Path:
        count[0] += 1
        path = ARTIFACTS / f"{request.node.name}-{count[0]}-{name}.png"
        pg.screenshot(path=str(path), full_page=True)
        return path
    return take


@pytest.fixture
def shot(page, shots):
    """shot("name"): shots() of the test's page."""
    return lambda name: shots(page, name)
