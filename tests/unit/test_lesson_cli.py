"""`python -m playground lesson add|list|export|import|delete` and `runs --lesson ID`, in-process (main()
is what the command runs): a lesson file goes into the store under a new id (add) or its own (import),
is listed with its rules, exported as JSON that reads back to the same lesson, and deleted; a shipped
lesson is not deletable; `runs --lesson` lists that lesson's runs only. A bad lesson file is refused
with one line "error: ..." naming the file and the fix, exit code 2, no traceback, and nothing stored."""
import json

import pytest

from playground.__main__ import main
from playground.config import RunConfig
from playground.lessons import Lesson, read_lesson
from playground.store import default_store
from playground.train.registry import Registry
from tests.tokens import token

LESSON = """\
# a test lesson: the XOR example with its data and seed fixed
id: cli-xor
title: XOR from the terminal
instructions: Find a learning rate that works.
config: xor_tanh.yaml
locked: [data, seed]
max_epochs: 50
goal: {metric: val_acc, target: 0.9}
"""


def ok(capsys, *argv) -> str:
    """What main() prints to stdout for argv; it must exit 0 and print no error."""
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    assert code == 0 and out.err == "", (argv, out)
    return out.out


def refused(capsys, *argv) -> str:
    """The one error line main() prints for argv (exit 2, nothing on stdout, no traceback)."""
    assert main([str(a) for a in argv]) == 2, argv
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert out.out == "" and len(lines) == 1 and lines[0].startswith("error: "), out
    return lines[0]


def stored_ids() -> set[str]:
    return {d["id"] for d in default_store().lessons()}


@pytest.fixture
def lesson_file(tmp_path):
    path = tmp_path / "xor.yaml"
    path.write_text(LESSON)
    yield path
    for lesson_id in stored_ids() & {"cli-xor"}:
        default_store().delete_lesson(lesson_id)


def test_add_list_export_import_delete_round_trip(capsys, lesson_file, tmp_path):
    before = stored_ids()
    out = ok(capsys, "lesson", "add", lesson_file)
    (new_id,) = stored_ids() - before                                     # add: a new id, not the file's
    assert new_id != "cli-xor" and f"?lesson={new_id}" in out and new_id in out.split()[0]

    listed = [json.loads(line) for line in ok(capsys, "lesson", "list", "--json").splitlines()]
    mine = next(x for x in listed if x["id"] == new_id)
    assert mine["title"] == "XOR from the terminal" and not mine["shipped"]
    assert mine["rules"] == ["fixed: data set and its settings, seed", "50 epochs at most",
                             "goal: validation accuracy ≥ 0.9"]
    assert {"spiral_small", "xor_notes"} <= {x["id"] for x in listed if x["shipped"]}
    text = ok(capsys, "lesson", "list")
    assert new_id in text and "XOR from the terminal" in text and "50 epochs at most" in text

    exported = json.loads(ok(capsys, "lesson", "export", new_id))
    reference = read_lesson(lesson_file)                                  # the file, read on its own
    assert Lesson.from_dict(exported) == Lesson.from_dict({**reference.to_dict(), "id": new_id})
    assert exported["config"] == RunConfig.from_dict(exported["config"]).to_dict()
    assert exported["config"]["data"]["name"] == "xor" and exported["locked"] == ["data", "seed"]

    out_file = tmp_path / "out" / "copy.json"
    out_file.parent.mkdir()
    ok(capsys, "lesson", "export", new_id, "--out", out_file)
    assert json.loads(out_file.read_text()) == exported

    ok(capsys, "lesson", "delete", new_id)
    assert new_id not in stored_ids()
    assert "no lesson" in refused(capsys, "lesson", "export", new_id)
    assert "no lesson" in refused(capsys, "lesson", "delete", new_id)


def test_import_keeps_the_files_id_and_replaces_that_lesson(capsys, lesson_file):
    out = ok(capsys, "lesson", "import", lesson_file)
    assert "?lesson=cli-xor" in out and default_store().lesson("cli-xor")["title"] == "XOR from the terminal"
    lesson_file.write_text(LESSON.replace("XOR from the terminal", "XOR, second version"))
    ok(capsys, "lesson", "import", lesson_file)
    assert default_store().lesson("cli-xor")["title"] == "XOR, second version"
    assert [d["id"] for d in default_store().lessons()].count("cli-xor") == 1


def test_a_shipped_lesson_is_exported_but_not_deleted(capsys):
    exported = json.loads(ok(capsys, "lesson", "export", "spiral_small"))
    assert exported["title"] == "Make the spiral learn with a small network" and exported["max_params"] == 600
    msg = refused(capsys, "lesson", "delete", "spiral_small")
    assert "shipped" in msg and "spiral_small" in msg
    assert "spiral_small" in [json.loads(x)["id"] for x in ok(capsys, "lesson", "list", "--json").splitlines()]


def test_runs_lists_only_the_runs_of_the_lesson(capsys):
    lesson = Lesson.from_dict({"title": "runs by lesson", "config": "xor_tanh.yaml"}, "cli-runs-lesson")
    reg = Registry(max_active=1, processes=False, store=default_store())
    config = RunConfig.from_dict({**lesson.config, "epochs": 1})
    inside = reg.start(RunConfig.from_dict({**config.to_dict(), "name": "in the lesson"}), owner=token("cli-l"),
                       lesson=lesson)
    assert inside.join(120)
    outside = reg.start(RunConfig.from_dict({**config.to_dict(), "name": "outside"}), owner=token("cli-l"))
    assert outside.join(120) and reg.flush()
    rows = [json.loads(x) for x in ok(capsys, "runs", "--lesson", "cli-runs-lesson", "--json").splitlines()]
    assert [r["id"] for r in rows] == [inside.id]
    assert inside.id in ok(capsys, "runs", "--lesson", "cli-runs-lesson")
    assert outside.id in {json.loads(x)["id"] for x in ok(capsys, "runs", "--json").splitlines()}
    assert "no lesson 'no-such-lesson'" in refused(capsys, "runs", "--lesson", "no-such-lesson")


@pytest.mark.parametrize("name, text, says", [
    ("untitled.yaml", LESSON.replace("title: XOR from the terminal\n", ""), "give it a title"),
    ("control.yaml", LESSON.replace("[data, seed]", "[data, colour]"), "unknown control(s) colour"),
    ("goal.yaml", LESSON.replace("metric: val_acc", "metric: happiness"), "goal is {metric: one of"),
    ("target.yaml", LESSON.replace("target: 0.9", "target: high"), "goal is {metric: one of"),
    ("nested.yaml", LESSON.replace("[data, seed]", "[[data], seed]"), "locked is a list of controls"),
    ("broken.yaml", "title: [unclosed\nconfig: xor_tanh.yaml\n", "is not valid YAML"),
    ("broken.json", '{"title": "x",\n "config": }', "is not valid JSON: Expecting value at line 2"),
    ("words.yaml", "just some words, not a lesson\n", "a lesson is a mapping"),
    ("binary.yaml", b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "is not a text file"),
])
@pytest.mark.parametrize("action", ["add", "import"])
def test_a_bad_lesson_file_is_refused_in_one_line(capsys, tmp_path, action, name, text, says):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    before = stored_ids()
    msg = refused(capsys, "lesson", action, path)
    assert says in msg and name in msg, msg
    assert stored_ids() == before


def test_an_id_that_cannot_go_into_a_link_is_refused_on_import(capsys, tmp_path):
    path = tmp_path / "link.yaml"
    path.write_text(LESSON.replace("id: cli-xor", "id: 'a b&c'"))
    assert "id 'a b&c' cannot go into a link" in refused(capsys, "lesson", "import", path)
    assert "a b&c" not in stored_ids()


def test_a_missing_file_is_refused(capsys, tmp_path):
    msg = refused(capsys, "lesson", "add", tmp_path / "nowhere.yaml")
    assert "nowhere.yaml" in msg and "cannot be read" in msg
