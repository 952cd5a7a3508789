"""The Runs page, this browser's identity across pages, and what it was editing (AppTest, no browser)."""
import base64
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from playground.config import RunConfig
from playground.models import preset_layers
from playground.train import REGISTRY
from tests.tokens import token

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def address_token(at) -> str:
    value = at.query_params["me"]
    return value[0] if isinstance(value, list) else value


@pytest.fixture
def trained():
    """Two finished runs in the store: one of browser 'alice1', one of 'bob123'."""
    runs = []
    for owner, name in (("alice1", "alice's spiral"), ("bob123", "bob's spiral")):
        cfg = RunConfig.from_dict({"name": name, "layers": preset_layers("MLP", "points", 2), "epochs": 2,
                                   "data": {"n_samples": 100}})
        run = REGISTRY.start(cfg, owner=token(owner))
        assert run.join(60)
        runs.append(run)
    assert REGISTRY.flush()
    return runs


def test_the_token_stays_the_same_on_every_page():
    at = AppTest.from_file(APP, default_timeout=60).run()
    me = address_token(at)
    for page in ("views/compare.py", "views/race.py", "views/runs.py", "views/build_train.py"):
        at.switch_page(page).run()
        assert not at.exception, page
        assert address_token(at) == me, page


def test_a_given_token_is_kept_and_a_bad_or_guessable_one_replaced():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["me"] = token("alice1")
    at.run()
    assert address_token(at) == token("alice1")
    for given in ("<script>", "teacher", "4c9f81e6", "x" * 21):     # not a token, or too short to be a secret
        bad = AppTest.from_file(APP, default_timeout=60)
        bad.query_params["me"] = given
        bad.run()
        made = address_token(bad)
        assert made != given and len(made) == 22 and len(base64.urlsafe_b64decode(made + "==")) == 16, given


def test_runs_page_lists_mine_then_everyones(trained):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["me"] = token("alice1")
    at.run()
    at.switch_page("views/runs.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert table["name"].tolist() == ["alice's spiral"] and table["status"].tolist() == ["finished"]
    assert "owner" not in table.columns
    at.toggle(key="all_runs").set_value(True).run()
    table = at.dataframe[0].value
    assert {"alice's spiral", "bob's spiral"} <= set(table["name"]) and "owner" in table.columns
    assert any("Select one or more rows" in i.value for i in at.info)


def test_runs_page_without_runs_says_how_to_make_one():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["me"] = token("nobody1")
    at.run()
    at.switch_page("views/runs.py").run()
    assert not at.exception
    assert any("No runs yet from this browser" in i.value for i in at.info)


def test_sidebar_picks_stored_runs_and_build_and_train_shows_them(trained):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["me"] = token("alice1")
    at.run()
    assert at.selectbox(key="run_id").value == trained[0].id
    success = [s.value for s in at.success]
    assert success and success[0].startswith("finished 2 epochs")
    assert len(at.get("image")) == 1                                   # its decision boundary
    assert [b for b in at.button if b.label == "Resume"][0].disabled            # finished: nothing to resume


def test_what_i_was_editing_comes_back_in_a_new_session():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["me"] = token("carol1")
    at.run()
    at.selectbox(key="optim").set_value("sgd").run()
    at.button(key="del_1").click().run()                               # remove the first layer
    layers = [(layer["type"], layer["args"]) for layer in at.session_state["layers"]]
    again = AppTest.from_file(APP, default_timeout=60)                 # a reload: a new session, same token
    again.query_params["me"] = token("carol1")
    again.run()
    assert not again.exception
    assert [(layer["type"], layer["args"]) for layer in again.session_state["layers"]] == layers
    assert again.selectbox(key="optim").value == "sgd"
    other = AppTest.from_file(APP, default_timeout=60).run()          # another browser: the defaults
    assert other.selectbox(key="optim").value == "adam" and len(other.session_state["layers"]) == len(layers) + 1


def test_live_panels_poll_less_often_while_many_browsers_watch(monkeypatch):
    """Twice a second for up to 4 watching browsers; slower beyond (10: every 1.25 s), never past 2 s;
    a browser that stopped polling 5 s ago no longer counts; nothing alive, no polling."""
    import types

    import streamlit.runtime.scriptrunner as sr

    from ui import state

    now = [1000.0]
    monkeypatch.setattr(state.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(state, "_watching", {})
    session = [None]
    monkeypatch.setattr(sr, "get_script_run_ctx", lambda: types.SimpleNamespace(session_id=session[0]))

    def every(sid):
        session[0] = sid
        return state.poll_every(True)

    assert [every(f"s{i}") for i in range(4)] == [0.5] * 4
    assert [every(f"s{i}") for i in range(4, 10)][-1] == 1.25
    assert every("s0") == 1.25                                      # one browser polling again is still one
    assert state.poll_every(False) is None
    assert [every(f"t{i}") for i in range(30)][-1] == 2.0             # a lecture hall: at most every 2 s
    now[0] += 6.0
    assert every("s0") == 0.5                                       # the others left


def test_the_sidebar_gives_a_live_run_no_epoch_count_that_would_stand_still(trained):
    from dataclasses import replace

    from ui.sidebar import run_caption

    row = REGISTRY.store.get(trained[0].id)
    assert run_caption(row).endswith("finished · 2/2 epochs")
    live = replace(row, status="running", epochs_done=1, config={**row.config, "epochs": 20_000})
    assert run_caption(live).endswith("running · 20,000 epochs planned")
    assert "1/" not in run_caption(live)
