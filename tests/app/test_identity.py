"""Who may do what, on the server: a browser's token is never shown to anyone else, a run can be
stopped, resumed, renamed or deleted only by its owner or the teacher (checked by the registry on every
action, not by the disabled buttons), and the teacher is whoever signs in with the server's key."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.config import RunConfig
from playground.errors import PlaygroundError
from playground.identity import Who
from playground.models import preset_layers
from playground.train import REGISTRY
from tests.tokens import token
from tests.trained import train_stored

APP = str(Path(__file__).resolve().parents[2] / "app.py")
ANA, BEN = token("ana-id-test"), token("ben-id-test")
KEY = "a-teacher-key-for-tests"


def spiral(name: str, owner: str, epochs: int = 1):
    return train_stored({"name": name, "layers": preset_layers("MLP", "points", 2), "epochs": epochs,
                         "data": {"n_samples": 100}}, owner=owner)


def browser(owner: str | None, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if owner is not None:
        at.query_params["me"] = owner
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def runs_page(at: AppTest, everyone: bool = True, pick: str | None = None) -> AppTest:
    at.switch_page("views/runs.py").run()
    if everyone:
        at.toggle(key="all_runs").set_value(True).run()
    if pick is not None:
        table = at.dataframe[0]
        listed = table.value["id"].tolist()
        at.session_state[table.key] = {"selection": {"rows": [listed.index(pick)], "columns": []}}
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def page_text(at: AppTest) -> str:
    """Everything the page holds, main area and sidebar: every element's message as sent to the
    browser (a table's cells included: its Arrow bytes keep strings as they are)."""
    out = []

    def walk(node):
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)
    walk(at._tree)
    return "\n".join(out)


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


@pytest.fixture
def teacher_key(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_TEACHER_KEY", KEY)
    return KEY


def test_others_see_the_name_an_owner_chose_never_their_token():
    ana_run, ben_run = spiral("ana's spiral", ANA), spiral("ben's spiral", BEN)
    ana = browser(ANA)
    ana.text_input(key="my_name").set_value("Ana").run()
    assert REGISTRY.store.names()[ANA] == "Ana"
    ben = runs_page(browser(BEN), pick=ana_run.id)
    table = ben.dataframe[0].value.set_index("id")
    assert table.loc[ana_run.id, "owner"] == "Ana"
    assert table.loc[ben_run.id, "owner"].startswith("anonymous ")             # no name chosen: a hash, no token
    assert any("Ana's" in c.value for c in ben.caption)                        # the run panel
    text = page_text(ben)
    assert ana_run.id in text and "Ana" in text                                # the walk does see the page
    assert ANA not in text, "Ana's token is on Ben's page"
    assert ANA[:8] not in text and BEN not in page_text(runs_page(browser(ANA)))


def test_a_student_cannot_act_on_anothers_run():
    """The page offers nothing (Streamlit itself drops a forged change of a disabled widget), and the
    registry refuses every action of another browser, whichever way it comes."""
    theirs = spiral("ana's run", ANA)
    ben = runs_page(browser(BEN), pick=theirs.id)
    for label in ("Rename", "Resume", "Stop"):
        assert button(ben, label).disabled, label
    assert ben.text_input(key=f"name_{theirs.id}").disabled
    for act in (lambda w: REGISTRY.resume(theirs.id, more_epochs=1, who=w), lambda w: REGISTRY.stop(theirs.id, w),
                lambda w: REGISTRY.rename(theirs.id, "x", who=w), lambda w: REGISTRY.delete(theirs.id, who=w)):
        with pytest.raises(PlaygroundError, match="only its owner or the teacher"):
            act(Who(BEN))
    row = REGISTRY.store.get(theirs.id)
    assert row is not None and row.name == "ana's run"


def test_a_page_drawn_while_allowed_is_checked_again_when_clicked(teacher_key):
    """The teacher's page offers Rename on a student's run; the teacher signs out in another tab; the
    click on the old page is refused by the server, with the reason on the page."""
    theirs = spiral("ana's other run", ANA)
    me = token("tea-stale")
    page = runs_page(browser(me, teacher=teacher_key), pick=theirs.id)
    assert not button(page, "Rename").disabled
    other_tab = browser(me)
    button(other_tab, "Sign out as teacher").click().run()
    page.text_input(key=f"name_{theirs.id}").set_value("not the teacher any more")
    button(page, "Rename").click().run()
    assert any("only its owner or the teacher can rename it" in e.value for e in page.error)
    assert REGISTRY.store.get(theirs.id).name == "ana's other run"


def test_a_student_cannot_stop_anothers_live_run():
    run = REGISTRY.start(RunConfig.from_dict({"name": "long", "layers": preset_layers("MLP", "points", 2),
                                              "epochs": 2000, "data": {"n_samples": 200}}), owner=Who(ANA))
    try:
        with pytest.raises(PlaygroundError, match="can stop it"):
            REGISTRY.stop(run.id, Who(BEN))
        assert run.alive
        REGISTRY.stop(run.id, Who(ANA))
        assert run.join(60) and run.history.status == "stopped"
    finally:
        run.stop()
        run.join(60)


def test_the_teacher_signs_in_with_the_key_and_may_act_on_any_run(teacher_key):
    theirs = spiral("a student's run", ANA)
    wrong = browser(token("tea-wrong"), teacher="not-the-key")
    assert "teacher" not in wrong.query_params                                 # the key leaves the address
    assert any("not this server's" in e.value for e in wrong.error)
    assert not any("Signed in as the teacher" in s.value for s in wrong.success)
    me = token("tea-right")
    teacher = browser(me, teacher=teacher_key)
    assert "teacher" not in teacher.query_params
    assert any("Signed in as the teacher" in s.value for s in teacher.success)
    assert teacher_key not in page_text(teacher)
    again = browser(me)                                                        # a reload of the same address
    assert any("Signed in as the teacher" in s.value for s in again.success)
    runs_page(again, pick=theirs.id)
    assert not button(again, "Rename").disabled
    again.text_input(key=f"name_{theirs.id}").set_value("renamed by the teacher")
    button(again, "Rename").click().run()
    assert REGISTRY.store.get(theirs.id).name == "renamed by the teacher"
    again.button(key=f"del_{theirs.id}").click().run()
    assert REGISTRY.store.get(theirs.id) is None
    button(again, "Sign out as teacher").click().run()
    assert not any("Signed in as the teacher" in s.value for s in browser(me).success)


def test_teacher_is_just_a_name_without_the_key():
    at = browser("teacher")
    assert at.query_params["me"] != "teacher"
    assert not any("Signed in as the teacher" in s.value for s in at.success)


def test_only_the_teacher_pauses_starts_and_a_paused_class_cannot_start(teacher_key):
    with pytest.raises(PlaygroundError, match="only the teacher"):
        REGISTRY.pause(True, Who(ANA))
    teacher = browser(token("tea-pause"), teacher=teacher_key)
    try:
        teacher.toggle(key="class_paused").set_value(True).run()
        assert REGISTRY.paused
        student = browser(ANA)
        assert any("paused" in w.value for w in student.warning)
        button(student, "Start training").click().run()
        assert any("the teacher has paused new runs" in e.value for e in student.error)
        with pytest.raises(PlaygroundError, match="paused"):
            REGISTRY.start(RunConfig.from_dict({"layers": preset_layers("MLP", "points", 2), "epochs": 1}),
                           owner=Who(ANA))
        run = REGISTRY.start(RunConfig.from_dict({"layers": preset_layers("MLP", "points", 2), "epochs": 1,
                                                  "data": {"n_samples": 100}}), owner=Who(token("tea-pause"), True))
        assert run.join(60) and run.history.status == "finished"
        teacher.toggle(key="class_paused").set_value(False).run()
        assert not REGISTRY.paused
    finally:
        REGISTRY.paused = False
