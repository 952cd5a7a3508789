"""What a student waits for in the browser, timed: the rows of `python -m playground bench` that need a
server and a browser. Not a test: it prints figures (and writes them as JSON with --out).

    .venv/bin/python scripts/wait_times.py               # 3 cold starts, then the warm-server rows
    .venv/bin/python scripts/wait_times.py --repeats 5 --out artifacts/wait_times.json

Rows, each from the server's start or the click, to the page's own content drawn and the app idle:
- cold start: the server started as `make app` does (python -m ui.serve; --streamlit-run: as `streamlit
  run app.py`) -> Build & Train interactive (its Start button and its layer
  table drawn) in a browser that was already open, as in a class; split at /_stcore/health (the server
  answers) and the first script run (PLAYGROUND_PAGE_LOG: the server's own time for the page);
- the first student's first point after Start, pressed as soon as a fresh server's first page is
  interactive: its training workers are still starting (they wait 2 s after that page, or its first click);
- a second student opening the app on the warm server while one run trains -> page interactive;
- that student's first point after Start (the live progress shows step 1 or more);
- the share of time the first student's browser spends on its live panel's redraws (Chromium's busy main
  thread: what a neighbouring page on the same cores then lacks);
- page switches (Build & Train -> Runs -> Build & Train) while two runs train, each until the page's
  own content is drawn;
- then, the two runs still training: Explain's and Filters' epoch scrubber moved to the first and back to
  the last epoch of a shapes CNN (trained from Explain's own button), each until the page is redrawn;
  Explain's trust checks of Grad-CAM, from the click to the last check drawn.
The browser shares this machine's cores with the server, as in the browser tests.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e.conftest import CHROMIUM, FLAGS  # noqa: E402
from tests.e2e.harness import ARTIFACTS, Server  # noqa: E402
from tests.e2e.ui import idle, progress_step, rerun  # noqa: E402

EPOCHS = 100_000                  # the trained runs last as long as the measurement


def interactive(page, timeout: float = 120.0) -> None:
    """Build & Train is usable: its Start button and its layer table are drawn, and no script runs."""
    page.get_by_role("button", name="Start training").wait_for(timeout=timeout * 1000)
    page.get_by_text("parameters").first.wait_for(timeout=timeout * 1000)
    idle(page, timeout)


def first_page_log(path: Path) -> float | None:
    """The server's own seconds for the first whole page it drew (PLAYGROUND_PAGE_LOG's first page line)."""
    if not path.exists():
        return None
    for line in path.read_text().splitlines():
        fields = line.split("\t")
        if fields[1] == "page":
            return float(fields[3])
    return None


def cold_start(browser, home: Path, log: Path, entry: tuple) -> dict:
    """One server started from nothing; the browser (open already) loads the app as soon as it answers."""
    log.unlink(missing_ok=True)
    server = Server(home, name="wait-times", env={"PLAYGROUND_PAGE_LOG": str(log)}, entry=entry)
    ctx = browser.new_context(viewport={"width": 1500, "height": 1900})
    page = ctx.new_page()
    try:
        t0 = time.perf_counter()
        health = server.start()
        page.goto(server.url)
        interactive(page)
        total = time.perf_counter() - t0
        return {"health_s": health, "interactive_s": total, "server_first_page_s": first_page_log(log)}
    finally:
        ctx.close()
        server.stop()


def start_run(page, epochs: int = EPOCHS) -> float:
    """Set the epochs high, press Start; the seconds until the live progress shows a step."""
    box = page.get_by_label("Epochs", exact=True)
    box.fill(str(epochs))
    box.press("Enter")
    idle(page)
    t0 = time.perf_counter()
    page.get_by_role("button", name="Start training").click()
    while progress_step(page) < 1:
        if time.perf_counter() - t0 > 60:
            raise RuntimeError("no training step shown within 60 s of Start")
        time.sleep(0.02)
    return time.perf_counter() - t0


def switch(page, link: str, ready) -> float:
    t0 = time.perf_counter()
    page.get_by_role("link", name=link, exact=True).click()
    ready.wait_for(timeout=60_000)
    return time.perf_counter() - t0


def scrub(page, title: str, times: dict) -> None:
    """Move the page's epoch slider to the first epoch and back to the last, timing each redraw: from the
    key press until the rerun it starts has ended and the page is idle (a press that reached no slider,
    one redrawn under it, is pressed again and counted from the first). A press that moved the slider
    but whose rerun the page never showed as running (the browser drew its start and end at once) has
    no time to count: it is left out."""
    for key in ("Home", "End"):
        slider = page.locator('[data-testid="stSlider"]').filter(has_text="Epoch").first.get_by_role("slider")
        idle(page, 120)
        t0 = time.perf_counter()
        for _ in range(10):
            try:
                rerun(page, lambda: slider.press(key), f"{title}: epoch slider {key}", timeout=5)
                break
            except AssertionError:
                if slider.input_value() == slider.get_attribute("min" if key == "Home" else "max"):   # a range input
                    t0 = None
                    break
        else:
            page.screenshot(path=str(ARTIFACTS / f"wait-times-{title}-{key}.png"), full_page=True)
            raise RuntimeError(f"{title}: the epoch slider did not move on {key}")
        if t0 is not None:
            times.setdefault(title, []).append(time.perf_counter() - t0)


def inspection(page) -> tuple[dict, float]:
    """A shapes CNN trained from Explain's button; its scrubbers on Explain and Filters, and the trust checks."""
    page.get_by_role("link", name="Explain", exact=True).click()
    page.get_by_role("button", name=re.compile("Shapes CNN")).click()
    page.get_by_text(re.compile(r"finished · \d+/\d+ epochs")).wait_for(timeout=180_000)
    page.get_by_text("The network says").wait_for(timeout=60_000)
    times: dict = {}
    for _ in range(2):
        scrub(page, "Explain", times)
    t0 = time.perf_counter()
    page.get_by_role("button", name="Run the trust checks").click()
    page.get_by_text(re.compile(r"^Trust checks of Grad-CAM at epoch")).wait_for(timeout=300_000)
    trust = time.perf_counter() - t0
    page.get_by_role("link", name="Filters & feature maps", exact=True).click()
    page.get_by_role("heading", name="Filters & feature maps").first.wait_for(timeout=60_000)
    for _ in range(2):
        scrub(page, "Filters", times)
    return times, trust


def server_pages(log: Path, since: float) -> list[float]:
    """The server's own seconds for each whole page drawn after `since` (time.time()), from PLAYGROUND_PAGE_LOG."""
    if not log.exists():
        return []
    rows = [line.split("\t") for line in log.read_text().splitlines()]
    return [float(r[3]) for r in rows if r[1] == "page" and float(r[0]) >= since]


def busy_share(ctx, page, seconds: float = 6.0) -> float:
    """The share of `seconds` the page's main thread spent on tasks (Chromium's TaskDuration): what one
    browser watching a live panel spends on its redraws, the core a neighbouring page then lacks."""
    cdp = ctx.new_cdp_session(page)
    cdp.send("Performance.enable")

    def task_s() -> float:
        return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "TaskDuration")
    t0, w0 = task_s(), time.perf_counter()
    time.sleep(seconds)
    share = (task_s() - t0) / (time.perf_counter() - w0)
    cdp.detach()
    return share


def warm_rows(browser, home: Path, switches: int, entry: tuple, log: Path) -> dict:
    """On one warm server: the second student's page and first point while one run trains, then page
    switches while both train."""
    log.unlink(missing_ok=True)
    server = Server(home, name="wait-times-warm", entry=entry, env={"PLAYGROUND_PAGE_LOG": str(log)})
    server.start()
    pages = []
    try:
        for _ in range(2):
            ctx = browser.new_context(viewport={"width": 1500, "height": 1900})
            pages.append((ctx, ctx.new_page()))
        first = pages[0][1]
        first.goto(server.url)
        interactive(first)
        first_point_1 = start_run(first)
        time.sleep(3.0)                                   # the first run is training at full speed
        busy = busy_share(pages[0][0], first)
        second = pages[1][1]
        t0 = time.perf_counter()
        second.goto(server.url)
        interactive(second)
        second_open = time.perf_counter() - t0
        first_point_2 = start_run(second)
        time.sleep(2.0)
        took, since = [], time.time()
        for _ in range(switches):
            took.append(switch(first, "Runs", first.get_by_role("heading", name="Runs").first))
            took.append(switch(first, "Build & Train", first.get_by_text("parameters").first))
        server_switch = server_pages(log, since)
        scrubs, trust = inspection(first)
        for _, pg in pages:
            stop = pg.get_by_role("button", name="Stop")
            if stop.count():
                stop.first.click()
        return {"first_point_first_student_s": first_point_1, "live_panel_busy_share": busy,
                "second_student_open_s": second_open,
                "first_point_second_student_s": first_point_2, "page_switch_s": took,
                "page_switch_server_s": server_switch, "scrub_s": scrubs, "trust_checks_s": trust}
    finally:
        for ctx, _ in pages:
            ctx.close()
        server.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="cold starts (each a new server)")
    ap.add_argument("--switches", type=int, default=5, help="round trips Build & Train -> Runs -> Build & Train")
    ap.add_argument("--streamlit-run", action="store_true",
                    help="start the server as `streamlit run app.py` (every import on the first visit), not as "
                         "`make app` does (python -m ui.serve)")
    ap.add_argument("--cold-only", action="store_true", help="only the cold starts")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if CHROMIUM is None:
        print("no Chromium: run scripts/ensure-browser.sh (apt-get install chromium)", file=sys.stderr)
        return 2
    os.environ.pop("PLAYGROUND_PAGE_LOG", None)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        home, log = Path(tmp) / "home", Path(tmp) / "pages.log"
        entry = Server.STREAMLIT_RUN if args.streamlit_run else Server.ENTRY
        colds = [cold_start(browser, home, log, entry) for _ in range(args.repeats)]
        warm = None if args.cold_only else warm_rows(browser, home, args.switches, entry, log)
        browser.close()
    each = ", ".join(f"{c['interactive_s']:.2f}" for c in colds)
    med = {k: statistics.median(c[k] for c in colds) for k in ("health_s", "interactive_s")}
    server_first = [c["server_first_page_s"] for c in colds if c["server_first_page_s"] is not None]
    print(f"cold start, `{' '.join(entry[1:])}` started -> Build & Train interactive ({args.repeats} starts): median "
          f"{med['interactive_s']:.2f} s (each: {each}); the "
          f"server answered /_stcore/health at {med['health_s']:.2f} s"
          + (f"; its first page took {statistics.median(server_first):.2f} s of server time" if server_first else ""))
    if warm is None:
        return 0
    print(f"first student's first point after Start, pressed as soon as a fresh server's first page is interactive "
          f"(its workers still starting): {warm['first_point_first_student_s']:.2f} s")
    print(f"a browser watching that run's live panel: its main thread busy {warm['live_panel_busy_share']:.0%} of "
          f"the time")
    print(f"second student opens the app while a run trains -> interactive: {warm['second_student_open_s']:.2f} s")
    print(f"that student's first point after Start: {warm['first_point_second_student_s']:.2f} s")
    sw = warm["page_switch_s"]
    print(f"page switch while two runs train ({len(sw)}): median {statistics.median(sw):.2f} s, "
          f"max {max(sw):.2f} s; the server's own time for those pages: median "
          f"{statistics.median(warm['page_switch_server_s'] or [float('nan')]):.2f} s")
    for title, took in warm["scrub_s"].items():
        print(f"{title}'s epoch scrubber, first <-> last epoch ({len(took)}): median {statistics.median(took):.2f} s, "
              f"max {max(took):.2f} s")
    print(f"Explain's trust checks of Grad-CAM (shapes CNN), click -> all drawn: {warm['trust_checks_s']:.2f} s")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"cold": colds, "warm": warm}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
