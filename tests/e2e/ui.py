"""What the browser tests do to the page, shared by the test modules."""
from __future__ import annotations

import re
import time


def progress_step(page) -> int:
    """The step count the live progress bar shows ("step 1,234/8,000"), 0 if none yet."""
    texts = page.locator('[data-testid="stProgress"]').all_inner_texts()      # no waiting: it may be redrawn
    m = re.search(r"step ([\d,]+)/", texts[0]) if texts else None
    return int(m.group(1).replace(",", "")) if m else 0


def wait_for_step(page, above: int = 0, timeout: float = 20.0) -> float:
    """Wait until the progress bar shows a step past `above`; the seconds it took."""
    t0 = time.time()
    while progress_step(page) <= above:
        assert time.time() - t0 < timeout, f"no training step past {above} shown within {timeout:.0f} s"
        time.sleep(0.05)
    return time.time() - t0


APP = '[data-testid="stApp"]'


def idle(page, timeout: float = 30.0) -> None:
    """Wait until the app has no script run in progress, no element left stale (dimmed) by the last
    one, and no element still a grey placeholder (stSkeleton: React draws one while the code of a widget
    kind is fetched, the first time the page shows that kind; seconds on a loaded machine): what the page
    shows is what the server last drew. (Streamlit keeps its run state on the app's root element; its own
    browser tests wait on the same attribute.)"""
    try:
        page.wait_for_function(
            f"""() => {{ const app = document.querySelector('{APP}');
                return app && app.getAttribute('data-test-script-state') === 'notRunning'
                    && !document.querySelector('[data-stale="true"], [data-testid="stSkeleton"]'); }}""",
            timeout=timeout * 1000)
    except Exception as e:
        raise AssertionError(f"the app was still running (or showed stale elements or placeholders) after "
                             f"{timeout:.0f} s") from e


def watch(page) -> None:
    """Keep count, on the page object, of what its websocket carries: the messages the browser sends
    (`page.sent`) and the script runs the server reports finished (`page.finished`, one status name each).
    Call it before the page opens the app. rerun() then knows a run happened even if the page never showed
    it as running (React can apply "running" and "not running" in one draw when both arrive while the
    browser is busy), and when it times out it can say whether the click sent anything and whether the
    server answered. Like the page's run state, a finish is any run's: a fragment polling on its own ends
    the wait too."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    page.sent, page.finished = [0], []

    def received(payload) -> None:
        if isinstance(payload, bytes):
            msg = ForwardMsg.FromString(payload)
            if msg.WhichOneof("type") == "script_finished":
                page.finished.append(ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished))

    def sent(_payload) -> None:
        page.sent[0] += 1

    def socket(ws) -> None:
        ws.on("framereceived", received)
        ws.on("framesent", sent)

    page.on("websocket", socket)


def rerun(page, action, what: str, timeout: float = 30.0) -> None:
    """Do `action` (a widget change), then wait until the script run it starts has ended: the page then
    shows the new value's consequences, and the next click goes to a page that has them. A run that
    starts and ends between two polls is still seen: an observer on the app's root records it, and on a
    watch()ed page so does the server's report that a run finished. It starts from an idle app: a change
    made during a run is merged into it and shows no state change."""
    idle(page, timeout)
    page.evaluate(f"""() => {{ const app = document.querySelector('{APP}');
        if (window.__rerunObserver) window.__rerunObserver.disconnect();
        window.__reran = false;
        window.__rerunObserver = new MutationObserver(() => {{
            if (app.getAttribute('data-test-script-state') !== 'notRunning') window.__reran = true; }});
        window.__rerunObserver.observe(app, {{attributes: true, attributeFilter: ['data-test-script-state']}}); }}""")
    finished, sent = getattr(page, "finished", None), getattr(page, "sent", [0])
    runs, messages = len(finished or ()), sent[0]
    action()
    deadline = time.time() + timeout
    while not page.evaluate("() => window.__reran === true"):
        if finished is not None and len(finished) > runs:
            break
        if time.time() > deadline:
            from tests.e2e.harness import ARTIFACTS

            shot = ARTIFACTS / f"failed-rerun-{re.sub(r'[^A-Za-z0-9]+', '-', what)}.png"
            page.screenshot(path=str(shot), full_page=True)
            told = (f"; the browser sent {sent[0] - messages} message(s) after it, the server finished "
                    f"{len(finished) - runs} run(s)" if finished is not None else "")
            raise AssertionError(f"{what}: the app did not rerun within {timeout:.0f} s (page: {shot.name}{told})")
        page.wait_for_timeout(50)                          # lets the websocket's events through
    idle(page, timeout)


def metric(page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def choose(page, label: str, option: str, nth: int = 0) -> None:
    """Pick option in the selectbox whose (possibly hidden) label is label."""
    page.get_by_role("combobox", name=label).nth(nth).click()
    page.get_by_role("option", name=option, exact=True).click()


def set_number(page, label: str, value: int) -> None:
    """Type value into the number input `label` and wait for the rerun it starts to end (the server has it)."""
    box = page.get_by_role("spinbutton", name=label, exact=True)
    if box.input_value() == str(value):
        return
    box.fill(str(value))
    rerun(page, lambda: box.press("Enter"), f"{label} set to {value}")


def train_digits_cnn(page, epochs: int) -> None:
    """On Build & Train: the Digits 8x8 set (its default network is the small CNN), `epochs` epochs,
    started and waited for."""
    choose(page, "Data set", "Digits 8x8 (sklearn)")
    page.get_by_text("1x8x8 (CxHxW)").first.wait_for(timeout=30_000)
    set_number(page, "Epochs", epochs)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(f"finished {epochs} epoch{'' if epochs == 1 else 's'}").wait_for(timeout=60_000)


def token(page) -> str:
    """This browser's ?me= token from the address."""
    m = re.search(r"[?&]me=([A-Za-z0-9_-]+)", page.url)
    assert m, f"no ?me= in the address {page.url}"
    return m.group(1)


def go(page, name: str, ready) -> float:
    """Click the sidebar link `name`, wait for `ready` (a locator on the new page); the seconds it took.
    If it never comes, the page is kept as artifacts/e2e/failed-go-<name>.png."""
    t0 = time.time()
    page.get_by_role("link", name=name, exact=True).click()
    try:
        ready.wait_for(timeout=30_000)
    except Exception as e:
        from tests.e2e.harness import ARTIFACTS

        shot = ARTIFACTS / f"failed-go-{name.replace(' ', '').replace('&', '')}.png"
        page.screenshot(path=str(shot), full_page=True)
        raise AssertionError(f"{name}: {ready} not shown within 30 s ({shot.name}); {shown(page)}") from e
    return time.time() - t0


def shown(page) -> str:
    """What the page shows, in words, for a failure's message (CI keeps no screenshots): its address, the
    sidebar's run and the main area's text, cut short."""
    main = page.locator('[data-testid="stMain"]').inner_text(timeout=5_000)
    picked = selected(page, "Run shown") if page.get_by_role("combobox", name="Run shown").count() else "none"
    return f"address {page.url}, run shown: {picked}, the page: " + re.sub(r"\s+", " ", main)[:600]


def selected(page, label: str) -> str:
    """The option a selectbox shows (the text of its combobox input)."""
    return page.get_by_role("combobox", name=label).first.input_value()


def everyone(page) -> None:
    """Switch the sidebar's Everyone's runs on and wait for the rerun it starts. A click that lands while
    the page redraws the toggle (a live panel's tick, the rerun after a run ended) can be lost: the
    switch is then still off, and is clicked again."""
    toggle = page.get_by_test_id("stCheckbox").filter(has_text="Everyone's runs")
    for attempt in range(3):
        try:
            rerun(page, toggle.click, "Everyone's runs switched on", timeout=10 if attempt < 2 else 30)
            return
        except AssertionError:
            idle(page)
            if toggle.locator("input").is_checked():
                return                     # switched on; its rerun ended between two looks
            if attempt == 2:
                raise


def pick_data_set(page, typed: str) -> None:
    """Choose the data set whose name starts with `typed` as a user does (open the list, type, Enter) and
    wait for the rerun. A click that lands while the page redraws can leave the list closed, so the
    letters go nowhere: then the set is still the old one, and it is chosen again."""
    box = page.get_by_role("combobox", name="Data set")
    for attempt in range(3):
        idle(page)
        box.click()
        page.keyboard.type(typed)
        try:
            rerun(page, lambda: page.keyboard.press("Enter"), f"the data set {typed!r} chosen",
                  timeout=10 if attempt < 2 else 30)
            return
        except AssertionError:
            page.keyboard.press("Escape")
            if selected(page, "Data set").startswith(typed):
                return                                   # chosen; its rerun ended between two looks
            if attempt == 2:
                raise
