"""Browser end-to-end fixtures: `streamlit run app.py` on a free port, driven by Playwright+Chromium.

Screenshots of every step go to artifacts/e2e/ (look at them). Chromium: Debian's /usr/bin/chromium,
else Playwright's own download. Without either the tests are skipped with the reason, except under
CI=true, where a missing browser is a failure.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "e2e"
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url():
    port = _free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}; see {log.name}")
    else:
        proc.kill()
        raise RuntimeError("streamlit did not answer /_stcore/health within 90 s")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    ctx = browser.new_context(viewport={"width": 1500, "height": 1900})
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(app_url)
    pg.get_by_role("button", name="Start training").wait_for()
    pg.get_by_text("parameters").first.wait_for()          # the layer table has been drawn
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


@pytest.fixture
def shot(page, request):
    """shot("name") saves artifacts/e2e/<test>-<n>-<name>.png of the full page."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    count = [0]

    def take(name: str) -> Path:
        count[0] += 1
        path = ARTIFACTS / f"{request.node.name}-{count[0]}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
    return take
