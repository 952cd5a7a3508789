"""Training: optimizers, the engine (one run in a thread), and the process-wide registry."""
from playground.train.engine import Run, check
from playground.train.registry import REGISTRY, Registry

__all__ = ["REGISTRY", "Registry", "Run", "check"]
