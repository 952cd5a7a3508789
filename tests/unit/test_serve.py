"""`make app`'s launcher (ui/serve.py): what it imports ahead of the first visit exists, and is what the
default page imports (a typo or a moved module would only be logged there, and the gain silently lost)."""
import importlib.util

from ui.serve import DEFAULT_PAGE, LATER, PRELOAD, page_imports


def test_the_default_pages_imports_are_read_from_its_source():
    names = page_imports(DEFAULT_PAGE)
    assert "streamlit" in names and "ui.live" in names and "ui.run_form" in names
    assert all(not n.startswith(".") for n in names)


def test_every_module_preloaded_exists():
    missing = [n for n in PRELOAD + LATER + page_imports(DEFAULT_PAGE) if importlib.util.find_spec(n) is None]
    assert not missing, f"ui.serve preloads modules that do not exist: {missing}"
