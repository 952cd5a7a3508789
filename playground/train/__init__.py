"""Training. A run's config is checked once against its data (checked.py), then trained by the loop
(trainer.py) wherever its executor puts it: a thread (executor.py), a local worker process
(worker.py) or a Ray actor (cluster.py, actor.py). The registry (registry.py) starts, stops and
finds runs; a run's History (history.py, streamed by stream.py) is what pages and the store read.
Importing this package starts nothing: the app's REGISTRY is made on first use.
"""
from playground.train.checked import CheckedRun, check
from playground.train.trainer import Trainer


def __getattr__(name: str):
    if name in ("REGISTRY", "Registry"):
        from playground.train import registry

        return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["REGISTRY", "CheckedRun", "Registry", "Trainer", "check"]
