"""Shared test setup.

Training runs seed their own generators, but some code (and some tests) use torch's process-wide
RNG, and Run.run() calls torch.set_num_threads(config.threads). Restore both after every test so
that tests cannot leak state into each other, whatever order they run in.
"""
import pytest
import torch


@pytest.fixture(autouse=True)
def _restore_torch_global_state():
    rng_state = torch.get_rng_state()
    num_threads = torch.get_num_threads()
    yield
    torch.set_rng_state(rng_state)
    torch.set_num_threads(num_threads)
