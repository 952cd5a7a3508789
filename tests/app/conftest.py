"""Shared by the AppTest files: `at`, the app as a fresh browser session sees it (Build & Train),
run once with no exception. A file that tests another page defines its own `at`."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.tokens import token

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def open_page(page: str, owner: str) -> AppTest:
    """The app as browser `owner` (?me=) sees `page` (e.g. "views/evaluate.py"), run with no exception."""
    app = AppTest.from_file(APP, default_timeout=60)
    app.query_params["me"] = token(owner)
    app.run()
    app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def metric(app: AppTest, label: str) -> str:
    """The value a metric with this label shows."""
    return next(m.value for m in app.metric if m.label == label)


@pytest.fixture
def at():
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app
