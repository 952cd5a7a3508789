"""The line for training slots on the page (issue 27): on a server that trains one run at once, a
student's Start waits with its place shown and a Stop that takes it out of the line; a second Start
past the student's cap is refused with the reason; the teacher sees who waits; and the waiting run
trains, on the student's page, once the slot is free."""
import pytest

from playground.config import RunConfig
from playground.identity import Who
from playground.models import preset_layers
from playground.train import registry
from tests.app.conftest import open_page
from tests.tokens import token
from tests.unit.test_server_settings import fresh_app_registry
from tests.waits import wait_for

KEY = "a-teacher-key-for-line-tests"


@pytest.fixture
def one_slot(monkeypatch):
    """The app as `PLAYGROUND_MAX_RUNS=1 PLAYGROUND_WAITING_PER_STUDENT=1` serves it (runs in threads)."""
    fresh_app_registry(monkeypatch, PLAYGROUND_MAX_RUNS="1", PLAYGROUND_PROCESSES="0",
                       PLAYGROUND_WAITING_PER_STUDENT="1")
    monkeypatch.setenv("PLAYGROUND_TEACHER_KEY", KEY)
    reg = registry.default_registry()
    yield reg
    reg.shutdown()


def texts(at, kind: str) -> list[str]:
    return [e.value for e in at.get(kind)]


def test_a_start_past_the_slots_waits_with_its_place_and_trains_when_the_slot_frees(one_slot):
    reg = one_slot
    ana = reg.start(RunConfig.from_dict({"layers": preset_layers("MLP", "points", 2), "epochs": 100_000,
                                         "data": {"n_samples": 100}}), owner=Who(token("ana-line")))
    wait_for(lambda: ana.history.progress["step"] > 0, 60, "Ana's first point")
    reg.store.set_name(token("ben-line"), "Bertil")

    ben = open_page(None, "ben-line")
    next(b for b in ben.button if b.label == "Start training").click().run()
    run = reg.get(ben.session_state["run_id"])
    assert run.waiting and run.history.status == "queued"
    [info] = [t for t in texts(ben, "info") if "in line" in t]
    assert info.startswith("waiting for a training slot: 1 of 1 in line (this server trains 1 runs at once")
    assert any("1 run waiting for a training slot" in c for c in texts(ben.sidebar, "caption"))
    assert any(b.label == "Stop" and not b.disabled for b in ben.button), "no Stop for the waiting run"

    next(b for b in ben.button if b.label == "Start training").click().run()      # past the cap: refused, said
    assert any(e.startswith("you have 1 Start waiting in line already") for e in texts(ben, "error")), \
        texts(ben, "error")
    assert len(reg.line()) == 1

    teacher = open_page(None, "teacher-line", teacher=KEY)
    [line] = [e for e in teacher.sidebar.get("expander") if e.label.startswith("Waiting in line")]
    assert line.label == "Waiting in line (1)"
    table = line.dataframe[0].value
    assert table[["place", "student"]].values.tolist() == [[1, "Bertil"]]
    assert table["run"].tolist() == [f"{run.id} · {run.name}"]
    assert token("ben-line") not in str(table.values), "a token on the teacher's page"
    assert not [e for e in open_page(None, "ana-line").sidebar.get("expander")
                if e.label.startswith("Waiting in line")], "a student sees the teacher's line"

    reg.stop(ana.id)
    wait_for(lambda: run.training and run.history.progress["step"] > 0, 60, "Ben's run training")
    ben.run()
    assert not [t for t in texts(ben, "info") if "in line" in t], "the page still says the run waits"
    assert reg.line() == []
    reg.stop(run.id)
