"""AppTest set-up for an st.navigation app whose page scripts live in pages/.

Streamlit's PagesManager decides once per run whether the app uses the legacy pages/ folder
(`Path(main_script_dir / "pages").exists()`); AppTest resets that decision before every run, so
with a pages/ folder it would run the app through the old multipage path and ignore our
st.navigation. The real server is not affected: st.navigation switches the legacy path off on the
first run. Here we switch it off right after the PagesManager is made, as st.navigation would.
"""
import pytest
from streamlit.runtime.pages_manager import PagesManager


@pytest.fixture(autouse=True)
def _navigation_not_pages_folder(monkeypatch):
    init = PagesManager.__init__

    def init_without_pages_folder(self, *args, **kwargs):
        init(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init_without_pages_folder)
