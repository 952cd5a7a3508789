"""A teacher and two students in browsers of their own: no page shows one student's token to another,
a student sees another's runs under the name they chose and cannot act on them, and the teacher signs
in with the link the server printed in its terminal and can."""
from __future__ import annotations

import re

from playground.models import preset_layers
from tests.e2e.harness import ARTIFACTS, open_page
from tests.e2e.test_afternoon import train_into
from tests.e2e.test_runs import select_row, table_rows
from tests.e2e.ui import everyone, go, idle, rerun, token, watch
from tests.waits import wait_for

PAGES = {   # the sidebar's links, and something each page draws once it is there
    "Compare": ("button", "Race"), "Optimizer race": ("text", "Optimizer race"), "Runs": ("text", "Every run kept"),
    "Evaluate": ("text", "Evaluate"), "Filters & feature maps": ("text", "Filters"),
    "Layer statistics": ("text", "Layer statistics"), "Attention": ("text", "Attention"),
    "Latent space": ("text", "Latent space"), "Explain": ("text", "Explain"),
    "Build & Train": ("button", "Start training"),
}


def ready(page, kind: str, what: str):
    return page.get_by_role("button", name=what, exact=True) if kind == "button" else page.get_by_text(what).first


def sign_in_link(server) -> str:
    """The teacher's link, from what this server printed in its terminal (its log file): the line with
    its own port (a log can hold another process's lines)."""
    text = (ARTIFACTS / f"{server.name}-{server.starts}.log").read_text(errors="replace")
    keys = re.findall(rf"the teacher signs in with this link.*\n\s+http://[^/\s]+:{server.port}/\?teacher=(\S+)", text)
    assert keys, "the server printed no teacher sign-in link with its own port"
    return f"{server.url}/?teacher={keys[-1]}"


def row_of(page, name: str) -> int:
    """The Runs table's row that lists the run `name`, once the table has drawn it."""
    page.locator('[data-testid="stDataFrame"] [role="gridcell"]').filter(has_text=name).first.wait_for(state="attached")
    rows = table_rows(page)
    return next(i for i, r in enumerate(rows) if r[0] == name)


def test_tokens_stay_secret_and_only_the_owner_or_teacher_acts(browser, server, shots):
    ana, ctx_a, err_a = open_page(browser, server.url)
    ben, ctx_b, err_b = open_page(browser, server.url)
    teacher, ctx_t = None, None
    try:
        secret = token(ana)
        assert len(secret) >= 22 and secret != token(ben)
        name = ana.get_by_role("textbox", name="Your name (what others see)")
        rerun(ana, lambda: (name.fill("Ana"), name.press("Enter")), "Ana's name")     # watched from the fill on
        run = train_into(server, secret, {"name": "ana's spiral", "layers": preset_layers("MLP", "points", 2),
                                          "epochs": 2, "data": {"n_samples": 100}})
        everyone(ben)
        for link, (kind, what) in PAGES.items():           # every page, with Ana's run in the picker
            go(ben, link, ready(ben, kind, what))
            idle(ben)
            assert secret not in ben.content(), f"Ana's token is on Ben's {link} page"
        go(ben, "Runs", ben.get_by_text("Every run kept"))
        select_row(ben, row_of(ben, "ana's spiral"))
        ben.get_by_text(re.compile(r"· Ana's")).first.wait_for()          # the run panel: the name she chose
        idle(ben)
        assert secret not in ben.content()
        for label in ("Rename", "Resume", "Stop"):
            assert ben.get_by_role("button", name=label, exact=True).is_disabled(), label
        shots(ben, "ben-sees-anas-run")

        ctx_t = browser.new_context(viewport={"width": 1500, "height": 1900})
        teacher = ctx_t.new_page()
        watch(teacher)
        teacher.goto(sign_in_link(server))
        teacher.get_by_text("Signed in as the teacher").wait_for(timeout=60_000)
        idle(teacher)
        assert "teacher=" not in teacher.url, "the key stayed in the teacher's address"
        everyone(teacher)
        go(teacher, "Runs", teacher.get_by_text("Every run kept"))
        select_row(teacher, row_of(teacher, "ana's spiral"))
        box = teacher.get_by_role("textbox", name="New name")
        box.wait_for()
        rerun(teacher, lambda: (box.fill("ana's spiral (seen)"), box.press("Enter")), "the new name typed")
        renamed = teacher.get_by_role("heading", name="ana's spiral (seen)")
        for attempt in range(2):        # a click while the table's selection rerun is still drawing can be lost
            idle(teacher)
            teacher.get_by_role("button", name="Rename", exact=True).click()
            try:
                renamed.wait_for(timeout=15_000 if attempt == 0 else 30_000)
                break
            except Exception:
                if attempt == 1:
                    shots(teacher, "rename-not-done")
                    raise
        shots(teacher, "teacher-renamed")
        assert run.id in teacher.content() and secret not in teacher.content()
    finally:
        for ctx in (ctx_a, ctx_b, ctx_t):
            if ctx is not None:
                ctx.close()
    assert not err_a and not err_b, (err_a, err_b)


def test_a_lesson_link_opens_locked_controls_and_its_run_is_the_lessons(browser, server, shots):
    """A student opens the teacher's link to a shipped lesson: its instructions on top, the data set
    locked, the rest theirs; a Start trains within the lesson and the store records it there."""
    from playground.store import Store
    from tests.e2e.ui import set_number

    page, ctx, errors = open_page(browser, f"{server.url}/?lesson=spiral_small")
    try:
        page.get_by_text("Make the spiral learn with a small network").wait_for()
        idle(page)
        assert page.get_by_role("combobox", name="Data set").is_disabled()
        assert not page.get_by_role("combobox", name="Optimizer").is_disabled()
        assert "lesson=spiral_small" in page.url
        set_number(page, "Epochs", 3)
        page.get_by_role("button", name="Start training").click()
        page.get_by_text("finished 3 epochs").wait_for(timeout=60_000)
        shots(page, "lesson-run")
        mine = token(page)
        store = Store(server.home)                 # the server stores the last epochs just after the page shows them
        wait_for(lambda: [r.epochs_done for r in store.list(owner=mine, lesson="spiral_small")] == [3], 15,
                 "the run's 3 epochs in the store")
        runs = store.list(owner=mine, lesson="spiral_small")
        assert len(runs) == 1 and runs[0].config["data"]["name"] == "spiral" and runs[0].epochs_done == 3
    finally:
        ctx.close()
    assert not errors, errors
