"""Lessons (playground/lessons.py) and the registry's checks: a lesson file is read and checked with
messages that name what is wrong; a run started in a lesson that changes a locked control, or breaks
its budget, is refused by the registry whatever the caller sends; the teacher's runs are not; the
lesson is recorded on the run; the shipped lessons are valid and their own configs keep their rules."""
import re

import pytest

from playground.config import RunConfig
from playground.errors import PlaygroundError
from playground.identity import Who
from playground.lessons import CONTROLS, Goal, Lesson, shipped_lessons
from playground.models import preset_layers
from playground.store import Store
from playground.train.registry import Registry

SPIRAL = {"name": "spiral", "layers": preset_layers("MLP", "points", 2), "epochs": 2,
          "data": {"name": "spiral", "n_samples": 100}, "optim": {"name": "adam", "lr": 0.01}, "seed": 3}
STUDENT, OTHER = Who("s" * 22), Who("o" * 22)
TEACHER = Who("t" * 22, teacher=True)


def lesson(**kw) -> Lesson:
    return Lesson.from_dict({"title": "spiral lesson", "config": SPIRAL, **kw}, "L1")


@pytest.fixture
def reg(tmp_path):
    r = Registry(max_active=4, processes=False, store=Store(tmp_path / "store"))
    yield r
    r.shutdown()


def started(reg, cfg: dict, who: Who, les: Lesson):
    run = reg.start(RunConfig.from_dict(cfg), owner=who, lesson=les)
    assert run.join(60) and run.history.status == "finished", run.history.message
    assert reg.flush()
    return run


@pytest.mark.parametrize("spec, message", [
    ({"config": SPIRAL}, "give it a title"),
    ({"title": "x"}, "'config'"),
    ({"title": "x", "config": SPIRAL, "locked": ["data", "wings"]}, "unknown control(s) wings"),
    ({"title": "x", "config": SPIRAL, "max_epochs": 0}, "max_epochs must be a whole number of at least 1"),
    ({"title": "x", "config": SPIRAL, "max_runs": "3"}, "max_runs must be a whole number"),
    ({"title": "x", "config": SPIRAL, "goal": {"metric": "val_acc"}}, "goal is"),
    ({"title": "x", "config": SPIRAL, "goal": {"metric": "speed", "target": 1}}, "goal is"),
    ({"title": "x", "config": SPIRAL, "max_epochs": 1}, "trains 2 epochs, past its budget of 1"),
    ({"title": "x", "config": {**SPIRAL, "epochs": -1}}, "epochs"),
    ({"title": "x", "config": "../../etc/passwd"}, "is not a file of examples/"),
    ({"title": "x", "config": SPIRAL, "colour": "red"}, "unknown key(s) colour"),
    ({"title": "x", "config": SPIRAL, "board": "everyone"}, "board is one of"),
])
def test_a_bad_lesson_is_refused_with_what_is_wrong(spec, message):
    with pytest.raises(PlaygroundError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Lesson.from_dict(spec)


def test_a_lesson_round_trips_and_can_start_from_an_example():
    les = lesson(locked=["data", "seed"], hidden=["init"], max_epochs=50, max_params=1000, max_runs=3,
                 goal={"metric": "val_acc", "target": 0.9}, instructions="*try*", board="names")
    again = Lesson.from_dict(les.to_dict())
    assert again == les and again.goal == Goal("val_acc", 0.9) and again.fixed() == ["data", "seed", "init"]
    from_example = Lesson.from_dict({"title": "xor", "config": "notes_xor_2_4_1.yaml"})
    assert from_example.config["epochs"] == 8000 and from_example.config["optim"]["lr"] == 2.0
    assert les.rules() == ["fixed: data set and its settings, seed", "hidden: initialisation", "50 epochs at most",
                           "1,000 parameters at most", "3 runs each at most", "goal: validation accuracy ≥ 0.9"]


def test_the_goal_reads_the_best_epoch_in_its_direction():
    records = [{"val_acc": 0.5, "val_loss": 0.9}, {"val_acc": 0.8, "val_loss": 0.4}, {"val_acc": 0.7, "val_loss": 0.5}]
    up, down = Goal("val_acc", 0.75), Goal("val_loss", 0.3)
    assert up.best(records) == 0.8 and up.reached(0.8) and not up.reached(0.7) and not up.reached(float("nan"))
    assert down.best(records) == 0.4 and not down.reached(0.4) and down.reached(0.3)
    assert up.best([{"val_loss": 1.0}]) is None


@pytest.mark.parametrize("control, change", [
    ("data", {"data": {"name": "moons", "n_samples": 100}}),
    ("data", {"data": {"name": "spiral", "n_samples": 200}}),
    ("network", {"layers": preset_layers("MLP", "points", 2)[:-2] + [{"type": "Linear", "out_features": 2}]}),
    ("lr", {"optim": {"name": "adam", "lr": 0.1}}),
    ("optimizer", {"optim": {"name": "sgd", "lr": 0.01}}),
    ("seed", {"seed": 4}),
    ("batch_size", {"batch_size": 64}),
    ("epochs", {"epochs": 1}),
])
def test_the_registry_refuses_a_run_that_changes_a_locked_control(reg, control, change):
    les = lesson(locked=[control])
    with pytest.raises(PlaygroundError, match=re.escape(f"{CONTROLS[control][0].lower()} is set by the lesson")):
        reg.start(RunConfig.from_dict({**SPIRAL, **change}), owner=STUDENT, lesson=les)
    assert reg.store.list(lesson="L1") == []                      # nothing was recorded for it
    others = [c for c in CONTROLS if c != control]
    run = started(reg, {**SPIRAL, **change}, STUDENT, lesson(locked=others if control != "data" else ["network"]))
    assert reg.store.get(run.id).lesson == "L1"                    # unlocked, the same change trains


def test_a_hidden_control_is_fixed_too(reg):
    with pytest.raises(PlaygroundError, match="learning rate is set by the lesson"):
        reg.start(RunConfig.from_dict({**SPIRAL, "optim": {"name": "adam", "lr": 0.1}}), owner=STUDENT,
                  lesson=lesson(hidden=["lr"]))


def test_the_budget_epochs_parameters_and_runs_per_student(reg):
    les = lesson(max_epochs=3, max_runs=2)
    with pytest.raises(PlaygroundError, match="5 epochs is past the lesson's 3"):
        reg.start(RunConfig.from_dict({**SPIRAL, "epochs": 5}), owner=STUDENT, lesson=les)
    wide = {**SPIRAL, "layers": [{"type": "Linear", "out_features": 64}, {"type": "ReLU"},
                                 {"type": "Linear", "out_features": 2}]}
    with pytest.raises(PlaygroundError, match="the network has 322 parameters, the lesson allows 100"):
        reg.start(RunConfig.from_dict(wide), owner=STUDENT, lesson=lesson(max_params=100))   # 2*64+64 + 64*2+2
    first = started(reg, SPIRAL, STUDENT, les)
    started(reg, SPIRAL, STUDENT, les)
    with pytest.raises(PlaygroundError, match="you have started 2 of the lesson's 2 runs"):
        reg.start(RunConfig.from_dict(SPIRAL), owner=STUDENT, lesson=les)
    started(reg, SPIRAL, OTHER, les)                               # per student: another one may
    reg.store.save_lesson("L1", les.to_dict())
    with pytest.raises(PlaygroundError, match="4 epochs is past the lesson's 3"):
        reg.resume(first.id, more_epochs=2, who=STUDENT)           # Train more past the budget: refused too


def test_the_teachers_reference_run_may_break_the_rules(reg):
    les = lesson(locked=["lr"], max_epochs=2)
    run = started(reg, {**SPIRAL, "epochs": 3, "optim": {"name": "adam", "lr": 0.1}}, TEACHER, les)
    assert reg.store.get(run.id).lesson == "L1"


def test_only_the_teacher_saves_or_deletes_lessons(reg):
    les = lesson()
    with pytest.raises(PlaygroundError, match="only the teacher can save lessons"):
        reg.save_lesson(les, STUDENT)
    reg.save_lesson(les, TEACHER)
    assert reg.lesson("L1") == les and [x.id for x in reg.lessons()][0] == "L1"
    with pytest.raises(PlaygroundError, match="only the teacher can delete lessons"):
        reg.delete_lesson("L1", STUDENT)
    reg.delete_lesson("L1", TEACHER)
    assert reg.lesson("L1") is None
    with pytest.raises(PlaygroundError, match="a shipped lesson is a file of examples/lessons, and stays"):
        reg.delete_lesson("spiral_small", TEACHER)


def test_the_shipped_lessons_are_valid_and_their_own_configs_keep_their_rules():
    lessons = shipped_lessons()
    assert {x.id for x in lessons} >= {"spiral_small", "xor_notes", "mnist_optimizers", "shapes_gradcam"}
    for les in lessons:
        assert les.shipped and les.goal is not None and les.instructions, les.id
        les.check_run(les.config, params=0, runs_so_far=0)         # the starting point breaks no rule
