"""Shared by the AppTest files: `at`, the app as a fresh browser session sees it (Build & Train),
run once with no exception. A file that tests another page defines its own `at`."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def at():
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app
