"""How the pages hand chart data to Streamlit (no browser)."""
import concurrent.futures
import importlib

import numpy as np
import pandas as pd


def curve() -> pd.DataFrame:
    """A chart's dataset past pyarrow's threshold for converting on a pool: 5,000 rows, 3 columns."""
    return pd.DataFrame({"step": np.arange(5000), "loss": np.linspace(1, 0, 5000), "run": ["a"] * 5000})


def test_chart_data_is_converted_in_the_pages_own_thread(monkeypatch):
    """pyarrow would start a pool of threads per frame of more than 100 rows per column; under load,
    starting them cost the pages more than drawing (ui/__init__.py)."""
    from streamlit.dataframe_util import convert_anything_to_arrow_bytes

    importlib.import_module("ui")                 # what every page imports: it sets how pyarrow converts

    def no_pool(*args, **kwargs):
        raise AssertionError("a thread pool was started to convert a chart's data")

    monkeypatch.setattr(concurrent.futures.ThreadPoolExecutor, "__init__", no_pool)
    assert len(convert_anything_to_arrow_bytes(curve())) > 5000 * 8


def test_with_pyarrows_default_the_same_conversion_starts_a_pool(monkeypatch):
    """With pyarrow's own default the same conversion does start a pool: the test above checks something."""
    import pyarrow
    from streamlit.dataframe_util import convert_anything_to_arrow_bytes

    monkeypatch.setattr(pyarrow, "cpu_count", lambda: 4)
    started = []
    real = concurrent.futures.ThreadPoolExecutor.__init__
    monkeypatch.setattr(concurrent.futures.ThreadPoolExecutor, "__init__",
                        lambda self, *a, **k: started.append(a) or real(self, *a, **k))
    convert_anything_to_arrow_bytes(curve())
    assert started, "pyarrow no longer starts a pool here: ui/__init__.py's setting may be unneeded"
