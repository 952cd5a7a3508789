"""Runs trained into the test store (PLAYGROUND_HOME, which tests/conftest.py sets), for tests of
what reads the store."""


def train_stored(config: dict, owner: str = "cli"):
    """Train `config` (a RunConfig dict) to its end in a thread, recorded into the test store; the
    finished Run, once everything it produced is written."""
    from playground.config import RunConfig
    from playground.store import default_store
    from playground.train.registry import Registry
    from tests.tokens import token

    reg = Registry(max_active=1, processes=False, store=default_store())
    run = reg.start(RunConfig.from_dict(config), owner=token(owner))
    assert run.join(120) and run.history.status == "finished", run.history.message
    assert reg.flush()
    return run
