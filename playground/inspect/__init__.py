"""Inspectors: arrays computed from a frozen model (a run's snapshot at an epoch), never the model
that trains. Each view is a function frozen -> View(arrays, summary); the page draws the arrays,
and `python -m playground inspect RUN VIEW` writes them to an .npz (and the summary as JSON).

    frozen = frozen_model(store, run_id, epoch=7)
    view = VIEWS["evaluate"](frozen, split="val")
    view.arrays["confusion"]        # (C, C) counts, rows = true class
"""
from __future__ import annotations

from playground.inspect.evaluate import View, at_threshold, evaluate, predict

VIEWS = {"evaluate": evaluate}

__all__ = ["VIEWS", "View", "at_threshold", "evaluate", "predict"]
