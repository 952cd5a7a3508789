"""A class, simulated: N students in headless browsers each build a network and train it, then
keep switching pages until the time is up; against the local worker pool or a local Ray cluster.
Not a test: it prints figures (and writes them as JSON with --out).

    .venv/bin/python scripts/load.py --sessions 10 --minutes 10                  # the local pool
    .venv/bin/python scripts/load.py --sessions 10 --minutes 5 --executor ray    # a local Ray cluster
    .venv/bin/python scripts/load.py --browser-cpus 1    # browsers on a core of their own, as in a class
    .venv/bin/python scripts/load.py --sessions 30 --lesson spiral_small --max-runs 6   # a class in a lesson

With --lesson ID: each student opens the lesson's link, types a name, and starts the lesson's run as it
is (its budget holds), and starts another each time one has ended (up to the lesson's runs per
student); the server trains --max-runs at once, the rest wait in line. A teacher, signed in with the
key, watches the Class board and reloads it every few seconds: the board's times are reported apart
(click to drawn, and its server answer at the websocket). At the end, every Start a student saw
accepted must be a run in the store, none failed or lost.

Per session: time from Start to the first point on the curve, and every page switch's latency
(Build & Train -> Runs -> Build & Train, each until the page's own content is drawn), split at the
page's websocket into the browser before its request, the server's answer (request -> the whole
page received) and the browser drawing it, and the server's own time for each whole page
(PLAYGROUND_PAGE_LOG): the browsers here share the server's cores, where a class's browsers run on
the students' own machines. For the server process (the web server, and on Ray the poller; not
the training processes): CPU share and memory, sampled every 2 s. Runs queued, and errors: a
traceback or error box on a page, a run that failed or was lost, a JavaScript error, a step that
timed out. On Ray, after the browsers have gone, the server's CPU with every run still training and
no page open: its cost of polling and storing, per live run.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: E402
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: E402

from tests.e2e.conftest import CHROMIUM, FLAGS  # noqa: E402
from tests.e2e.harness import ARTIFACTS, Server  # noqa: E402

SWITCH_EVERY_S = 15.0
BOARD_EVERY_S = 5.0
STEP_S = 60.0                     # a browser step (a page load, a click's answer) slower than this is an error
TEACHER_KEY = "load-test-teacher-key"
# classification on the spiral with a small MLP: each run trains for as long as the load lasts
EPOCHS = 100_000


def step_of(text: str) -> int:
    m = re.search(r"step ([\d,]+)/", text)
    return int(m.group(1).replace(",", "")) if m else 0


def group_of(p: psutil.Process, server_pid: int) -> str:
    """Which part of the load a process is: the server, training, the browsers, Ray, or other."""
    if p.pid == server_pid:
        return "server"
    try:
        cmd = " ".join(p.cmdline())
    except (psutil.Error, OSError):
        return "other"
    if "playground.train.worker" in cmd or "RunActor" in cmd or p.name().startswith("ray::"):
        return "training"
    if "run-driver" in cmd:                    # Playwright's driver: the measuring instrument, not reniced
        return "driver"
    if "chrom" in cmd or "playwright" in cmd:
        return "browsers"
    if "ray" in cmd:
        return "ray"
    return "other"


def renice_threads(p: psutil.Process, nice: int) -> None:
    """Every thread of p at `nice` or lower priority: on Linux a priority belongs to a thread, and
    renicing a process changes its first thread only (Chromium rasterises on others)."""
    for t in p.threads():
        try:
            if os.getpriority(os.PRIO_PROCESS, t.id) < nice:
                os.setpriority(os.PRIO_PROCESS, t.id, nice)
        except OSError:                        # the thread ended meanwhile
            pass


def autogroup(pid: int) -> tuple[str, int] | None:
    """The scheduling group a process is in, and that group's nice, where the kernel groups by session
    (CONFIG_SCHED_AUTOGROUP): the CPU is shared fairly between groups first, and a thread's own nice
    counts only inside its group. None where the kernel does not group."""
    try:
        name, _, nice = Path(f"/proc/{pid}/autogroup").read_text().split()
        return name, int(nice)
    except (OSError, ValueError):
        return None


def renice_group(pid: int, nice: int) -> None:
    """pid's whole session group at `nice`. Playwright starts Chromium in a session of its own: its group
    takes up to half of the machine whatever its threads' nice."""
    try:
        Path(f"/proc/{pid}/autogroup").write_text(str(nice))
    except OSError:
        pass


def pin_threads(p: psutil.Process, cpus: set[int]) -> None:
    """Every thread of p on `cpus` (Linux: an affinity belongs to a thread; new ones inherit it)."""
    for t in p.threads():
        try:
            if os.sched_getaffinity(t.id) != cpus:
                os.sched_setaffinity(t.id, cpus)
        except OSError:                        # the thread ended meanwhile
            pass


class Sampler:
    """Every `every` seconds: the server process's CPU share (of one core) and memory, and where the
    machine's CPU went (server, training, browsers, Ray's own processes), as shares of all cores."""

    def __init__(self, pid: int, every: float = 2.0, browser_nice: int = 0, group_nice: int | None = None,
                 pins: dict[str, set[int]] | None = None):
        self.pid, self.proc, self.every, self.browser_nice = pid, psutil.Process(pid), every, browser_nice
        self.group_nice, self.pins = group_nice, pins or {}
        self.cpu: list[float] = []
        self.rss_mb: list[float] = []
        self.groups: dict[str, float] = {}      # CPU seconds per group, over the whole load
        self._seen: dict[int, float] = {}
        self._stop = False
        self.browser_groups: set[str] = set()   # the browsers' session groups where not the server's
        self.server_group = autogroup(pid)

    def _cpu_by_pid(self) -> dict[int, tuple[str, float]]:
        out = {}
        for p in psutil.process_iter():
            try:
                group = group_of(p, self.pid)
                out[p.pid] = (group, sum(p.cpu_times()[:2]))
                if group in self.pins:
                    pin_threads(p, self.pins[group])
                if group == "browsers":            # Chromium sets its own priorities (its GPU process at -8)
                    renice_threads(p, self.browser_nice)
                    mine = autogroup(p.pid)
                    if mine and self.server_group and mine[0] != self.server_group[0]:
                        self.browser_groups.add(mine[0])
                        if self.group_nice is not None and mine[1] < self.group_nice:
                            renice_group(p.pid, self.group_nice)
            except (psutil.Error, OSError):
                pass
        return out

    async def run(self):
        last_t, last_cpu = time.monotonic(), sum(self.proc.cpu_times()[:2])
        self._seen = {pid: c for pid, (_, c) in self._cpu_by_pid().items()}
        while not self._stop:
            await asyncio.sleep(self.every)
            t, cpu = time.monotonic(), sum(self.proc.cpu_times()[:2])
            self.cpu.append((cpu - last_cpu) / (t - last_t))
            self.rss_mb.append(self.proc.memory_info().rss / 2**20)
            last_t, last_cpu = t, cpu
            for pid, (group, c) in self._cpu_by_pid().items():
                self.groups[group] = self.groups.get(group, 0.0) + c - self._seen.get(pid, 0.0)
                self._seen[pid] = c

    def stop(self):
        self._stop = True


async def idle(page) -> None:
    """Until the page has finished its run (Streamlit's running indicator is gone)."""
    if await page.locator('[data-testid="stStatusWidget"]').count():
        await page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=STEP_S * 1000)


class Wire:
    """What a page's websocket carried, timed where the browser's network side hands it over (not
    behind its busy renderer): the page's request for a whole rerun (a click's BackMsg), and each
    whole rerun's end (script_finished). Splits a page switch into the browser before the request,
    the server's answer, and the browser drawing it. Armed only around a switch."""

    SMALL = 512                        # script_finished frames are tiny; the big ones (figures) are not parsed

    def __init__(self, page):
        self.armed, self.sent, self.finished = False, [], []
        page.on("websocket", self._attach)

    def _attach(self, ws) -> None:
        ws.on("framesent", self._sent)
        ws.on("framereceived", self._received)

    def _sent(self, payload) -> None:
        if self.armed and isinstance(payload, bytes):
            m = BackMsg.FromString(payload)
            if m.WhichOneof("type") == "rerun_script" and not m.rerun_script.fragment_id:
                self.sent.append(time.monotonic())

    def _received(self, payload) -> None:
        if self.armed and self.sent and isinstance(payload, bytes) and len(payload) < self.SMALL:
            m = ForwardMsg.FromString(payload)
            if m.WhichOneof("type") == "script_finished" and m.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
                self.finished.append(time.monotonic())

    def arm(self) -> None:
        self.armed, self.sent, self.finished = True, [], []

    def split(self, clicked: float, drawn: float) -> tuple | None:
        """(click -> request sent, request -> whole answer received, answer -> drawn), or None where the
        request or its answer was not seen."""
        self.armed = False
        if not self.sent:
            return None
        ends = [t for t in self.finished if t >= self.sent[0]]
        if not ends:
            return None
        return self.sent[0] - clicked, ends[0] - self.sent[0], max(0.0, drawn - ends[0])


async def timed_switch(page, wire: "Wire", link: str, ready, took: list, splits: list) -> None:
    """Click the page link `link` and wait until `ready` is drawn and the page is idle: the time taken
    goes to `took`, its split at the websocket (Wire.split) to `splits` where it was seen whole."""
    wire.arm()
    t = time.monotonic()
    await page.get_by_role("link", name=link).click()
    await ready.wait_for()
    await idle(page)
    drawn = time.monotonic()
    took.append(drawn - t)
    split = wire.split(t, drawn)
    if split is not None:
        splits.append(split)


async def traceback_check(page, errors: list) -> None:
    if await page.locator('[data-testid="stException"]').count():
        errors.append("a traceback on the page: " +
                      (await page.locator('[data-testid="stException"]').first.inner_text())[:200])


async def session(i: int, browser, url: str, end: float, out: dict, stop_at_end: bool,
                  lesson: str | None = None) -> None:
    rec = out[i] = {"first_point_s": None, "switch_s": [], "split_s": [], "errors": [], "queued_seen": False,
                    "status": None, "starts": 0}
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await ctx.new_page()
    wire = Wire(page)
    page.set_default_timeout(STEP_S * 1000)
    page.on("pageerror", lambda e: rec["errors"].append(f"javascript: {e}"))
    try:
        await page.goto(url + (f"?lesson={lesson}" if lesson else ""))
        await page.get_by_role("button", name="Start training").wait_for()
        if lesson:                             # the lesson's run as it is; the name the board shows
            box = page.get_by_role("textbox", name="Your name (what others see)")
            await box.fill(f"Student {i + 1}")
            await box.press("Enter")
        else:
            box = page.get_by_role("spinbutton", name="Epochs", exact=True)
            await box.fill(str(EPOCHS))
            await box.press("Enter")
        await page.wait_for_timeout(1000)
        await idle(page)                       # a click while the page reruns can be lost
        t0 = time.monotonic()
        await page.get_by_role("button", name="Start training").click()
        rec["starts"] += 1
        while time.monotonic() - t0 < 180:
            texts = await page.locator('[data-testid="stProgress"]').all_inner_texts()
            alerts = " ".join(await page.locator('[data-testid="stAlert"]').all_inner_texts())
            if "in line" in alerts:
                rec["queued_seen"] = True
            if "already training" in alerts or "the limit is" in alerts or "waiting in line already" in alerts:
                rec["errors"].append(f"refused: {alerts[:160]}")
                rec["starts"] -= 1
                return
            if texts and step_of(texts[0]) > 0:
                rec["first_point_s"] = time.monotonic() - t0
                break
            await asyncio.sleep(0.1)
        else:
            shot = ARTIFACTS / f"load-no-first-point-{i}.png"
            await page.screenshot(path=str(shot), full_page=True)
            if "cannot train" in alerts:           # what the layer table holds
                args = [await b.input_value() for b in await page.get_by_role("textbox", name="arguments").all()]
                alerts = f"[layer arguments: {args}] " + alerts
            rec["errors"].append(f"no first point within 180 s of Start (the page said: {alerts[:300] or 'nothing'}; "
                                 f"see {shot.relative_to(ROOT)})")
        while time.monotonic() < end:
            await asyncio.sleep(min(SWITCH_EVERY_S, max(0.0, end - time.monotonic())))
            if time.monotonic() >= end:
                break
            for name, ready in (("Runs", page.get_by_role("heading", name="Runs").first),
                                ("Build & Train", page.get_by_role("button", name="Start training"))):
                await timed_switch(page, wire, name, ready, rec["switch_s"], rec["split_s"])
            await traceback_check(page, rec["errors"])
            texts = await page.locator('[data-testid="stProgress"]').all_inner_texts()
            if lesson and texts and " in all" in texts[0] and time.monotonic() < end - 5:
                await page.get_by_role("button", name="Start training").click()    # the run ended: another try
                await idle(page)
                alerts = " ".join(await page.locator('[data-testid="stAlert"]').all_inner_texts())
                if "you have started" in alerts:                                 # the lesson's runs are used up
                    break
                rec["starts"] += 1
        texts = await page.locator('[data-testid="stProgress"]').all_inner_texts()
        status = " ".join(await page.locator('[data-testid="stAlert"]').all_inner_texts())
        rec["status"] = texts[0][:120] if texts else None
        for bad in ("lost on", "internal error", "died"):
            if bad in status:
                rec["errors"].append(f"run: {status[:200]}")
    except Exception as e:                     # a timeout is an error of the load, reported, not raised
        rec["errors"].append(f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")
    finally:
        try:                                   # on Ray the runs train on: the server's idle cost is measured next
            stop = page.get_by_role("button", name="Stop", exact=True)
            if stop_at_end and await stop.count() and await stop.first.is_enabled():
                await stop.first.click()
                await page.wait_for_timeout(500)
        except Exception:
            pass
        await ctx.close()


async def teacher(browser, url: str, lesson: str, end: float, out: dict) -> None:
    """The teacher, signed in, on the lesson's Class board: reloads it every BOARD_EVERY_S seconds (a
    switch to Runs and back), timing each load as the students' switches are timed."""
    rec = out["teacher"] = {"board_s": [], "board_split_s": [], "errors": [], "board_rows": None}
    ctx = await browser.new_context(viewport={"width": 1600, "height": 1000})
    page = await ctx.new_page()
    wire = Wire(page)
    page.set_default_timeout(STEP_S * 1000)
    page.on("pageerror", lambda e: rec["errors"].append(f"javascript: {e}"))
    board = page.get_by_role("heading", name="Class board").first
    try:
        await page.goto(f"{url}?lesson={lesson}&teacher={TEACHER_KEY}")
        await page.get_by_role("button", name="Start training").wait_for()
        await page.get_by_role("link", name="Class board").click()
        await board.wait_for()
        while time.monotonic() < end:
            await asyncio.sleep(min(BOARD_EVERY_S, max(0.0, end - time.monotonic())))
            await page.get_by_role("link", name="Runs").click()
            await page.get_by_role("heading", name="Runs").first.wait_for()
            await idle(page)
            await timed_switch(page, wire, "Class board", board, rec["board_s"], rec["board_split_s"])
            await traceback_check(page, rec["errors"])
        shot = ARTIFACTS / "load-class-board.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(shot), full_page=True)
        rec["screenshot"] = str(shot.relative_to(ROOT))
    except Exception as e:
        rec["errors"].append(f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")
    finally:
        await ctx.close()


async def drive(url: str, n: int, minutes: float, server_pid: int, stop_at_end: bool, settle: float,
                sampling: dict, lesson: str | None = None) -> dict:
    from playwright.async_api import async_playwright

    out: dict = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        if settle:                             # the teacher opens the app before the lesson: workers warm up
            ctx = await browser.new_context()
            page = await ctx.new_page()
            await page.goto(url)
            await page.get_by_role("button", name="Start training").wait_for(timeout=120_000)
            await ctx.close()
            await asyncio.sleep(settle)
        sampler = Sampler(server_pid, **sampling)
        task = asyncio.create_task(sampler.run())
        end = time.monotonic() + minutes * 60
        await asyncio.gather(*(session(i, browser, url, end, out, stop_at_end, lesson) for i in range(n)),
                             *([teacher(browser, url, lesson, end, out)] if lesson else []))
        await browser.close()
    sampler.stop()
    await task
    return {"sessions": out, "server_cpu": sampler.cpu, "server_rss_mb": sampler.rss_mb,
            "cpu_seconds_by_group": sampler.groups, "browser_groups": sorted(sampler.browser_groups)}


def idle_cost(server_pid: int, seconds: float = 20.0) -> float:
    """The server's CPU share (of one core) over `seconds`, no browser attached."""
    proc = psutil.Process(server_pid)
    c0, t0 = sum(proc.cpu_times()[:2]), time.monotonic()
    time.sleep(seconds)
    return (sum(proc.cpu_times()[:2]) - c0) / (time.monotonic() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--executor", choices=("local", "ray"), default="local")
    ap.add_argument("--ray-cpus", type=int, default=None,
                    help="CPUs the local Ray cluster's worker node advertises (default: one per session, "
                         "so every run trains at once and the server polls them all)")
    ap.add_argument("--settle", type=float, default=60.0,
                    help="seconds between the server's start and the students' arrival (a class's server is up "
                         "before the lesson: its warm worker processes are ready)")
    ap.add_argument("--browser-nice", type=int, default=10,
                    help="the browsers' priority: in a class they run on the students' machines, here they share "
                         "the server's cores (0: compete with the server as equals)")
    ap.add_argument("--browser-group-nice", type=int, default=None,
                    help="where the kernel schedules by session group (autogroup) and the browsers have a group of "
                         "their own: that group's nice (default: left at 0; the CPU is first shared fairly between "
                         "groups, so --browser-nice orders the browsers' threads only among themselves)")
    ap.add_argument("--browser-cpus", type=int, default=0,
                    help="pin the browsers to the last N cores and the server and its training processes to the "
                         "others, as if the students' browsers ran on machines of their own (local pool only; "
                         "default 0: no pinning, all share every core)")
    ap.add_argument("--worker-nice", type=int, default=None,
                    help="PLAYGROUND_WORKER_NICE for the local pool's training processes (the app's default: 10; "
                         "19 lets the web server answer first on a small, saturated server)")
    ap.add_argument("--lesson", default=None,
                    help="a lesson's id: the class works in it, the teacher watches its board")
    ap.add_argument("--max-runs", type=int, default=None,
                    help="PLAYGROUND_MAX_RUNS (default: one per session; fewer: the rest wait in line)")
    ap.add_argument("--step-timeout", type=float, default=STEP_S,
                    help="seconds a browser step may take before it counts as an error (default 60; 30 browsers "
                         "sharing one core take longer than that to load a page)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    global STEP_S
    STEP_S = args.step_timeout
    if CHROMIUM is None:
        print("no Chromium: run scripts/ensure-browser.sh", file=sys.stderr)
        return 2
    sampling: dict = {"browser_nice": args.browser_nice, "group_nice": args.browser_group_nice}
    if args.browser_cpus:
        cores = sorted(os.sched_getaffinity(0))
        if args.executor != "local" or not 0 < args.browser_cpus < len(cores):
            print(f"--browser-cpus: needs the local pool and 1-{len(cores) - 1} of this machine's {len(cores)} "
                  "cores", file=sys.stderr)
            return 2
        theirs = set(cores[-args.browser_cpus:])
        sampling["pins"] = {"browsers": theirs, "server": set(cores) - theirs, "training": set(cores) - theirs}

    import tempfile

    home = Path(tempfile.mkdtemp(prefix="playground-load-"))
    page_log = home / "pages.tsv"
    slots = args.max_runs or args.sessions
    env = {"PLAYGROUND_MAX_RUNS": str(slots), "PLAYGROUND_WARM_WORKERS": str(slots),
           "PLAYGROUND_PAGE_LOG": str(page_log), "PLAYGROUND_TEACHER_KEY": TEACHER_KEY}
    if args.worker_nice is not None:
        env["PLAYGROUND_WORKER_NICE"] = str(args.worker_nice)
    cluster = None
    if args.executor == "ray":
        from tests.ray_cluster import LocalCluster

        cluster = LocalCluster(nodes=[{"num_cpus": args.ray_cpus or args.sessions}])
        env.update(cluster.env)
    server = Server(home, name=f"load-{args.executor}", env=env)
    try:
        start_s = server.start()
        if "pins" in sampling:                 # before the warm workers start: they inherit the server's cores
            pin_threads(psutil.Process(server.proc.pid), sampling["pins"]["server"])
        t0 = time.monotonic()
        res = asyncio.run(drive(server.url, args.sessions, args.minutes, server.proc.pid, cluster is None,
                                args.settle, sampling, args.lesson))
        res["wall_s"] = time.monotonic() - t0
        lines = [line.split("\t") for line in page_log.read_text().splitlines()] if page_log.exists() else []
        res["server_pages"] = [(f[2], float(f[3]), float(f[4]), float(f[5])) for f in lines if f[1] == "page"]
        res["server_answers"] = [float(f[3]) for f in lines if f[1] == "answer"]
        res["server_start_s"] = start_s
        if cluster is not None:
            res["ray_idle_server_cpu"] = idle_cost(server.proc.pid)
        if args.lesson:
            time.sleep(3)                      # the recorder's last pass (every 0.5 s)
            from playground.store import Store

            rows = Store(home).list(lesson=args.lesson)
            res["lesson_runs"] = {"stored": len(rows), "statuses": dict(Counter(r.status for r in rows)),
                                  "students": len({r.owner for r in rows})}
        report(args, res)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, **res}, indent=1))
    finally:
        server.stop()
        if cluster is not None:
            cluster.shutdown()
    return 0


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def report(args, res: dict) -> None:
    s = {k: v for k, v in res["sessions"].items() if k != "teacher"}
    firsts = [r["first_point_s"] for r in s.values() if r["first_point_s"] is not None]
    switches = [x for r in s.values() for x in r["switch_s"]]
    errors = [(i, e) for i, r in s.items() for e in r["errors"]]
    cpu, rss = res["server_cpu"], res["server_rss_mb"]
    pinned = (f"; browsers pinned to {args.browser_cpus} core(s), the server and training to the others"
              if args.browser_cpus else "")
    grouped = ("" if not res.get("browser_groups") else
               f", their session group at nice {args.browser_group_nice}" if args.browser_group_nice is not None
               else " inside their own session group, which shares the CPU with the server's as an equal")
    print(f"\n{args.sessions} sessions, {args.minutes:g} min, executor {args.executor} (server up in "
          f"{res['server_start_s']:.1f} s; students arrive {args.settle:g} s later; browsers at nice "
          f"{args.browser_nice}{grouped}, training at nice {10 if args.worker_nice is None else args.worker_nice}"
          f"{pinned}; a browser step slower than {STEP_S:g} s is an error)")
    print(f"time to first point: median {statistics.median(firsts):.1f} s, max {max(firsts):.1f} s "
          f"({len(firsts)}/{len(s)} sessions)" if firsts else "time to first point: none")
    print(f"page switch, click to drawn in the browser: {len(switches)} switches, median "
          f"{statistics.median(switches):.2f} s, p95 {pct(switches, 0.95):.2f} s, max {max(switches):.2f} s, "
          f"over 2 s: {sum(x > 2 for x in switches)}" if switches else "page switch: none")
    splits = [x for r in s.values() for x in r.get("split_s", [])]
    if splits:
        print(f"  the same switches split at the page's websocket ({len(splits)} of {len(switches)} seen whole), "
              "median / p95 / over 2 s:")
        for k, what in enumerate(("browser, click -> request sent", "server, request -> whole page received",
                                  "browser, received -> drawn")):
            xs = [x[k] for x in splits]
            print(f"    {what}: {statistics.median(xs):.2f} s / {pct(xs, 0.95):.2f} s / {sum(x > 2 for x in xs)}")
    answers = res.get("server_answers", [])
    if answers:
        print(f"  the server's own answer (a whole-page request's arrival -> that page's end handed to the websocket): "
              f"{len(answers)} answers, median {statistics.median(answers):.2f} s, p95 {pct(answers, 0.95):.2f} s, "
              f"max {max(answers):.2f} s, over 2 s: {sum(x > 2 for x in answers)}")
    pages = res["server_pages"]
    print("the server's time per whole page (its script, from start to end), split into the script's own CPU, "
          "its wait for a core (the kernel's run queue), and the rest (Python's lock, I/O, locks):"
          if pages else "no page times logged")
    for title in sorted({p[0] for p in pages}):
        mine = [p[1:] for p in pages if p[0] == title]
        wall = [w for w, _, _ in mine]
        print(f"  {title}: {len(wall)} pages, median {statistics.median(wall):.2f} s, p95 {pct(wall, 0.95):.2f} s, "
              f"max {max(wall):.2f} s, over 2 s: {sum(x > 2 for x in wall)}")
        for what, xs in (("CPU", [c for _, c, _ in mine]), ("waiting for a core", [q for _, _, q in mine]),
                         ("the rest", [w - c - q for w, c, q in mine])):
            print(f"    {what}: median {statistics.median(xs):.2f} s, p95 {pct(xs, 0.95):.2f} s")
    print(f"sessions that saw their run queued: {sum(r['queued_seen'] for r in s.values())}")
    print(f"server CPU (of one core): mean {statistics.mean(cpu):.0%}, max {max(cpu):.0%}; memory (RSS): "
          f"first {rss[0]:.0f} MB, max {max(rss):.0f} MB, last {rss[-1]:.0f} MB" if cpu else "no samples")
    groups = res["cpu_seconds_by_group"]
    total = sum(groups.values()) or 1.0
    print("where the machine's CPU went: " + ", ".join(f"{g} {v / total:.0%}" for g, v in
                                                      sorted(groups.items(), key=lambda kv: -kv[1])))
    if "ray_idle_server_cpu" in res:
        per = res["ray_idle_server_cpu"] / args.sessions
        print(f"Ray, no page open, {args.sessions} runs training: server CPU {res['ray_idle_server_cpu']:.1%} of "
              f"a core, {per:.2%} per live run -> 100 runs: {100 * per:.0%} of a core")
    if "teacher" in res["sessions"]:
        t = res["sessions"]["teacher"]
        errors += [("teacher", e) for e in t["errors"]]
        b, sp = t["board_s"], [x[1] for x in t["board_split_s"]]
        if b:
            print(f"class board, the teacher's reloads: {len(b)}, click to drawn median {statistics.median(b):.2f} s, "
                  f"p95 {pct(b, 0.95):.2f} s, max {max(b):.2f} s")
        if sp:
            print(f"  its server answer (request -> whole page received): median {statistics.median(sp):.2f} s, "
                  f"p95 {pct(sp, 0.95):.2f} s, max {max(sp):.2f} s ({len(sp)} seen whole)")
        if t.get("screenshot"):
            print(f"  the board at the end: {t['screenshot']}")
    if "lesson_runs" in res:
        lr, started = res["lesson_runs"], sum(r["starts"] for r in s.values())
        bad = {k: v for k, v in lr["statuses"].items() if k in ("failed", "lost")}
        print(f"lesson {args.lesson}: {started} Starts accepted on the pages, {lr['stored']} runs stored for "
              f"{lr['students']} students, statuses {lr['statuses']}")
        if lr["stored"] != started:
            errors.append(("store", f"{started} Starts accepted but {lr['stored']} runs stored"))
        if bad:
            errors.append(("store", f"runs failed or lost: {bad}"))
    print(f"errors: {len(errors)}")
    for i, e in errors[:20]:
        print(f"  session {i}: {e}")


if __name__ == "__main__":
    sys.exit(main())
