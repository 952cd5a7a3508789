"""Runs that last, as students and teachers meet them: across page switches, reloads, two students
on one server, and a server killed and started again."""
from __future__ import annotations

import re
import sqlite3
import time
from contextlib import closing

import psutil
import pytest

from tests.e2e.harness import Server, open_page
from tests.e2e.ui import (
    choose,
    everyone,
    go,
    idle,
    progress_step,
    rerun,
    selected,
    set_number,
    token,
    wait_for_step,
)

pytestmark = pytest.mark.e2e


def table_rows(page) -> list[list[str]]:
    """The Runs table's rows as cell texts (the data grid keeps an accessible copy of its cells)."""
    grid = page.locator('[data-testid="stDataFrame"]')
    return [row.locator('[role="gridcell"]').all_inner_texts() for row in grid.locator('[role="row"]').all()[1:]]


def select_row(page, i: int) -> None:
    """Tick the selection box of the Runs table's row i (0 = the newest run)."""
    box = page.locator('[data-testid="stDataFrame"]').bounding_box()
    page.mouse.click(box["x"] + 14, box["y"] + 35 + 35 * i + 17)


def checkpointed(home, timeout: float = 30) -> None:
    """Wait until the run training in the store at home has a checkpoint it can resume from (taken every
    2 s while it trains; one taken during its first epoch, ckpt_epoch 0, does not count as one)."""
    db = next(home.rglob("playground.db"))
    deadline = time.time() + timeout
    while True:
        with closing(sqlite3.connect(db, timeout=10)) as con:
            row = con.execute("SELECT ckpt_epoch FROM runs WHERE status = 'running' "
                              "ORDER BY created_at DESC LIMIT 1").fetchone()
        if row and row[0]:
            return
        assert time.time() < deadline, f"the training run wrote no checkpoint within {timeout:.0f} s"
        time.sleep(0.2)


def start_spiral(page, epochs: int, width: int | None = None) -> None:
    if width:
        args = page.get_by_role("textbox", name="arguments").first
        args.fill(f"out_features={width}, bias=True")
        args.press("Enter")
    set_number(page, "Epochs", epochs)                      # waits for the rerun with the new value
    page.get_by_role("button", name="Start training").click()


def test_my_run_survives_page_switches_and_reload(page, shots):
    start_spiral(page, 20000, width=32)
    page.get_by_text("658 parameters").wait_for()          # the layer I edited: 2*32+32 + 32*16+16 + 16*2+2
    wait_for_step(page)
    me = token(page)
    shots(page, "training")
    # Every page and back: the address keeps this browser's token, the run stays mine.
    pages = {"Compare": page.get_by_role("button", name="Race", exact=True),
             "Optimizer race": page.get_by_text("Optimizer race").nth(1),
             "Runs": page.get_by_text("Every run kept on this server"),
             "Build & Train": page.get_by_role("button", name="Start training")}
    for name, ready in pages.items():
        go(page, name, ready)
        page.wait_for_url(re.compile(rf"[?&]me={me}"), timeout=10_000)
        if name == "Runs":
            page.locator('[data-testid="stDataFrame"] [role="gridcell"]').first.wait_for(state="attached")
            rows = table_rows(page)
            assert len(rows) == 1 and rows[0][1] in ("running", "starting"), rows
            shots(page, "runs-page")
    page.get_by_text("658 parameters").wait_for()          # what I was editing is still there
    assert page.get_by_role("button", name="Stop").is_enabled()
    before = progress_step(page)
    wait_for_step(page, above=before)                       # and it is still training, live
    # Reload: a new session, the same token, the same run, the same network.
    page.reload()
    page.get_by_role("button", name="Start training").wait_for(timeout=60_000)
    assert token(page) == me
    page.get_by_text("658 parameters").wait_for()
    assert selected(page, "Run shown").endswith("spiral · adam · lr 0.03")
    stop = page.get_by_role("button", name="Stop")
    stop.wait_for()
    assert stop.is_enabled()
    stop.click()
    page.get_by_text("stopped by the user").wait_for(timeout=15_000)
    shots(page, "stopped-after-reload")
    # Resume it from the Runs page: it continues where it stopped.
    stopped_at = progress_step(page)
    go(page, "Runs", page.get_by_text("Every run kept on this server"))
    page.locator('[data-testid="stDataFrame"] [role="gridcell"]').first.wait_for(state="attached")
    select_row(page, 0)
    resume = page.get_by_role("button", name="Resume")
    resume.wait_for()
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()      # its curves, overlaid
    shots(page, "runs-selected")
    resume.click()
    go(page, "Build & Train", page.get_by_role("button", name="Start training"))
    wait_for_step(page, above=stopped_at)
    assert progress_step(page) > stopped_at
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("stopped by the user").wait_for(timeout=15_000)


def test_two_students_switch_pages_and_start_while_two_runs_train(browser, server, shots):
    """Student A trains an MNIST CNN; student B starts a spiral beside it (B's first point), then A
    switches pages while both runs train. The server answers pages first (training processes run
    at a lower priority)."""
    a, ctx_a, err_a = open_page(browser, server.url)
    b, ctx_b, err_b = open_page(browser, server.url)
    try:
        assert token(a) != token(b)
        choose(a, "Data set", "MNIST 5,000 (offline)")
        a.get_by_text("9,098 parameters").wait_for(timeout=30_000)
        set_number(a, "Epochs", 200)
        a.get_by_role("button", name="Start training").click()
        wait_for_step(a)
        set_number(b, "Epochs", 20000)
        t0 = time.time()
        b.get_by_role("button", name="Start training").click()
        wait_for_step(b)
        first_point = time.time() - t0
        for pg in (a, b):                                   # both train now: each page counts on
            wait_for_step(pg, above=progress_step(pg))
        switches = []
        for name, ready in (("Compare", a.get_by_role("button", name="Race", exact=True)),
                            ("Runs", a.get_by_text("Every run kept on this server")),
                            ("Build & Train", a.get_by_text("9,098 parameters"))):
            switches.append(go(a, name, ready))
        shots(a, "student-a")
        shots(b, "student-b")
        print(f"second student's first point while a run trains: {first_point:.2f} s; page switches while two "
              f"runs train: {', '.join(f'{s:.2f}' for s in switches)} s")
        # The targets are 2 s and 1 s; on this 2-core machine the figures printed above are
        # mostly Chromium drawing two live pages beside two training processes (the server answers
        # in ~0.2 s, the worker's first step comes ~40 ms after the click). They are printed, not
        # asserted: timing on a shared machine flakes. go() and wait_for_step() fail on a hang.
        # each student sees only their own run ...
        assert selected(a, "Run shown").split(" · ")[1] == "mnist_subset"
        assert selected(b, "Run shown").split(" · ")[1] == "spiral"
        b.get_by_role("button", name="Stop").click()
        b.get_by_text("stopped by the user").wait_for(timeout=15_000)
        # the page reruns whole once it sees the run ended (its buttons are redrawn: Resume is offered);
        # a toggle clicked before that rerun can be merged into it and show no rerun of its own
        b.wait_for_function("""() => [...document.querySelectorAll('button')].some(
            x => x.innerText.includes('Resume') && !x.disabled)""", timeout=30_000)
        # ... and can stop only theirs: B looks at everyone's runs and picks A's, which trains on
        everyone(b)
        b.get_by_role("combobox", name="Run shown").click()
        option = b.get_by_role("option", name=selected(a, "Run shown"), exact=True)
        option.wait_for()
        rerun(b, option.click, "A's run picked under Run shown")
        assert selected(b, "Run shown").split(" · ")[1] == "mnist_subset"
        wait_for_step(b, above=progress_step(b))            # B sees A's run, live ...
        stop = b.get_by_role("button", name="Stop")
        assert stop.count() == 1 and stop.is_disabled(), "Build & Train offers student B a Stop for A's run"
        go(b, "Runs", b.get_by_text("Every run kept on this server"))
        b.locator('[data-testid="stDataFrame"] [role="gridcell"]').first.wait_for(state="attached")
        rows = table_rows(b)
        assert [r[1] for r in rows[:2]] == ["stopped", "running"], rows        # B's spiral (newest), A's CNN
        select_row(b, 1)
        b.get_by_text(re.compile(r"anonymous [0-9a-f]{4}'s")).wait_for()    # A chose no name: a hash, no token
        idle(b)
        assert token(a) not in b.content(), "A's token is on B's Runs page"
        stop = b.get_by_role("button", name="Stop")
        assert stop.count() == 1 and stop.is_disabled(), "the Runs page offers student B a Stop for A's run"
        shots(b, "student-b-looks-at-a")
        at = progress_step(a)
        wait_for_step(a, above=at)                          # A's run trains on
        a.get_by_role("button", name="Stop").click()
        a.get_by_text("stopped by the user").wait_for(timeout=15_000)
    finally:
        ctx_a.close()
        ctx_b.close()
    assert not err_a and not err_b, (err_a, err_b)


def test_killed_server_brings_runs_back_and_the_interrupted_one_resumes(browser, tmp_path, shots):
    srv = Server(tmp_path / "store", name="restart")
    srv.start()
    try:
        page, ctx, errors = open_page(browser, srv.url)
        me = token(page)
        start_spiral(page, 20)                              # a short run that finishes
        page.get_by_text("finished 20 epochs").wait_for(timeout=60_000)
        start_spiral(page, 20000)                           # a long one, killed with the server
        wait_for_step(page)
        checkpointed(srv.home)                              # it has a checkpoint to resume from
        workers = [p.pid for p in psutil.Process(srv.proc.pid).children(recursive=True)
                   if "playground.train.worker" in " ".join(p.cmdline())]
        shots(page, "before-kill")
        srv.kill()
        gone_by = time.time() + 30          # training processes end with the server (one still starting, soon after)
        while any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in workers):
            assert time.time() < gone_by, "training processes outlived the killed server"
            time.sleep(0.2)
        restart_s = srv.start()
        print(f"server back in {restart_s:.1f} s")
        # The tab reloaded on another page than the first: the fresh server's first visit names a page.
        # It gets the app's navigation and sidebar (a pages/ folder once gave it a bare legacy page).
        page.goto(f"{srv.url}/runs?me={me}")
        page.get_by_text("Every run kept on this server").wait_for(timeout=60_000)
        page.get_by_role("link", name="Build & Train").wait_for()
        page.get_by_test_id("stCheckbox").filter(has_text="Everyone's runs").wait_for()   # the app's sidebar
        go(page, "Build & Train", page.get_by_role("button", name="Start training"))
        # the interrupted run is shown, says so, and offers Resume
        page.get_by_text("interrupted at epoch").first.wait_for(timeout=30_000)
        message = page.locator('[data-testid="stAlert"]').filter(has_text="interrupted at epoch").inner_text()
        m = re.search(r"resume from epoch (\d+)", message)
        assert m, message
        shots(page, "after-restart-interrupted")
        # the finished run is back with its curves
        labels = page.get_by_role("combobox", name="Run shown")
        labels.click()
        options = page.get_by_role("option").all_inner_texts()
        assert len(options) == 2, options
        page.get_by_role("option").nth(1).click()
        page.get_by_text("finished 20 epochs").wait_for(timeout=30_000)
        assert page.locator('[data-testid="stVegaLiteChart"]').count() >= 2
        assert page.locator('[data-testid="stImage"]').count() >= 1      # the boundary, from the snapshot
        shots(page, "after-restart-finished")
        # back to the interrupted one, and resume it
        choose(page, "Run shown", options[0])
        page.get_by_role("button", name="Resume").click()
        resumed_from = int(m.group(1))
        page.locator('[data-testid="stProgress"]').filter(
            has_text=re.compile(rf"epoch ({resumed_from + 2}|{resumed_from + 3}|[1-9]\d{{2,}})/")).first \
            .wait_for(timeout=60_000)
        shots(page, "resumed")
        page.get_by_role("button", name="Stop").click()
        page.get_by_text("stopped by the user").wait_for(timeout=15_000)
        ctx.close()
        assert not errors, errors
    finally:
        srv.stop()
