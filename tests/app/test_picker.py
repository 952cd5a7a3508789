"""The sidebar's run picker offers a browser's newest runs (ui.sidebar.PICKER_RUNS); a run older than
those, opened from elsewhere (the class board, the Runs page, a link), stays shown rather than being
replaced by the newest one, but only where the browser may list it."""
import time

from streamlit.testing.v1 import AppTest

from playground.config import RunConfig
from playground.models import preset_layers
from playground.store import default_store
from tests.app.conftest import APP, open_page
from tests.tokens import token
from ui.sidebar import PICKER_RUNS

CONFIG = RunConfig.from_dict({"layers": preset_layers("MLP", "points", 2), "epochs": 1,
                              "data": {"n_samples": 100}}).to_dict()


def test_an_older_run_opened_from_elsewhere_stays_in_the_picker():
    store, owner = default_store(), token("picker-many")
    ids = [f"pick{i:04d}" for i in range(PICKER_RUNS + 2)]
    for run_id in ids:                                       # oldest first
        store.create(run_id, f"try {run_id}", CONFIG, owner, status="stopped")
        time.sleep(0.002)
    at = open_page(None, "picker-many")
    picker = at.sidebar.selectbox(key="run_id")
    assert picker.value == ids[-1] and not any(o.startswith(ids[0] + " ") for o in picker.options), \
        "the picker is not the newest runs"

    for who, sees in (("picker-many", True), ("picker-other", False)):    # someone else's: not without Everyone's
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params["me"] = token(who)
        at.session_state["run_id"] = ids[0]                  # as the board's Open, the Runs page or a link set it
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        pickers = [s for s in at.sidebar.selectbox if s.key == "run_id"]       # none: no run to pick
        options = pickers[0].options if pickers else []
        assert any(o.startswith(ids[0] + " ") for o in options) == sees, (who, options[:3])
        if sees:
            assert at.sidebar.selectbox(key="run_id").value == ids[0], "the older run was replaced by the newest"
