"""Inspectors: arrays computed from a frozen model (a run's snapshot at an epoch), never the model
that trains. Each view is a function frozen -> View(arrays, summary); the page draws the arrays,
and `python -m playground inspect RUN VIEW` writes them to an .npz (and the summary as JSON).

    frozen = frozen_model(store, run_id, epoch=7)
    view = VIEWS["evaluate"](frozen, split="val")
    view.arrays["confusion"]        # (C, C) counts, rows = true class
"""
from __future__ import annotations

import inspect as _signature

from playground.inspect.attention import attention, attention_cell
from playground.inspect.evaluate import View, at_threshold, evaluate, predict
from playground.inspect.explain import explain, shap_summary, trust_view
from playground.inspect.filters import (
    activations,
    cell_equation,
    conv_cell,
    conv_layer_numbers,
    conv_layers,
    filters,
    output_size,
    top_inputs,
)
from playground.inspect.latent import decode_view, latent
from playground.inspect.plane import plane
from playground.inspect.stats import stats, stats_at

VIEWS = {"evaluate": evaluate, "filters": filters, "activations": activations, "conv": conv_cell,
         "top": top_inputs, "size": output_size, "stats": stats, "attention": attention,
         "attention-cell": attention_cell, "latent": latent, "decode": decode_view,
         "explain": explain, "trust": trust_view, "shap": shap_summary, "plane": plane}


def run_view(name: str, frozen, **options) -> View:
    """VIEWS[name] on frozen, given the options it takes (the CLI offers them all: --split, --layer,
    --sample, --channel, --row, --col, --k, --head, --tokens, --method, --z, --target and explain's
    options); options left as None keep the view's defaults."""
    fn = VIEWS[name]
    accepted = _signature.signature(fn).parameters
    open_ended = any(p.kind is p.VAR_KEYWORD for p in accepted.values())     # explain, trust: options of their own
    return fn(frozen, **{k: v for k, v in options.items() if (open_ended or k in accepted) and v is not None})


__all__ = ["VIEWS", "View", "activations", "attention", "attention_cell", "at_threshold", "cell_equation", "conv_cell",
           "conv_layer_numbers", "decode_view", "explain", "latent", "shap_summary", "trust_view",
           "conv_layers", "evaluate", "filters", "output_size", "plane", "predict", "run_view", "stats", "stats_at",
           "top_inputs"]
