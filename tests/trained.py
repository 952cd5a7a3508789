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


_examples: dict[str, object] = {}


def example_run(name: str):
    """examples/<name> trained to its full epochs on the CPU, once per test session (the tests that
    check an example's claims and those that inspect it share the run: the costly ones, the
    transformers, take 10-25 s each)."""
    if name not in _examples:
        from pathlib import Path

        from playground.config import load_config

        config = {**load_config(Path(__file__).resolve().parents[1] / "examples" / name).to_dict(), "device": "cpu"}
        _examples[name] = train_stored(config)
    return _examples[name]
