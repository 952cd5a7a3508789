"""Share links: the form's config as ?config=ID (a short id named by the config's content, kept in the
store) and a run as ?run=ID, which open in another browser without handing over the sender's token."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.app.conftest import open_page
from tests.tokens import token
from tests.trained import train_stored

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def opened(owner: str, **params) -> AppTest:
    return open_page(None, owner, **params)


def links(at: AppTest) -> list[str]:
    return [c.value for c in at.code]


def test_a_config_link_puts_the_senders_form_into_anothers():
    sender = opened("share-from")
    sender.selectbox(key="data_name").set_value("moons").run()
    sender.number_input(key="epochs").set_value(17).run()
    sender.selectbox(key="optim").set_value("sgd").run()
    link = next(c for c in links(sender) if c.startswith("?config="))
    assert token("share-from") not in "".join(links(sender))
    again = opened("share-from")                                       # the same form: the same link
    assert link in links(again)
    friend = opened("share-to", config=link.removeprefix("?config="))
    assert "config" not in friend.query_params                         # used once; the form is theirs now
    assert (friend.session_state["data_name"], friend.session_state["epochs"], friend.session_state["optim"]) == \
           ("moons", 17, "sgd")
    assert any("shared config is in the form" in i.value for i in friend.info)


def test_a_run_link_shows_the_run_and_a_bad_link_says_so():
    run = train_stored({"name": "look at mine", "layers": [{"type": "Linear", "out_features": 2}], "epochs": 1,
                        "data": {"n_samples": 100}}, owner="share-owner")
    friend = opened("share-viewer", run=run.id)
    assert friend.session_state["run_id"] == run.id and friend.toggle(key="all_runs").value
    assert "run" not in friend.query_params
    assert any("no run 'nosuchrun'" in w.value for w in opened("share-lost", run="nosuchrun").warning)
    assert any("no shared config 'nosuchcfg'" in w.value for w in opened("share-lost", config="nosuchcfg").warning)
