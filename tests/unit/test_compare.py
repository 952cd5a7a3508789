"""Comparisons: variants share initial weights and data order; one diverging variant stops alone."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from playground.compare import (
    compare_configs,
    load_compare,
    summary_row,
    time_to_target,
    variant_config,
    with_batchnorm,
    with_dropout,
)
from playground.errors import ConfigError
from playground.store import Store
from playground.train.registry import Registry
from tests.unit.run_helper import Run

ROOT = Path(__file__).resolve().parents[2]
BASE = {"data": {"name": "digits", "max_train": 300}, "epochs": 2, "batch_size": 32, "seed": 3,
        "layers": [{"type": "Flatten"}, {"type": "Linear", "out_features": 32}, {"type": "ReLU"},
                   {"type": "Linear", "out_features": 10}]}


def test_variants_share_initial_weights():
    a = Run(variant_config(BASE, {"name": "a", "optim": {"name": "sgd", "lr": 0.1}}))
    b = Run(variant_config(BASE, {"name": "b", "optim": {"name": "adam", "lr": 0.001}, "batch_size": 8}))
    a.prepare()
    b.prepare()
    for (ka, va), (kb, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert ka == kb
        torch.testing.assert_close(va, vb, rtol=0, atol=0)


def test_variants_see_the_same_batches_in_the_same_order():
    # With a learning rate too small to move the weights, each step's loss depends only on which
    # samples the batch holds: equal losses step by step mean equal batches in equal order.
    spec = {"base": BASE, "variants": [{"name": "sgd", "optim": {"name": "sgd", "lr": 1e-12}},
                                       {"name": "momentum", "optim": {"name": "momentum", "lr": 1e-12}}]}
    losses = []
    for cfg in compare_configs(spec):
        run = Run(cfg)
        run.run()
        losses.append(run.history.snapshot()["step_loss"])
    assert len(losses[0]) == 2 * 10                         # 300 samples / 32 -> 10 steps, 2 epochs
    torch.testing.assert_close(torch.tensor(losses[0]), torch.tensor(losses[1]), rtol=1e-6, atol=1e-7)
    assert losses[0][0] != losses[0][1]                     # and the batches do differ from each other


def test_a_diverging_variant_stops_alone(tmp_path):
    configs = load_compare(ROOT / "examples" / "compare" / "learning_rates.yaml")
    for c in configs:
        c.epochs = 3
    reg = Registry(max_active=3, processes=False, store=Store(tmp_path))
    runs = reg.group(reg.start_group(configs))
    assert [r.name for r in runs] == [c.name for c in configs]
    for r in runs:
        assert r.join(60)
    status = {r.name: r.history.status for r in runs}
    assert status == {"lr 0.001 (too low)": "finished", "lr 0.1 (about right)": "finished",
                      "lr 20 (too high)": "diverged"}
    diverged = runs[2].history.snapshot()
    assert diverged["diverged_at"] is not None and "learning rate 20" in diverged["message"]
    assert runs[1].history.epochs[-1]["val_acc"] > 0.8


def test_group_is_refused_whole_when_slots_are_short(tmp_path):
    reg = Registry(max_active=2, processes=False, store=Store(tmp_path))
    configs = load_compare(ROOT / "examples" / "compare" / "batch_sizes.yaml")
    with pytest.raises(Exception, match="3 variants need 3 training slots"):
        reg.start_group(configs)
    assert reg.runs() == []


@pytest.mark.parametrize("spec, match", [
    ({"base": BASE, "variants": [{"name": "only"}]}, "give 2 to 6 variants, got 1"),
    ({"base": BASE, "variants": [{"name": "x"}, {"name": "x"}]}, "names must differ"),
    ({"base": BASE, "variants": [{"name": "a"}, {"name": "b", "seed": 4}]}, "cannot change the seed"),
    ({"base": BASE, "variants": [{"name": "a"}, {"name": "b", "optim": {"lr": -1}}]}, "variant 'b': optim.lr"),
    ({"variants": []}, "needs 'base'"),
])
def test_bad_compare_configs_are_refused_with_the_reason(spec, match):
    with pytest.raises(ConfigError, match=match):
        compare_configs(spec)


def test_dropout_and_batchnorm_shorthands():
    layers = BASE["layers"]
    assert [layer["type"] for layer in with_dropout(layers, 0.2)] == ["Flatten", "Linear", "ReLU", "Dropout", "Linear"]
    assert with_dropout(with_dropout(layers, 0.2), 0.5)[3] == {"type": "Dropout", "p": 0.5}
    assert with_dropout(layers, 0.0) == layers
    bn = with_batchnorm(layers, True)
    assert [layer["type"] for layer in bn] == ["Flatten", "Linear", "BatchNorm", "ReLU", "Linear"]
    assert with_batchnorm(bn, False) == layers


def test_time_to_target_interpolates_marks():
    snap = {"step_x": [1, 2, 3, 4], "step_loss": [2.0, 1.0, 0.4, 0.3], "marks": [(0, 0, 0.0, 0.1), (4, 40, 2.0, 0.1)],
            "epochs": [], "status": "running", "progress": {"samples_per_s": 20.0}}
    step, samples, seconds = time_to_target(snap, 0.5, smoothing=0.0)
    assert (step, samples, seconds) == (3, 30.0, 1.5)
    assert time_to_target(snap, 0.1, smoothing=0.0) is None
    row = summary_row("v", snap, 0.5, smoothing=0.0)
    assert row["steps to loss 0.5"] == 3 and row["final val acc"] is None


def test_cli_compare_prints_one_json_per_variant():
    out = subprocess.run([sys.executable, "-m", "playground", "compare", "examples/compare/learning_rates.yaml",
                          "--epochs", "2"], cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    last = [json.loads(line) for line in out.stdout.strip().splitlines()[-3:]]
    assert [r["name"] for r in last] == ["lr 0.001 (too low)", "lr 0.1 (about right)", "lr 20 (too high)"]
    assert [r["status"] for r in last] == ["finished", "finished", "diverged"]
    for r in last:
        assert {"status", "epochs", "train_loss", "val_loss", "val_accuracy", "samples_per_s"} <= set(r)
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "compare").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_compare_preset_is_valid(path):
    from playground.compare import spec_seeds
    from playground.config import read_mapping

    configs, seeds = load_compare(path), spec_seeds(read_mapping(path))
    assert (1 if seeds > 1 else 2) <= len(configs) <= 6            # one variant over seeds: its spread alone
    assert len({c.seed for c in configs}) == 1


def test_a_compare_config_may_ask_for_seeds_and_then_one_variant_is_enough():
    from playground.compare import compare_configs, spec_seeds

    base = {"data": {"name": "moons"}, "layers": [{"type": "Linear", "out_features": 2}]}
    assert spec_seeds({"base": base, "variants": []}) == 1
    assert len(compare_configs({"base": base, "variants": [{"name": "a"}], "seeds": 8})) == 1
    with pytest.raises(ConfigError, match="one variant is enough with seeds"):
        compare_configs({"base": base, "variants": [{"name": "a"}]})
    for bad in (0, 11, 2.5, True, "3"):
        with pytest.raises(ConfigError, match="seeds: "):
            compare_configs({"base": base, "variants": [{"name": "a"}, {"name": "b"}], "seeds": bad})


def test_config_diff_aligns_layers_and_lists_each_change_once():
    from playground.compare import config_diff
    from playground.config import RunConfig

    mlp = [{"type": "Linear", "out_features": 16}, {"type": "ReLU"}, {"type": "Linear", "out_features": 2}]
    a = RunConfig.from_dict({"data": {"name": "spiral"}, "layers": mlp, "name": "a"}).to_dict()
    same = RunConfig.from_dict({"data": {"name": "spiral"}, "layers": mlp, "name": "b"}).to_dict()
    assert config_diff(a, same) == []                                   # the name is not a difference
    wider = [{"type": "Linear", "out_features": 32}, {"type": "Tanh"}, mlp[2]]
    b = RunConfig.from_dict({"data": {"name": "spiral", "noise": 0.3}, "layers": wider,
                             "schedule": {"name": "cosine"}}).to_dict()
    rows = {r["what"]: r for r in config_diff(a, b)}
    assert rows["data.noise"]["change"] == "changed" and rows["schedule.name"]["b"] == "cosine"
    assert rows["layer 1"] == {"what": "layer 1", "a": "Linear(out_features=16)", "b": "Linear(out_features=32)",
                               "change": "changed"}
    assert rows["layer 2"]["b"] == "Tanh()" and "layer 3" not in rows
    shorter = RunConfig.from_dict({"data": {"name": "spiral"}, "layers": mlp[2:]}).to_dict()
    removed = [r for r in config_diff(a, shorter) if r["what"].startswith("layer")]
    assert [(r["what"], r["change"]) for r in removed] == [("layer 1", "removed"), ("layer 2", "removed")]
