"""The crawler: every page, for each kind of run, with every widget on it set to its choices one at a
time (AppTest, no browser). A state fails when it draws an exception box, logs an error, or shows a
download button that produces nothing.

AppTest sets a widget the way a browser does: it sends the widget's new state (for a choice, the
option's text) with the next run. Widgets are found again after each run by key, or by type and
label, since a run may add or remove some; a widget gone by its turn is counted as such.
"""
from __future__ import annotations

import copy
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from tests.app.conftest import record_media
from tests.tokens import token

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGES = ["views/build_train.py", "views/compare.py", "views/race.py", "views/runs.py", "views/evaluate.py",
         "views/filters.py", "views/layer_stats.py", "views/attention.py", "views/latent.py", "views/explain.py",
         "views/lessons.py", "views/board.py"]
# they never read the run shown: crawled once, not per kind
RUN_FREE = ("views/compare.py", "views/race.py", "views/lessons.py", "views/board.py")
# Widgets the crawler leaves alone, with the reason (each has a test of its own).
SKIP = {
    "file_uploader": "an upload needs a file: the config upload has tests in tests/app/test_build_train.py",
}
SKIP_BUTTONS = {
    "Delete for good": "would delete the run under the crawl (tests/e2e/test_afternoon.py clicks it)",
}
CHOICE_TYPES = ("selectbox", "radio", "select_slider", "button_group", "multiselect")
WIDGET_TYPES = (*CHOICE_TYPES, "slider", "number_input", "toggle", "checkbox", "text_input", "text_area", "button")


class _ErrorLog(logging.Handler):
    """The log during a crawl: every ERROR record a run writes is a problem."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record):
        self.records.append(f"{record.name}: {record.getMessage()}"[:400])


@dataclass
class Report:
    states: int = 0                                  # page runs checked (one per widget setting)
    widgets: set = field(default_factory=set)       # (page, widget id) set at least once
    gone: int = 0                                    # widgets no longer there at their turn
    downloads: int = 0                               # download buttons whose file was produced and checked
    started: int = 0                                 # runs a click started, trained a few steps and stopped
    disabled: set = field(default_factory=set)       # widgets disabled at their turn (a browser cannot set them)
    problems: list[str] = field(default_factory=list)


class Crawler:
    """Crawl pages of `app` as browser `owner`, showing `run_id` (None: no run); `rng` samples long
    option lists."""

    def __init__(self, owner: str, run_id: str | None, rng: random.Random, max_choices: int = 3, app: str = APP,
                 start_after: str | None = None):
        """start_after: a button's label (e.g. "Start training") to press after every setting, where the
        page has it enabled, so that each choice is also trained, not only drawn."""
        self.owner, self.run_id, self.rng, self.max_choices, self.app = token(owner), run_id, rng, max_choices, app
        self.start_after = start_after
        self._form: dict | None = None               # Build & Train's form as opened (with start_after)
        self.title: str | None = None                # the crawled page's title, to come back to it
        self.report = Report()
        self._files: dict[str, object] = {}          # media file id -> bytes or a deferred callable

    # -- media: what each download button would give the browser ---------------------------------
    def _check_downloads(self, at, where: str) -> None:
        for el in at.get("download_button"):
            p = el.proto
            if p.disabled:
                continue
            ref = p.deferred_file_id if p.HasField("deferred_file_id") else p.url
            data = self._files.get(ref)
            try:
                data = data() if callable(data) else data
            except Exception as e:                     # what the browser would get: nothing
                self.report.problems.append(f"{where}: download '{p.label}' fails: {type(e).__name__}: {e}")
                continue
            if hasattr(data, "read"):
                data = data.read()
            if not data:
                self.report.problems.append(f"{where}: download '{p.label}' gives an empty file")
            else:
                self.report.downloads += 1

    # -- one run of the app, checked --------------------------------------------------------------
    def _run(self, at: AppTest, where: str, log: _ErrorLog) -> None:
        log.records.clear()
        at.run()
        self.report.states += 1
        for e in at.exception:
            self.report.problems.append(f"{where}: exception box: {e.proto.type}: {e.value[:300]}")
        for r in log.records:
            self.report.problems.append(f"{where}: logged: {r}")
        self._check_downloads(at, where)

    def open(self, page: str, log: _ErrorLog) -> AppTest:
        at = AppTest.from_file(self.app, default_timeout=90)
        at.query_params["me"] = self.owner
        if self.app == APP:
            at.run()
            if self.run_id is not None:
                at.session_state["run_id"] = self.run_id
            at.switch_page(page)
        self._run(at, f"{page} (opened)", log)
        self.title = at.title[0].value if at.title else None
        return at

    # -- the crawl --------------------------------------------------------------------------------
    def crawl(self, page: str, monkeypatch) -> None:
        self._files = record_media(monkeypatch)
        log = _ErrorLog()
        root = logging.getLogger()
        root.addHandler(log)
        try:
            at = self.open(page, log)
            self._form = self._form_state(at) if self.start_after else None
            done: set = set()
            for _ in range(3):              # the page as opened, then widgets that earlier settings brought up
                todo = []
                for w in self._widgets(at):
                    if self._ident(w) not in done and self._ident(w) not in todo:
                        todo.append(self._ident(w))
                if not todo:
                    break
                for ident in todo:
                    done.add(ident)
                    self._crawl_widget(at, page, ident, log)
        finally:
            root.removeHandler(log)

    def _crawl_widget(self, at: AppTest, page: str, ident: tuple[str, str], log) -> None:
        for setting in self._settings(at, ident):
            if self.start_after and self._form is not None:   # each setting from the opened form, then trained
                for k, v in self._form.items():
                    at.session_state[k] = copy.deepcopy(v)
                at.run()
            w = self._find(at, ident)
            if w is None:
                self.report.gone += 1
                return
            if getattr(w.proto, "disabled", False):
                self.report.disabled.add((page, ident))
                return
            before = {r.id for r in self._runs()}
            label = setting(w)
            self.report.widgets.add((page, ident))
            where = f"{page} · {ident[0]} '{ident[1]}' = {label}"
            self._run(at, where, log)
            if self.start_after and ident[0] != "button":    # a setting, not a click
                start = next((b for b in at.button if b.label == self.start_after and not b.disabled), None)
                if start is not None:
                    start.click()
                    self._run(at, f"{where}, then '{self.start_after}'", log)
            # with start_after, each started run trains its first steps; else the same buttons (Start, the
            # lessons) have been checked so with no run shown, and a run is only checked not to fail at once
            self._check_started(before, where, wait=8.0 if self.start_after else 0.0)
            self._back(at, page, log)

    @staticmethod
    def _form_state(at: AppTest) -> dict | None:
        """Build & Train's form as opened (its widgets' values and the layers), to start each setting from."""
        from ui.run_form import FORM

        keys = [*FORM, "layers", "net_kind", "net_edited", "settings_kind", "_data_was"]
        if "layers" not in at.session_state:
            return None
        return {k: copy.deepcopy(at.session_state[k]) for k in keys if k in at.session_state}

    def _runs(self) -> list:
        from playground.train import REGISTRY

        return [r for r in REGISTRY.runs(self.owner) if r is not None]

    def _check_started(self, before: set, where: str, wait: float = 8.0) -> None:
        """A run that a click started must train: wait for its first steps (or its end), then stop it.
        One that failed is a problem (a refusal before it starts is not: the page says why)."""
        import time

        for run in [r for r in self._runs() if r.id not in before]:
            end = time.monotonic() + wait
            while run.alive and time.monotonic() < end and run.history.progress["step"] < 3:
                time.sleep(0.05)
            run.stop()
            run.join(10)
            self.report.started += 1
            if run.history.status == "failed":
                self.report.problems.append(f"{where}: the run it started failed: {run.history.message[:300]}")

    def _back(self, at: AppTest, page: str, log) -> None:
        """After a button that opened another page or picked another run: back to the crawl's own."""
        moved = self.run_id is not None and "run_id" in at.session_state and at.session_state["run_id"] != self.run_id
        if moved:
            at.session_state["run_id"] = self.run_id
        away = bool(at.title) and at.title[0].value != self.title
        if (moved or away) and self.app == APP:
            at.switch_page(page)
            self._run(at, f"{page} (back)", log)

    @staticmethod
    def _widgets(at: AppTest) -> list:
        out = []
        for t in WIDGET_TYPES:
            for w in at.get(t):
                if t in SKIP or (t == "button" and w.label in SKIP_BUTTONS):
                    continue
                out.append(w)
        return out

    @staticmethod
    def _ident(w) -> tuple[str, str]:
        return (w.type, w.key if getattr(w, "key", None) else f"label:{w.label}")

    def _find(self, at: AppTest, ident: tuple[str, str]):
        for w in at.get(ident[0]):
            if self._ident(w) == ident:
                return w
        return None

    def _settings(self, at: AppTest, ident: tuple[str, str]) -> list:
        """The settings to try for one widget, each a function that applies it and names it."""
        w = self._find(at, ident)
        if w is None:
            return []
        t = w.type
        if t in CHOICE_TYPES:
            options = [o.content if hasattr(o, "content") else o for o in w.proto.options]
            picks = list(range(len(options)))
            if len(picks) > self.max_choices:            # first, last and a sampled one between
                picks = [0, len(picks) - 1, self.rng.randrange(1, len(picks) - 1)]
            return [lambda w, i=i: _force_choice(w, options, i) for i in picks]
        if t == "slider":
            return [lambda w: _set(w, _slider_end(w, lo=True)), lambda w: _set(w, _slider_end(w, lo=False))]
        if t == "number_input":
            p = w.proto
            lo = p.min if p.has_min else -1
            hi = p.max if p.has_max else 10**9
            ints = p.data_type == p.INT
            return [lambda w, v=v: _set(w, int(v) if ints else float(v)) for v in (lo, hi, 0)]
        if t in ("toggle", "checkbox"):
            return [lambda w: _set(w, not w.value)]
        if t in ("text_input", "text_area"):
            return [lambda w: _set(w, "?? not this"), lambda w: _set(w, "")]
        if t == "button":
            return [lambda w: (w.click(), "click")[1]]
        return []


def _set(w, value):
    w.set_value(value)
    return repr(value)


def _slider_end(w, lo: bool):
    p = w.proto
    v = p.min if lo else p.max
    value = w.value
    if isinstance(value, (list, tuple)):                 # a range slider: both ends at the chosen side
        return (v, v)
    return int(v) if p.data_type == p.INT else v


def _force_choice(w, options: list[str], i: int) -> str:
    """Send option i as the browser would (its text), whatever its value's type."""
    ws = WidgetState()
    ws.id = w.id
    if w.type in ("selectbox", "radio"):
        ws.string_value = options[i]
    else:                                                # select_slider, button_group, multiselect
        ws.string_array_value.data[:] = [options[i]]
    cls = type(w)
    w.__class__ = type(f"Forced{cls.__name__}", (cls,), {"_widget_state": property(lambda self: ws)})
    return repr(options[i])
