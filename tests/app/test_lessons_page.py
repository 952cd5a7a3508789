"""The Lessons page: everyone sees every lesson (title, rules, link) and opens one in Build & Train,
which then holds the lesson's config with its locked controls disabled; a student gets none of the
teacher's tools; the teacher imports a lesson file (it is listed), exports it (the bytes read back to
the same lesson), sets who sees its class board, and deletes it; a shipped lesson's deletion is
refused with the registry's reason, and so is a click from a page drawn before the teacher signed out."""
from pathlib import Path

import pytest
import yaml
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from playground.lessons import Lesson
from playground.train import REGISTRY
from tests.app.conftest import open_page
from tests.tokens import token

APP = str(Path(__file__).resolve().parents[2] / "app.py")
SHIPPED = Path(__file__).resolve().parents[2] / "examples" / "lessons"
KEY = "a-teacher-key-for-tests"
LESSON = """\
id: page-xor
title: XOR on the Lessons page
config: xor_tanh.yaml
locked: [data, network]
max_runs: 3
"""


def lessons_page(owner: str, **params) -> AppTest:
    return open_page("views/lessons.py", owner, **params)


def titles(at: AppTest) -> list[str]:
    return [m.value.removeprefix("#### ") for m in at.markdown if m.value.startswith("#### ")]


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def labels(at: AppTest) -> set[str]:
    """The labels of the page's buttons, downloads, uploads, selectboxes and popovers."""
    widgets = {w.label for w in [*at.button, *at.get("download_button"), *at.get("file_uploader"), *at.selectbox]}
    return widgets | {p.proto.popover.label for p in at.get("popover")}


@pytest.fixture
def teacher(monkeypatch):
    """A teacher's Lessons page, signed in with the server's key; the lesson it imports is removed after."""
    monkeypatch.setenv("PLAYGROUND_TEACHER_KEY", KEY)
    yield lambda name: lessons_page(name, teacher=KEY)
    if REGISTRY.store.lesson("page-xor") is not None:
        REGISTRY.store.delete_lesson("page-xor")


@pytest.fixture
def downloads(monkeypatch):
    """The bytes each download button hands the browser, by file name."""
    files = {}
    add = MediaFileManager.add

    def add_(mgr, data, mimetype, coordinates, file_name=None, is_for_static_download=False):
        files[file_name] = data.encode() if isinstance(data, str) else data
        return add(mgr, data, mimetype, coordinates, file_name, is_for_static_download)
    monkeypatch.setattr(MediaFileManager, "add", add_)
    return files


def test_a_student_sees_every_shipped_lesson_and_opens_one_in_build_and_train():
    at = lessons_page("stu-lessons")
    shipped = {p.stem: yaml.safe_load(p.read_text()) for p in SHIPPED.glob("*.yaml")}
    assert set(shipped) >= {"spiral_small", "xor_notes"}
    assert {d["title"] for d in shipped.values()} <= set(titles(at))
    text = captions(at)
    assert "`?lesson=spiral_small`" in text and "600 parameters at most" in text
    assert "goal: validation accuracy ≥ 0.95" in text
    assert not labels(at) & {"Export", "Delete", "Delete the lesson", "Edit in Build & Train"}, labels(at)
    assert not at.get("download_button") and not at.get("file_uploader")
    assert not [s for s in at.selectbox if s.key and s.key.startswith("board_")]

    at.button(key="open_spiral_small").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Build & Train"
    assert at.query_params["lesson"] == "spiral_small", dict(at.query_params)
    data = at.selectbox(key="data_name")
    assert data.value == "spiral" and data.disabled, "the lesson locks the data set"
    assert any("Make the spiral learn" in m.value for m in at.markdown)


def test_the_teacher_imports_exports_and_deletes_a_lesson(teacher, downloads):
    at = teacher("tea-lessons")
    assert "Delete" in labels(at) and at.get("download_button")
    at.file_uploader(key="lesson_upload").upload("xor.yaml", LESSON.encode(), "application/yaml").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "XOR on the Lessons page" in titles(at)
    stored = REGISTRY.lesson("page-xor")
    assert stored is not None and not stored.shipped and stored.max_runs == 3
    assert stored.config["data"]["name"] == "xor"

    assert "page-xor.json" in downloads, list(downloads)
    exported = Lesson.from_dict(yaml.safe_load(downloads["page-xor.json"]))
    assert exported == stored == Lesson.from_dict(yaml.safe_load(LESSON)), "the file read on its own"
    assert exported.locked == ["data", "network"] and exported.max_runs == 3

    at.selectbox(key="board_page-xor").select("names").run()
    assert REGISTRY.lesson("page-xor").board == "names"

    at.button(key="delete_page-xor").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert REGISTRY.store.lesson("page-xor") is None
    assert "XOR on the Lessons page" not in titles(at)


def test_deleting_a_shipped_lesson_shows_the_refusal(teacher):
    at = teacher("tea-shipped")
    at.button(key="delete_xor_notes").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("a shipped lesson is a file of examples/lessons, and stays" in e for e in errors), errors
    assert "XOR by gradient descent: find the learning rate" in titles(at)


@pytest.mark.parametrize("name, text, says", [
    ("untitled.yaml", LESSON.replace("title: XOR on the Lessons page\n", ""), "give it a title"),
    ("control.yaml", LESSON.replace("[data, network]", "[data, colour]"), "unknown control(s) colour"),
    ("broken.json", '{"title": "x", "config": ', "is not valid JSON"),
    ("notes.yaml", b"\x89PNG\r\n\x1a\n\x00\xff", "is not a text file"),
])
def test_a_bad_lesson_file_shows_its_message_not_an_exception(teacher, name, text, says):
    at = teacher("tea-bad-file")
    before = [x.id for x in REGISTRY.lessons()]
    at.file_uploader(key="lesson_upload").upload(name, text if isinstance(text, bytes) else text.encode()).run()
    assert not at.exception
    assert any(says in e.value and name in e.value for e in at.error), [e.value for e in at.error]
    assert [x.id for x in REGISTRY.lessons()] == before


def test_edit_opens_the_lesson_with_save_over(teacher):
    at = teacher("tea-edit")
    at.file_uploader(key="lesson_upload").upload("xor.yaml", LESSON.encode(), "application/yaml").run()
    at.button(key="edit_page-xor").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Build & Train"
    assert "Save over 'XOR on the Lessons page'" in {b.label for b in at.button}


def test_a_click_after_signing_out_is_refused_by_the_server(teacher):
    """The page was drawn for the teacher; they sign out in another tab; Delete on the old page is
    refused by the registry, and the lesson stays."""
    at = teacher("tea-signs-out")
    at.file_uploader(key="lesson_upload").upload("xor.yaml", LESSON.encode(), "application/yaml").run()
    other_tab = AppTest.from_file(APP, default_timeout=60)
    other_tab.query_params["me"] = token("tea-signs-out")
    other_tab.run()
    next(b for b in other_tab.button if b.label == "Sign out as teacher").click().run()
    at.button(key="delete_page-xor").click().run()
    assert any("only the teacher can delete lessons" in e.value for e in at.error), [e.value for e in at.error]
    assert REGISTRY.store.lesson("page-xor") is not None
