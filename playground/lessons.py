"""Lessons: what a teacher hands a class in one link (?lesson=ID).

A lesson is a title, short instructions (Markdown), a starting run config, the controls it locks
(shown, not editable) or hides, a budget (epochs, parameters, runs per student) and an optional goal
(e.g. validation accuracy >= 0.95). The server refuses a run started in a lesson that changes a
locked control or breaks the budget, whatever the browser sent (check_run); the page's disabled
widgets are only a courtesy. Lessons live in the run store (one JSON each) and travel as files
(export / import), so a teacher reuses them next term; examples/lessons/ ships a few.
"""
from __future__ import annotations

import copy
import functools
import json
import math
import re
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from playground.config import RunConfig, parse_mapping, read_mapping
from playground.errors import PlaygroundError

LESSONS_DIR = Path(__file__).resolve().parents[1] / "examples" / "lessons"
LESSON_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")       # it goes into the class's link: ?lesson=ID
# A control a lesson can lock or hide: its title, and the parts of a run config it covers.
CONTROLS: dict[str, tuple[str, tuple[tuple[str, ...], ...]]] = {
    "data": ("Data set and its settings", (("data",),)),
    "network": ("Network (the layers)", (("layers",),)),
    "task": ("Task and loss", (("task",), ("loss",))),
    "optimizer": ("Optimizer and its momentum", (("optim", "name"), ("optim", "momentum"), ("optim", "betas"))),
    "lr": ("Learning rate", (("optim", "lr"),)),
    "schedule": ("Learning-rate schedule", (("schedule",),)),
    "batch_size": ("Batch size", (("batch_size",),)),
    "epochs": ("Epochs", (("epochs",),)),
    "regularisation": ("Weight decay, L1, clipping, early stopping",
                       (("optim", "weight_decay"), ("l1",), ("clip_norm",), ("patience",))),
    "init": ("Initialisation", (("init",),)),
    "seed": ("Seed", (("seed",),)),
}
# Who sees a lesson's class board besides the teacher.
BOARD = {"teacher": "the teacher only", "names": "the class, with names", "anonymous": "the class, without names"}
# What a goal can be about: an epoch record's key, its words, and whether higher is better.
GOALS = {"val_acc": ("validation accuracy", True), "val_loss": ("validation loss", False),
         "val_r2": ("validation R²", True), "val_token_acc": ("validation token accuracy", True)}


@dataclass
class Goal:
    metric: str
    target: float

    def words(self) -> str:
        name, higher = GOALS[self.metric]
        return f"{name} {'≥' if higher else '≤'} {self.target:g}"

    def reached(self, value: float | None) -> bool:
        if value is None or not math.isfinite(value):
            return False
        return value >= self.target if GOALS[self.metric][1] else value <= self.target

    def best(self, epochs: list[dict]) -> float | None:
        """The best value of the goal's metric over a run's epoch records."""
        values = [e[self.metric] for e in epochs if e.get(self.metric) is not None]
        if not values:
            return None
        return max(values) if GOALS[self.metric][1] else min(values)


@dataclass
class Lesson:
    id: str
    title: str
    config: dict                                     # RunConfig.to_dict() of the starting point
    instructions: str = ""
    locked: list[str] = field(default_factory=list)  # CONTROLS keys
    hidden: list[str] = field(default_factory=list)  # CONTROLS keys (hidden is locked too)
    max_epochs: int | None = None
    max_params: int | None = None
    max_runs: int | None = None                      # per student
    goal: Goal | None = None
    board: str = "teacher"                           # who sees the class board: BOARD keys
    shipped: bool = False                            # from examples/lessons (read-only in the store)

    # -------------------------------------------------------------- making one
    @classmethod
    def from_dict(cls, d: dict, lesson_id: str | None = None) -> "Lesson":
        """A lesson from a mapping (a file, the store, a form), checked: PlaygroundError names what is wrong."""
        if not isinstance(d, dict):
            raise PlaygroundError("a lesson is a mapping with at least 'title' and 'config'")
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(map(str, set(d) - known))
        if unknown:
            raise PlaygroundError(f"lesson: unknown key(s) {', '.join(unknown)}; a lesson has "
                                  f"{', '.join(sorted(known - {'shipped'}))}")
        title, instructions = d.get("title") or "", d.get("instructions") or ""
        if not isinstance(title, str) or not isinstance(instructions, str):
            raise PlaygroundError("lesson: the title and the instructions are text")
        title = title.strip()
        if not title:
            raise PlaygroundError("lesson: give it a title")
        if "config" not in d:
            raise PlaygroundError("lesson: 'config' (the run config the class starts from) is missing")
        config = d["config"]
        if isinstance(config, str):                                  # an example's file name: its config
            path = LESSONS_DIR.parent / Path(config).name
            if not path.is_file():
                raise PlaygroundError(f"lesson: config '{config}' is not a file of examples/; give a run config "
                                      f"(a mapping) or an example's file name")
            config = read_mapping(path)
        config = RunConfig.from_dict(config).to_dict()               # validated here, once
        lesson = cls(id=_lesson_id(lesson_id or d.get("id")), title=title[:120], config=config, board=_board(d),
                     instructions=instructions, locked=_controls(d, "locked"),
                     hidden=_controls(d, "hidden"), goal=_goal(d.get("goal")), **_budget(d))
        if lesson.max_epochs is not None and config["epochs"] > lesson.max_epochs:
            raise PlaygroundError(f"lesson: its own config trains {config['epochs']} epochs, past its budget of "
                                  f"{lesson.max_epochs}")
        return lesson

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("shipped")
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    # -------------------------------------------------------------- what it allows
    def fixed(self) -> list[str]:
        """Controls a student cannot change: locked ones and hidden ones."""
        return list(dict.fromkeys([*self.locked, *self.hidden]))

    def check_run(self, config: dict, params: int, runs_so_far: int) -> None:
        """Refuse (PlaygroundError, every reason at once) a run of this lesson that changes a fixed
        control or breaks the budget; runs_so_far: the student's runs in this lesson already."""
        problems = []
        for control in self.fixed():
            title, paths = CONTROLS[control]
            if any(_at(config, p) != _at(self.config, p) for p in paths):
                problems.append(f"{title.lower()} is set by the lesson")
        if self.max_epochs is not None and config["epochs"] > self.max_epochs:
            problems.append(f"{config['epochs']} epochs is past the lesson's {self.max_epochs}")
        if self.max_params is not None and params > self.max_params:
            problems.append(f"the network has {params:,} parameters, the lesson allows {self.max_params:,}")
        if self.max_runs is not None and runs_so_far >= self.max_runs:
            problems.append(f"you have started {runs_so_far} of the lesson's {self.max_runs} runs")
        if problems:
            raise PlaygroundError(f"lesson '{self.title}': " + "; ".join(problems))

    def rules(self) -> list[str]:
        """The lesson's rules in words, for the page and the CLI."""
        out = []
        if self.locked:
            out.append("fixed: " + ", ".join(CONTROLS[c][0].lower() for c in self.locked))
        if self.hidden:
            out.append("hidden: " + ", ".join(CONTROLS[c][0].lower() for c in self.hidden))
        for key, words in (("max_epochs", "epochs at most"), ("max_params", "parameters at most"),
                           ("max_runs", "runs each at most")):
            if getattr(self, key) is not None:
                out.append(f"{getattr(self, key):,} {words}")
        if self.goal is not None:
            out.append(f"goal: {self.goal.words()}")
        return out


def _lesson_id(value) -> str:
    if value is None:
        return new_id()
    if not isinstance(value, str) or not LESSON_ID.fullmatch(value):
        raise PlaygroundError(f"lesson: id {value!r} cannot go into a link (?lesson=ID): use 1 to 64 letters, "
                              f"digits, '-' or '_'")
    return value


def _controls(d: dict, key: str) -> list[str]:
    names = d.get(key) or []
    if isinstance(names, str):
        names = [names]                              # locked: data
    if not isinstance(names, list) or not all(isinstance(c, str) for c in names):
        raise PlaygroundError(f"lesson: {key} is a list of controls ({', '.join(CONTROLS)}); got {names!r}")
    bad = [c for c in names if c not in CONTROLS]
    if bad:
        raise PlaygroundError(f"lesson: {key} names unknown control(s) {', '.join(bad)}; "
                              f"choose from {', '.join(CONTROLS)}")
    return list(dict.fromkeys(names))


def _budget(d: dict) -> dict:
    budget = {}
    for key in ("max_epochs", "max_params", "max_runs"):
        v = d.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise PlaygroundError(f"lesson: {key} must be a whole number of at least 1, or left out; got {v!r}")
        budget[key] = v
    return budget


def _goal(goal) -> Goal | None:
    if goal is None:
        return None
    if isinstance(goal, Goal):
        goal = asdict(goal)
    metric, target = (goal.get("metric"), goal.get("target")) if isinstance(goal, dict) else (None, None)
    if not isinstance(metric, str) or metric not in GOALS or isinstance(target, bool) or \
            not isinstance(target, (int, float)) or not math.isfinite(target):
        raise PlaygroundError(f"lesson: goal is {{metric: one of {', '.join(GOALS)}, target: a number}}; got {goal!r}")
    return Goal(metric, float(target))


def _board(d: dict) -> str:
    board = d.get("board") or "teacher"
    if not isinstance(board, str) or board not in BOARD:
        raise PlaygroundError(f"lesson: board is one of {', '.join(BOARD)} (who sees the class board); got {board!r}")
    return board


def _at(d: dict, path: tuple[str, ...]):
    for k in path:
        d = d.get(k) if isinstance(d, dict) else None
    return d


def new_id() -> str:
    return secrets.token_urlsafe(6)                  # 8 characters: a short link, not a secret


def lesson_from_file(data: bytes, name: str, keep_id: bool = True) -> Lesson:
    """A lesson file's bytes (.json or .yaml, read as safe YAML or JSON: nothing in it is executed),
    checked; every error names the file. keep_id=False: a new id, whatever the file says."""
    label = f"lesson file '{name}'"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PlaygroundError(f"{label} is not a text file (YAML or JSON)") from None
    d = parse_mapping(text, Path(name).name, label)
    if isinstance(d, dict) and not keep_id:
        d = {k: v for k, v in d.items() if k != "id"}
    try:
        return Lesson.from_dict(d)
    except PlaygroundError as e:
        raise PlaygroundError(f"{label}: {str(e).removeprefix('lesson: ')}") from None


def read_lesson(path: str | Path) -> Lesson:
    """A lesson file (.json or .yaml); its id is kept if it has one."""
    return Lesson.from_dict(read_mapping(path))


def shipped_lessons() -> list[Lesson]:
    """The lessons of examples/lessons (read again only when a file there changes); copies, so a caller
    may change what it gets."""
    files = sorted(LESSONS_DIR.glob("*.y*ml")) + sorted(LESSONS_DIR.glob("*.json"))
    return copy.deepcopy(_read_shipped(tuple(files), tuple(p.stat().st_mtime for p in files)))


@functools.lru_cache(maxsize=4)
def _read_shipped(files: tuple[Path, ...], mtimes: tuple[float, ...]) -> list[Lesson]:
    out = []
    for path in files:
        lesson = Lesson.from_dict({**read_mapping(path), "id": path.stem})
        lesson.shipped = True
        out.append(lesson)
    return out
