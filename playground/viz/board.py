"""A lesson's class board: every student's runs as a table, a leaderboard and overlaid curves (pure:
entries in, a DataFrame or a Vega-Lite spec out). Who an entry's student is called (a name, "student
3", "teacher") is decided by the page; nothing here sees a token."""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import pandas as pd

from playground.lessons import GOALS, Goal
from playground.viz.compare import PALETTE
from playground.viz.curves import q, tip
from playground.viz.palette import cycled

REFERENCE_COLOR = "#000000"                    # the teacher's own runs: the reference, in black
STUDENTS = [c for c in PALETTE if c != REFERENCE_COLOR]    # the students' lines: any colour but the teacher's
SHORT = {"val_acc": "val acc", "val_loss": "val loss", "val_r2": "val R²", "val_token_acc": "val token acc"}
MAX_POINTS = 200                               # per run on the chart: a 3,000-epoch run is redrawn twice a second


def best_column(metric: str) -> str:
    return f"best {SHORT[metric]}"


@dataclass
class Entry:
    """One run on the board."""
    run_id: str
    student: str                               # what the board calls its owner: never a token
    name: str
    status: str
    epochs_done: int
    epochs_total: int
    started: float                             # time.time() when it was created
    epochs: list[dict] = field(default_factory=list)   # its epoch records (epoch, val_acc, val_loss, time_s, ...)
    reference: bool = False                    # the teacher's own run


def board_metric(goal: Goal | None, entries: list[Entry]) -> str:
    """What the board measures: the goal's metric; without a goal, validation accuracy where the runs
    record one, else validation loss."""
    if goal is not None:
        return goal.metric
    has_acc = any(e.get("val_acc") is not None for x in entries for e in x.epochs)
    return "val_acc" if has_acc else "val_loss"


def _measure(metric: str, goal: Goal | None) -> Goal:
    return goal if goal is not None and goal.metric == metric else Goal(metric, math.nan)


def best_of(entry: Entry, metric: str) -> tuple[float | None, int | None]:
    """The best value of `metric` over the entry's complete epochs and the first epoch that had it."""
    higher = GOALS[metric][1]
    best, at = None, None
    for e in entry.epochs:
        v = e.get(metric)
        if e.get("partial") or v is None or not math.isfinite(v):
            continue
        if best is None or (v > best if higher else v < best):
            best, at = v, e.get("epoch")
    return best, at


def reached_at(entry: Entry, goal: Goal) -> tuple[float, int] | None:
    """(wall-clock time, epoch) of the first epoch record that reached the goal; None if none did."""
    for e in entry.epochs:
        if not e.get("partial") and goal.reached(e.get(goal.metric)):
            return entry.started + float(e.get("time_s") or 0.0), e.get("epoch")
    return None


def board_table(entries: list[Entry], metric: str, goal: Goal | None) -> pd.DataFrame:
    """One row per run, in the entries' order: student, run, status, epochs done/planned, best value,
    whether it reached the goal (with a goal), when it started."""
    best_col = best_column(metric)
    rows = []
    for x in entries:
        best, _ = best_of(x, metric)
        row = {"student": x.student, "run": x.name, "status": x.status, "epochs": f"{x.epochs_done}/{x.epochs_total}",
               best_col: best}
        if goal is not None:
            row["goal reached"] = "yes" if goal.reached(best) else "no"
        row["started"] = dt.datetime.fromtimestamp(x.started)
        rows.append(row)
    cols = ["student", "run", "status", "epochs", best_col] + (["goal reached"] if goal else []) + ["started"]
    return pd.DataFrame(rows, columns=cols)


def leaderboard(entries: list[Entry], metric: str, goal: Goal | None) -> pd.DataFrame:
    """Each student's best run (the teacher's reference runs are not ranked): best value first, ties
    by fewer epochs to reach it, then by who got there first. Runs with no epoch yet are left out."""
    higher = GOALS[metric][1]
    mine: dict[str, tuple] = {}
    for x in entries:
        best, at = best_of(x, metric)
        if x.reference or best is None:
            continue
        t = x.started + next((float(e.get("time_s") or 0) for e in x.epochs if e.get("epoch") == at), 0.0)
        key = (-best if higher else best, at if at is not None else math.inf, t)
        if x.student not in mine or key < mine[x.student][0]:
            mine[x.student] = (key, x, best, at)
    ranked = sorted(mine.values(), key=lambda m: m[0])
    rows = [{"#": i + 1, "student": x.student, "run": x.name, best_column(metric): best, "at epoch": at,
             **({"goal reached": "yes" if goal.reached(best) else "no"} if goal else {})}
            for i, (_, x, best, at) in enumerate(ranked)]
    cols = ["#", "student", "run", best_column(metric), "at epoch"] + (["goal reached"] if goal else [])
    return pd.DataFrame(rows, columns=cols)


def first_to_goal(entries: list[Entry], goal: Goal | None) -> tuple[Entry, int] | None:
    """The student's run that reached the goal first by the clock (the reference runs aside), and at which epoch."""
    if goal is None:
        return None
    hits = [(r, x) for x in entries if not x.reference and (r := reached_at(x, goal)) is not None]
    if not hits:
        return None
    (_, epoch), x = min(hits, key=lambda h: h[0][0])
    return x, epoch


def _thin(records: list[dict]) -> list[dict]:
    """At most about MAX_POINTS of a run's records: every k-th, and the last."""
    if len(records) <= MAX_POINTS:
        return records
    k = math.ceil(len(records) / MAX_POINTS)
    return records[::k] + ([records[-1]] if (len(records) - 1) % k else [])


def board_chart(entries: list[Entry], metric: str, goal: Goal | None, large: bool = False,
                height: int = 380) -> dict:
    """Every run's curve of `metric` per epoch, one colour per student, the teacher's runs in black
    (thicker), the goal as a dashed rule. The spec's shape does not depend on the data (live redraws
    swap data only)."""
    students = list(dict.fromkeys(x.student for x in entries if not x.reference))
    refs = list(dict.fromkeys(x.student for x in entries if x.reference))
    colors = cycled(STUDENTS, len(students)) + [REFERENCE_COLOR] * len(refs)
    recs = [{"student": x.student, "run": x.name, "line": x.run_id, "epoch": e["epoch"], "y": e[metric],
             "reference": x.reference}
            for x in entries for e in _thin([e for e in x.epochs if e.get(metric) is not None
                                             and math.isfinite(e[metric])])]
    df = pd.DataFrame(recs, columns=["student", "run", "line", "epoch", "y", "reference"])
    rule = pd.DataFrame({"y": [goal.target] if goal is not None and goal.metric == metric else []}, dtype=float)
    name = GOALS[metric][0]
    scale = {"domain": [0, 1]} if "acc" in metric else {"zero": False}
    font = 20 if large else 12
    color = {"field": "student", "type": "nominal", "title": None,
             "scale": {"domain": students + refs, "range": colors},
             # in rows of a few names: one row of 30 students' names runs off the chart's right edge
             "legend": {"orient": "top", "labelLimit": 300, "labelFontSize": font, "symbolStrokeWidth": 4,
                        "columns": 5 if large else 8}}
    return {"height": height, "datasets": {"curves": df, "goal": rule},
            "config": {"axis": {"labelFontSize": font, "titleFontSize": font + 2}},
            "layer": [
                {"data": {"name": "curves"}, "mark": {"type": "line", "point": True},
                 "encoding": {"x": q("epoch", "epoch", axis={"tickMinStep": 1}), "y": q("y", name, scale=scale),
                              "color": color, "detail": {"field": "line", "type": "nominal"},
                              "strokeWidth": {"condition": {"test": "datum.reference", "value": 4}, "value": 2},
                              "tooltip": [tip("student", kind="nominal"), tip("run", kind="nominal"),
                                          tip("epoch", "d"), tip("y", ".4~g", name)]}},
                {"data": {"name": "goal"}, "mark": {"type": "rule", "strokeDash": [6, 4], "color": "#555"},
                 "encoding": {"y": q("y")}},
            ]}
