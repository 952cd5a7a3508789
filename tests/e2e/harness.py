"""The browser tests' harness: the app served by `streamlit run` with a run store of its own, and
students' browser contexts on it. The fixtures in conftest.py use it; tests that restart a server
use Server directly."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.e2e.ui import watch

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "e2e"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`streamlit run app.py` on a port, with its own run store (PLAYGROUND_HOME); can be killed
    (SIGKILL, as a crash) and started again on the same port and store."""

    # how `make app` starts it (ui/serve.py: `streamlit run app.py`, its imports done while the server starts)
    ENTRY = ("-m", "ui.serve")
    STREAMLIT_RUN = ("-m", "streamlit", "run", "app.py")

    def __init__(self, home: Path, port: int | None = None, name: str = "streamlit", env: dict | None = None,
                 entry: tuple = ENTRY):
        self.home, self.port, self.name, self.env, self.entry = home, port or _free_port(), name, env or {}, entry
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout: float = 90) -> float:
        """Start and wait for /_stcore/health; returns the seconds that took."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        log = open(ARTIFACTS / f"{self.name}-{self.starts}.log", "w")
        t0 = time.time()
        self.proc = subprocess.Popen(
            [sys.executable, *self.entry, "--server.headless", "true", "--server.port",
             str(self.port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PLAYGROUND_HOME": str(self.home), **self.env})
        deadline = t0 + timeout
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(self.url + "/_stcore/health", timeout=2).read().strip() == b"ok":
                    return time.time() - t0
            except OSError:
                time.sleep(0.2)
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}; see {log.name}")
        self.proc.kill()
        raise RuntimeError(f"streamlit did not answer /_stcore/health within {timeout:.0f} s")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a server crashes or its machine is switched off."""
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def open_page(browser, url: str):
    """A new browser context (a student of their own) on the app; (page, context, JS errors)."""
    ctx = browser.new_context(viewport={"width": 1500, "height": 1900})
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    watch(pg)
    pg.goto(url)
    pg.get_by_role("button", name="Start training").wait_for(timeout=60_000)
    pg.get_by_text("parameters").first.wait_for()          # the layer table has been drawn
    return pg, ctx, errors
