"""A lesson link on Build & Train (?lesson=ID): the lesson's config in the form, its instructions on
top, locked controls disabled and hidden ones not drawn; a Start in it is recorded on the lesson, and
one that changes a locked value is refused by the server with the reason on the page; the teacher saves
a lesson from the form. (AppTest, no browser.)"""
from pathlib import Path

from streamlit.testing.v1 import AppTest

from playground.lessons import Lesson
from playground.models import preset_layers
from playground.train import REGISTRY
from tests.app.conftest import open_page
from tests.tokens import token

APP = str(Path(__file__).resolve().parents[2] / "app.py")
KEY = "a-teacher-key-for-tests"
SMALL = {"name": "lesson spiral", "layers": preset_layers("MLP", "points", 2), "epochs": 2,
         "data": {"name": "spiral", "n_samples": 100}, "optim": {"name": "adam", "lr": 0.01}, "seed": 5}


def opened(owner: str, **params) -> AppTest:
    return open_page(None, owner, **params)


def saved(lesson_id: str, **kw) -> Lesson:
    return REGISTRY.save_lesson(Lesson.from_dict({"title": f"test lesson {lesson_id}", "config": SMALL, **kw},
                                                 lesson_id))


def start(at: AppTest) -> AppTest:
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_lesson_link_opens_its_config_with_its_controls_locked():
    at = opened("les-open", lesson="spiral_small")
    assert any("Make the spiral learn with a small network" in m.value for m in at.markdown)
    assert any("at most two hidden layers" in m.value for m in at.markdown)
    assert at.selectbox(key="data_name").value == "spiral" and at.selectbox(key="data_name").disabled
    assert at.number_input(key="seed").disabled                           # the sidebar's seed is the lesson's
    assert at.session_state["epochs"] == 100 and at.session_state["lr"] == 0.03
    assert not at.selectbox(key="optim").disabled                         # what the lesson leaves free
    assert next(b for b in at.button if b.label == "Load example").disabled   # it would undo the locks
    at.switch_page("views/compare.py").run()
    at.switch_page("views/build_train.py").run()
    assert at.query_params["lesson"] == "spiral_small" and at.selectbox(key="data_name").disabled


def test_hidden_controls_are_not_drawn_and_keep_the_lessons_values():
    saved("hidden1", hidden=["lr", "network"])
    at = opened("les-hidden", lesson="hidden1")
    assert not [s for s in at.select_slider if s.key == "lr"]
    assert at.session_state["lr"] == 0.01
    assert any("keeps the network hidden" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "del_1"]               # no layer editor


def test_a_start_in_a_lesson_is_recorded_on_it_and_a_forged_locked_value_is_refused():
    saved("locked1", locked=["lr", "data"], max_epochs=5)
    at = opened("les-start", lesson="locked1")
    at.session_state["lr"] = 0.1                                         # what a forged message would carry
    start(at)
    assert any("learning rate is set by the lesson" in e.value for e in at.error)
    assert REGISTRY.store.list(lesson="locked1") == []
    at.session_state["lr"] = 0.01
    at.number_input(key="epochs").set_value(6).run()
    start(at)
    assert any("6 epochs is past the lesson's 5" in e.value for e in at.error)
    at.number_input(key="epochs").set_value(2).run()
    start(at)
    runs = REGISTRY.store.list(lesson="locked1")
    assert len(runs) == 1 and runs[0].owner == token("les-start") and runs[0].config["optim"]["lr"] == 0.01
    assert REGISTRY.get(runs[0].id).join(60)


def test_an_unknown_lesson_says_so_and_leaving_one_frees_the_form():
    at = opened("les-none", lesson="no-such-lesson")
    assert any("no lesson 'no-such-lesson'" in w.value for w in at.warning)
    assert "lesson" not in at.query_params and not at.selectbox(key="data_name").disabled
    at = opened("les-leave", lesson="spiral_small")
    next(b for b in at.button if b.label == "Leave the lesson").click().run()
    assert "lesson" not in at.query_params and not at.selectbox(key="data_name").disabled


def test_the_teacher_saves_the_form_as_a_lesson_and_a_student_opens_it(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_TEACHER_KEY", KEY)
    student = opened("les-student")
    assert not any(e.label.startswith("Teacher: save") for e in student.expander)
    teacher = opened("les-teacher", teacher=KEY)
    teacher.selectbox(key="data_name").set_value("moons").run()
    teacher.text_input(key="lesson_title").set_value("Moons, fixed")
    teacher.multiselect(key="lesson_locked").set_value(["data"])
    teacher.number_input(key="lesson_max_epochs").set_value(150)
    teacher.selectbox(key="lesson_goal_metric").set_value("val_acc").run()
    teacher.number_input(key="lesson_goal_target").set_value(0.9)
    next(b for b in teacher.button if b.label == "Save as a new lesson").click().run()
    assert not teacher.exception, [e.value for e in teacher.exception]
    lesson_id = teacher.session_state["lesson_saved"]
    les = REGISTRY.lesson(lesson_id)
    assert (les.title, les.locked, les.max_epochs, les.goal.words()) == ("Moons, fixed", ["data"], 150,
                                                                          "validation accuracy ≥ 0.9")
    assert les.config["data"]["name"] == "moons"
    assert any(f"?lesson={lesson_id}" in s.value for s in teacher.success)
    kid = opened("les-kid", lesson=lesson_id)
    assert kid.selectbox(key="data_name").value == "moons" and kid.selectbox(key="data_name").disabled


def test_a_lesson_without_a_title_is_not_saved(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_TEACHER_KEY", KEY)
    teacher = opened("les-notitle", teacher=KEY)
    before = len(REGISTRY.store.lessons())
    next(b for b in teacher.button if b.label == "Save as a new lesson").click().run()
    assert any("give it a title" in e.value for e in teacher.error) and len(REGISTRY.store.lessons()) == before
