"""The class board (issue 27): a lesson's runs, every student's, in a table whose epochs and best values
are those stored for each run, a leaderboard by the goal (each student's best run, best first, ties by
fewer epochs), who reached the goal; names, "student n" or nothing at all for a student as the lesson
says (decided on the server: a hidden board sends none of its runs); the teacher's own runs drawn as
the black reference; no token anywhere on the page; and a run opened from the board in another page."""
import json
import math

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from playground.config import RunConfig
from playground.identity import Who
from playground.lessons import Lesson
from playground.models import preset_layers
from playground.store import default_store
from playground.train import REGISTRY
from playground.train.checked import default_name
from playground.train.registry import Registry
from playground.viz.board import Entry, leaderboard
from tests.app.conftest import APP
from tests.app.test_identity import page_text
from tests.tokens import token

ANA, BEN, TEA, EVE = token("ana-board-test"), token("ben-board-test"), token("tea-board-test"), token("eve-board")
KEY = "a-teacher-key-for-tests"
LESSON = "board-test"


def spiral(name: str, epochs: int, seed: int) -> dict:
    return {"name": name, "layers": preset_layers("MLP", "points", 2), "epochs": epochs, "seed": seed,
            "data": {"n_samples": 100}}


def save_lesson(board: str, target: float | None = None) -> Lesson:
    goal = None if target is None else {"metric": "val_acc", "target": target}
    return REGISTRY.save_lesson(Lesson.from_dict({"id": LESSON, "title": "Board test spiral", "board": board,
                                                  "config": spiral("start", 1, 0), "goal": goal}))


@pytest.fixture(scope="module")
def runs():
    """Ana: two runs, Ben: one, the teacher: a reference run, all in the lesson; Eve's is in no lesson.
    The goal sits between the students' best values, so some reached it and some did not."""
    lesson = save_lesson("names", 0.5)
    reg = Registry(max_active=1, processes=False, store=default_store())
    started = {}
    for key, owner, cfg, in_lesson in (("ana1", Who(ANA), spiral("ana first", 1, 1), True),
                                       ("ben", Who(BEN), spiral("ben only", 2, 2), True),
                                       ("ana2", Who(ANA), spiral("ana second", 3, 3), True),
                                       ("tea", Who(TEA, teacher=True), spiral("teacher ref", 2, 4), True),
                                       ("eve", Who(EVE), spiral("eve elsewhere", 1, 5), False)):
        run = reg.start(RunConfig.from_dict(cfg), owner=owner, lesson=lesson if in_lesson else None)
        assert run.join(120) and run.history.status == "finished", run.history.message
        started[key] = run
    assert reg.flush()
    REGISTRY.store.set_name(ANA, "Anouk")
    REGISTRY.store.set_name(BEN, "Bertil")
    best = {k: max(e["val_acc"] for e in REGISTRY.store.metrics(r.id)["epochs"]) for k, r in started.items()}
    students = sorted(best[k] for k in ("ana1", "ben", "ana2"))
    assert students[0] < students[-1], f"the runs' best accuracies are all equal ({students}): no goal separates them"
    target = (students[0] + students[-1]) / 2
    save_lesson("names", target)
    return started, best, target


def board(owner: str, teacher: bool = False) -> AppTest:
    """The board as browser `owner` sees it, opened from inside the lesson (?lesson=), as a student would."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["me"] = owner
    at.query_params["lesson"] = LESSON
    if teacher:
        at.query_params["teacher"] = KEY
    at.run()
    at.switch_page("views/board.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def chart(at: AppTest) -> tuple[dict, dict[str, pd.DataFrame]]:
    """The board chart's spec and its named data sets (Arrow IPC, as Streamlit sends them)."""
    [c] = at.get("vega_lite_chart")
    data = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in c.proto.datasets}
    return json.loads(c.proto.spec), data


@pytest.fixture
def teacher_key(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_TEACHER_KEY", KEY)
    return KEY


def test_the_teacher_sees_every_run_with_its_stored_numbers_and_a_leaderboard(runs, teacher_key):
    started, best, target = runs
    at = board(TEA, teacher=True)
    assert at.selectbox(key="board_lesson").value == LESSON, "the board did not open on the browser's lesson"
    table = at.dataframe[0].value.set_index("run")
    assert sorted(table.index) == ["ana first", "ana second", "ben only", "teacher ref"], "not the lesson's runs"
    for key, run in started.items():
        if key == "eve":
            continue
        row = table.loc[run.name]
        records = REGISTRY.store.metrics(run.id)["epochs"]
        assert row["epochs"] == f"{len(records)}/{run.config.epochs}", (run.name, row["epochs"])
        assert row["best val acc"] == pytest.approx(best[key], abs=1e-12), run.name
        assert row["goal reached"] == ("yes" if best[key] >= target else "no"), (run.name, best[key], target)
        assert row["status"] == "finished"
    assert table.loc["ana first", "student"] == "Anouk" and table.loc["ben only", "student"] == "Bertil"
    assert table.loc["teacher ref", "student"] == "teacher (reference)"

    ranked = at.dataframe[1].value
    ana = max(best["ana1"], best["ana2"])
    expected = sorted([("Anouk", ana), ("Bertil", best["ben"])], key=lambda p: -p[1])
    assert list(zip(ranked["student"], ranked["best val acc"])) == expected, ranked
    assert list(ranked["#"]) == [1, 2]

    spec, data = chart(at)
    color = spec["layer"][0]["encoding"]["color"]["scale"]
    assert dict(zip(color["domain"], color["range"]))["teacher (reference)"] == "#000000"
    assert len(set(color["range"])) == 3, "one colour per student and black for the teacher"
    assert data["goal"]["y"].tolist() == [pytest.approx(target)]
    lines = data["curves"]
    assert len(lines[lines["run"] == "ana second"]) == 3, "one point per epoch of ana's 3-epoch run"
    first = [s.value for s in at.success if "First to reach the goal" in s.value]
    assert len(first) == 1 and ("Anouk" in first[0] or "Bertil" in first[0]), first
    text = page_text(at)
    assert "ana second" in text, "the walk does see the board"
    for secret in (ANA, BEN, TEA, EVE, KEY):
        assert secret not in text, "a token is on the teacher's board"


def test_a_student_sees_names_anonymous_or_nothing_as_the_lesson_says(runs, teacher_key):
    started, best, target = runs
    board(TEA, teacher=True)                                         # the teacher has signed in on this server
    try:
        at = board(BEN)                                              # board: names
        table = at.dataframe[0].value
        # the teacher's run is the reference on a student's board too, not one more student
        assert set(table["student"]) == {"Anouk", "Bertil", "teacher (reference)"}, set(table["student"])
        for secret in (ANA, BEN, TEA, EVE):
            assert secret not in page_text(at), "a token is on a student's board"

        save_lesson("anonymous", target)
        at = board(BEN)
        table = at.dataframe[0].value
        runs_of = table.groupby("student")["run"].apply(list).to_dict()
        # stable numbers by first run: Ana started first, Ben second; the teacher's run is not numbered.
        # Another student's run names may give them away ("Ana's try"): named by their network instead
        assert runs_of == {"student 1": [default_name(started["ana1"].config), default_name(started["ana2"].config)],
                           "student 2 (you)": ["ben only"], "teacher (reference)": ["teacher ref"]}, runs_of
        text = page_text(at)
        assert "ana first" not in text and "ana second" not in text, "another student's run name on an anonymous board"
        assert "Anouk" not in text, "another student's name is on an anonymous board"
        assert "Bertil" not in " ".join(table["student"]), "a name is in an anonymous board's table"
        for secret in (ANA, BEN, TEA, EVE):
            assert secret not in text

        save_lesson("teacher", target)
        at = board(BEN)
        assert any("has not opened this lesson's board" in i.value for i in at.info)
        assert not at.dataframe and not at.get("vega_lite_chart")
        text = page_text(at)
        assert not any(name in text for name in ("ana first", "ana second", "teacher ref")), \
            "a hidden board sent others' runs"          # Ben's own run is in his sidebar's picker, as always
    finally:
        save_lesson("names", target)


def test_a_run_opens_from_the_board_in_the_chosen_page(runs):
    started, _, _ = runs
    at = board(BEN)
    assert next(b for b in at.button if b.label == "Open the run").disabled, "Open is offered before a run is chosen"
    at.selectbox(key="board_pick").select(started["ana2"].id)
    at.selectbox(key="board_view").select("Evaluate").run()
    next(b for b in at.button if b.label == "Open the run").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == ["Evaluate"], [t.value for t in at.title]
    assert at.session_state["run_id"] == started["ana2"].id
    assert at.selectbox(key="run_id").value == started["ana2"].id, "the sidebar does not show Ana's run"
    # the browser may send the Everyone's runs switch's old value (off) in the rerun after: the run stays shown
    at.toggle(key="all_runs").set_value(False).run()
    assert at.selectbox(key="run_id").value == started["ana2"].id, "the opened run left the sidebar"


def test_no_runs_yet_says_how_to_get_some(teacher_key):
    REGISTRY.save_lesson(Lesson.from_dict({"id": "board-empty", "title": "Nobody started yet", "board": "names",
                                           "config": spiral("start", 1, 0)}))
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["me"] = BEN
    at.run()
    at.switch_page("views/board.py").run()
    at.selectbox(key="board_lesson").select("board-empty").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("No runs in this lesson yet" in i.value and "?lesson=board-empty" in i.value for i in at.info)
    assert not at.dataframe


def test_leaderboard_ties_go_to_fewer_epochs_and_the_reference_is_not_ranked():
    def entry(student, name, accs, reference=False):
        recs = [{"epoch": i + 1, "val_acc": a, "time_s": float(i)} for i, a in enumerate(accs)]
        return Entry(name, student, name, "finished", len(accs), len(accs), 0.0, recs, reference)

    entries = [entry("A", "a slow", [0.5, 0.7, 0.9]), entry("B", "b fast", [0.9, 0.8]),
               entry("C", "c low", [0.6]), entry("T", "ref", [0.99], reference=True),
               entry("A", "a worse", [0.4])]
    board = leaderboard(entries, "val_acc", None)
    assert list(board["student"]) == ["B", "A", "C"]
    assert list(board["run"]) == ["b fast", "a slow", "c low"]
    assert list(board["at epoch"]) == [1, 3, 1]
    assert not math.isnan(board["best val acc"].iloc[0])


def test_large_type_redraws_the_tables_and_the_chart_for_a_projector(runs, teacher_key):
    at = board(TEA, teacher=True)
    small = chart(at)[0]["config"]["axis"]["labelFontSize"]
    order = list(at.dataframe[1].value["student"])
    at.toggle(key="large_type").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert chart(at)[0]["config"]["axis"]["labelFontSize"] > small
    assert not at.dataframe and len(at.table) == 2, "large type draws both tables as HTML tables (CSS-sized)"
    ranked, every = (t.value for t in at.table)                   # the leaderboard on top
    assert list(ranked["student"]) == order and len(order) == 2, (list(ranked["student"]), order)
    assert sorted(every["run"]) == ["ana first", "ana second", "ben only", "teacher ref"]
