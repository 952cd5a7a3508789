"""Shared by the AppTest files: `at`, the app as a fresh browser session sees it (Build & Train),
run once with no exception. A file that tests another page defines its own `at`."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.tokens import token

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def open_page(page: str | None, owner: str, **params) -> AppTest:
    """The app as browser `owner` (?me=) sees `page` (e.g. "views/evaluate.py"; None: the page the
    address opens, Build & Train), with more of the address in params (lesson=..., teacher=...), run
    with no exception."""
    app = AppTest.from_file(APP, default_timeout=60)
    app.query_params["me"] = token(owner)
    for key, value in params.items():
        app.query_params[key] = value
    app.run()
    if page is not None:
        app.switch_page(page).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def record_media(monkeypatch) -> dict:
    """What each download button would give the browser: {file url or deferred id: bytes, str or a
    callable}, recorded as the page hands files to Streamlit's media manager."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    files = {}
    add, add_deferred = MediaFileManager.add, MediaFileManager.add_deferred

    def add_(mgr, path_or_data, mimetype, coordinates, file_name=None, is_for_static_download=False):
        url = add(mgr, path_or_data, mimetype, coordinates, file_name, is_for_static_download)
        files[url] = path_or_data
        return url

    def add_deferred_(mgr, data_callable, *args, **kwargs):
        fid = add_deferred(mgr, data_callable, *args, **kwargs)
        files[fid] = data_callable
        return fid
    monkeypatch.setattr(MediaFileManager, "add", add_)
    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred_)
    return files


def record_downloads(monkeypatch) -> dict:
    """{file name: bytes} of what the page's (non-deferred) download buttons offer, as the last script
    run drew them (the media file storage is where st.download_button puts its data)."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    files = {}
    add = MemoryMediaFileStorage.load_and_get_id

    def keep(self, data, mimetype, kind, filename=None):
        files[filename] = data
        return add(self, data, mimetype, kind, filename)
    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return files


def metric(app: AppTest, label: str) -> str:
    """The value a metric with this label shows."""
    return next(m.value for m in app.metric if m.label == label)


@pytest.fixture
def at():
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app
