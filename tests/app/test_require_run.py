"""ui.sidebar.require_run: the pages that need the run shown in the sidebar say what to do when there
is none, and stop there, each with its own words."""
import uuid

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import open_page

NO_RUN = {
    "views/attention.py": "No run yet: press a lesson button above, or train a transformer on **Build & Train** (the "
                          "examples 'tiny transformer · reverse', '· max' and '· induction').",
    "views/evaluate.py": "No run to evaluate yet: train one on **Build & Train** (or pick one in the sidebar).",
    "views/explain.py": "No run yet: press a button above, or train a classifier of images or tables on "
                        "**Build & Train**.",
    "views/filters.py": "No run yet: train a CNN on **Build & Train** (MNIST with the Small CNN preset), or pick one "
                        "in the sidebar.",
    "views/latent.py": "No run yet: press a button above, or train an example with a Latent layer on "
                       "**Build & Train**.",
    "views/layer_stats.py": "No run yet: press a lesson button above, or train a network on **Build & Train**.",
}


@pytest.mark.parametrize("page", sorted(NO_RUN))
def test_a_page_without_a_run_says_what_to_do_and_stops(page):
    at = open_page(page, f"new{uuid.uuid4().hex[:8]}")           # a browser with no runs of its own
    assert "run_id" not in at.session_state
    last = list(at.main.children.values())[-1]                    # the page stopped there: nothing after it
    assert (last.type, last.value) == ("info", NO_RUN[page])


def script(passed: bool):
    """An app script: require_run with the run passed, or looked up in the sidebar's choice."""
    import streamlit as st

    from ui.sidebar import require_run

    if passed:
        run = require_run("no run passed", run=st.session_state.get("given"))
    else:
        run = require_run("no run shown")
    st.session_state["got"] = run
    st.write("after")


@pytest.mark.parametrize("passed", [False, True])
def test_without_a_run_the_message_shows_and_the_script_stops(passed):
    at = AppTest.from_function(script, args=(passed,), default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [i.value for i in at.info] == ["no run passed" if passed else "no run shown"]
    assert "got" not in at.session_state and not at.markdown


def test_a_run_passed_in_is_returned_as_it_is():
    at = AppTest.from_function(script, args=(True,), default_timeout=30)
    at.session_state["given"] = "a run"             # whatever the page looked up: require_run does not look again
    at.run()
    assert not at.exception and not at.info
    assert at.session_state["got"] == "a run" and [m.value for m in at.markdown] == ["after"]
