"""Shared test setup.

The run store: every test session gets a store folder of its own (PLAYGROUND_HOME), set before
any playground module is imported, so tests never write to runs/ beside the app.

Training runs seed their own generators, but some code (and some tests) use torch's process-wide
RNG, and Run.run() calls torch.set_num_threads(config.threads). Restore both after every test so
that tests cannot leak state into each other, whatever order they run in.
"""
import os
import tempfile

os.environ["PLAYGROUND_HOME"] = tempfile.mkdtemp(prefix="playground-test-store-")

import pytest  # noqa: E402
import torch  # noqa: E402

from tests import apptest_shared  # noqa: E402
from ui import components_scan  # noqa: E402

components_scan.faster()   # each AppTest scans the installed distributions for components: cheaper
apptest_shared.install()   # ... and once per process, with the scripts compiled once


@pytest.fixture(autouse=True)
def _restore_torch_global_state():
    rng_state = torch.get_rng_state()
    num_threads = torch.get_num_threads()
    yield
    torch.set_rng_state(rng_state)
    torch.set_num_threads(num_threads)
