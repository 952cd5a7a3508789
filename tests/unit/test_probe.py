"""Layer statistics: histograms and measures on tiny hand-set nets with literal values, the probe's
gradients against autograd written out, the probe leaving training untouched, and the stats view
and CLI on a stored run."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from playground.__main__ import main
from playground.config import RunConfig
from playground.data import Dataset
from playground.errors import PlaygroundError
from playground.inspect import VIEWS
from playground.inspect.stats import by_epoch, stats_at
from playground.store import default_store
from playground.train import probe
from playground.train.probe import BINS, Probe, _hist, _hists
from playground.train.tasks import make_task
from tests.trained import train_stored
from tests.unit.run_helper import Run


def test_histogram_of_four_values_by_hand():
    h = _hist(np.array([0.0, 1.0, 2.0, 3.0]))
    assert (h["lo"], h["hi"]) == (0.0, 3.0)
    expected = [0] * BINS
    for b in (0, 13, 26, 39):                   # x * 40 / 3 -> 0, 13.3, 26.7, 40 (the top edge goes in the last bin)
        expected[b] = 1
    assert h["counts"] == expected
    assert h["mean"] == 1.5
    assert h["std"] == pytest.approx(math.sqrt(1.25))
    assert h["norm"] == pytest.approx(math.sqrt(14))


def test_histograms_in_one_pass_equal_one_at_a_time():
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=n) * s for n, s in ((5, 1.0), (300, 1e-4), (1, 2.0), (64, 50.0))]
    together = _hists(arrays)
    for a, h in zip(arrays, together):
        alone = _hist(a)
        assert h["counts"] == alone["counts"] and sum(h["counts"]) == a.size
        assert h["mean"] == pytest.approx(a.mean()) and h["std"] == pytest.approx(a.std(), rel=1e-6, abs=1e-12)
    assert together[2]["counts"][0] == 1 and together[2]["std"] == 0.0        # one value: one bin, no spread


def test_large_arrays_binned_one_at_a_time_equal_all_together(monkeypatch):
    """_hists bins an array of more than ONE_BY_ONE values on its own: the same records, to the bit, as
    binning every array together (the records of a run are compared by hash: tests/unit/golden_examples.json)."""
    rng = np.random.default_rng(1)
    arrays = [rng.normal(size=n) * s + c for n, s, c in ((probe.ONE_BY_ONE + 1, 3.0, 0.5), (7, 1.0, 0.0),
                                                         (probe.ONE_BY_ONE, 1e-3, -2.0), (70_000, 40.0, 1.0),
                                                         (1, 1.0, 0.0), (10_000, 0.0, 1.5))]
    mixed = _hists(arrays)
    monkeypatch.setattr(probe, "ONE_BY_ONE", 10**9)
    assert _hists(arrays) == mixed
    assert [sum(h["counts"]) for h in mixed] == [a.size for a in arrays]
    assert mixed[-1]["counts"][0] == 10_000                          # a constant array: every value in the first bin


def test_non_finite_values_are_left_out():
    h = _hist(np.array([1.0, np.nan, 3.0, np.inf]))
    assert sum(h["counts"]) == 2 and h["mean"] == 2.0


def hand_net():
    """Linear(2->2) with W1 = [[1, 0], [0, -1]], ReLU, Linear(2->2) with W2 = [[1, 1], [1, -1]]; no
    biases' effect (0). On positive inputs the second hidden unit is always 0: dead."""
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, -1.0]]))
        model[2].weight.copy_(torch.tensor([[1.0, 1.0], [1.0, -1.0]]))
        model[0].bias.zero_()
        model[2].bias.zero_()
    return model


def hand_probe(model, X, y):
    config = RunConfig.from_dict({"layers": [{"type": "Linear", "out_features": 2}, {"type": "ReLU"},
                                             {"type": "Linear", "out_features": 2}]})
    data = Dataset("hand", "points", X, y, X, y, ["a", "b"])
    return Probe(model, ["Linear", "ReLU", "Linear"], X, y, make_task(config, data), seed=0)


def test_measures_of_a_hand_set_net():
    X = torch.tensor([[1.0, 2.0], [3.0, 1.0], [2.0, 2.0]])
    y = torch.tensor([0, 1, 1])
    model = hand_net()
    rec = hand_probe(model, X, y).measure(epoch=0, step=0)
    l1, relu, l3 = rec["layers"]
    assert rec["probe"] == 3 and [layer["index"] for layer in rec["layers"]] == [1, 2, 3]
    assert l1["weight"]["norm"] == pytest.approx(math.sqrt(2)) and l3["weight"]["norm"] == pytest.approx(2.0)
    # hidden = [x1, -x2] -> ReLU -> [x1, 0]: half the outputs are 0, and unit 2 is dead
    assert relu["act"]["zero"] == 0.5 and relu["act"]["dead"] == 0.5
    assert (relu["act"]["lo"], relu["act"]["hi"]) == (0.0, 3.0)
    assert l1["act"]["mean"] == pytest.approx((1 + 3 + 2 - 2 - 1 - 2) / 6)
    assert l1["update_ratio"] is None                                    # no step recorded yet
    # the gradients against autograd written out on the same batch
    model.zero_grad()
    torch.nn.functional.cross_entropy(model(X), y).backward()
    with torch.no_grad():
        assert rec["loss"] == pytest.approx(float(torch.nn.functional.cross_entropy(model(X), y)))
    assert l1["grad"]["norm"] == pytest.approx(float(model[0].weight.grad.norm()), rel=1e-5)
    assert l3["grad"]["norm"] == pytest.approx(float(model[2].weight.grad.norm()), rel=1e-5)
    assert float(model[0].weight.grad[1].abs().sum()) == 0.0            # the dead unit's weights get nothing
    assert "weight" not in relu


def test_update_ratio_is_the_change_over_the_weights():
    X, y = torch.tensor([[1.0, 2.0]]), torch.tensor([0])
    model = hand_net()
    probe = hand_probe(model, X, y)
    before = probe.before_step()
    with torch.no_grad():
        model[0].weight += 0.1                                           # ||dW|| = 0.2, ||W|| = sqrt(2)
    probe.after_step(before)
    rec = probe.measure(epoch=1, step=1)
    assert rec["layers"][0]["update_ratio"] == pytest.approx(0.2 / math.sqrt(2))
    assert rec["layers"][2]["update_ratio"] == 0.0
    assert probe.measure(epoch=2, step=2)["layers"][0]["update_ratio"] is None   # taken once, by its snapshot


def test_saturated_sigmoid_outputs():
    X, y = torch.tensor([[10.0], [-10.0], [0.0], [0.1]]), torch.tensor([0, 1, 0, 1])
    model = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Sigmoid(), torch.nn.Linear(1, 2))
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.zero_()
    config = RunConfig.from_dict({"layers": [{"type": "Linear", "out_features": 1}, {"type": "Sigmoid"},
                                             {"type": "Linear", "out_features": 2}]})
    task = make_task(config, Dataset("hand", "points", X, y, X, y, ["a", "b"]))
    rec = Probe(model, ["Linear", "Sigmoid", "Linear"], X, y, task, 0).measure(0, 0)
    assert rec["layers"][1]["act"]["saturated"] == 0.5                 # sigmoid(+-10) are within 0.02 of 1 and 0


def test_the_probe_leaves_training_untouched():
    """Dropout's generator, BatchNorm's running statistics and .grad are as they were."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                                torch.nn.Linear(8, 2))
    from playground.models.layers import Dropout

    drop = Dropout(0.5)
    model.insert(3, drop)
    gen = torch.Generator().manual_seed(5)
    drop.generator = gen
    X, y = torch.randn(40, 2), torch.randint(0, 2, (40,))
    config = RunConfig.from_dict({"layers": [{"type": "Linear", "out_features": 2}]})
    task = make_task(config, Dataset("hand", "points", X, y, X, y, ["a", "b"]))
    probe = Probe(model, ["Linear", "BatchNorm", "ReLU", "Dropout", "Linear"], X, y, task, 0)
    model.eval()
    state, bn = gen.get_state(), {k: v.clone() for k, v in model[1].named_buffers()}
    probe.measure(0, 0, dropout_gen=gen)
    assert torch.equal(gen.get_state(), state)
    for k, v in model[1].named_buffers():
        assert torch.equal(v, bn[k]), k
    assert all(p.grad is None for p in model.parameters())
    assert not model.training                                          # back in the mode it was in


def engine_run(stats: bool) -> Run:
    layers = [{"type": "Linear", "out_features": 16}, {"type": "BatchNorm"}, {"type": "ReLU"},
              {"type": "Dropout", "p": 0.3}, {"type": "Linear", "out_features": 2}]
    run = Run(RunConfig.from_dict({"layers": layers, "epochs": 3, "batch_size": 16, "stats": stats,
                                   "data": {"n_samples": 120}}))
    run.prepare()

    class Sink:
        def __init__(self):
            self.records = []

        def snapshot(self, *a):
            pass

        def checkpoint(self, *a):
            pass

        def stats(self, record):
            self.records.append(record)
    run.history.sink = Sink()
    run.run()
    return run


def test_recording_statistics_does_not_change_training():
    with_stats, without = engine_run(True), engine_run(False)
    assert with_stats.history.step_loss == without.history.step_loss           # to the last digit
    assert with_stats.history.epochs[-1]["val_loss"] == without.history.epochs[-1]["val_loss"]
    records = with_stats.history.sink.records
    assert [r["epoch"] for r in records] == [0, 1, 2, 3]                      # one per snapshot
    assert records[0]["layers"][0]["update_ratio"] is None                    # no step before the initial weights
    assert all(0 < r["layers"][0]["update_ratio"] < 1 for r in records[1:])
    assert without.history.sink.records == []


def record(epoch, step, grad=1.0):
    hist = {"lo": 0.0, "hi": 1.0, "counts": [1] + [0] * (BINS - 1), "mean": 0.5, "std": 0.1, "norm": 2.0}
    return {"epoch": epoch, "step": step, "probe": 4, "loss": 0.5,
            "layers": [{"index": 1, "type": "Linear", "shape": [2], "act": {**hist, "zero": 0.0},
                        "weight": hist, "grad": {**hist, "norm": grad}, "update_ratio": None if epoch == 0 else 1e-3},
                       {"index": 2, "type": "ReLU", "shape": [2], "act": {**hist, "zero": 0.5, "dead": 0.5}}]}


def test_stats_view_arrays_from_records():
    # epoch 2 was cut short, then resumed: its later record (step 25) wins
    recs = [record(0, 0, 4.0), record(1, 10, 3.0), record(2, 15, 9.0), record(2, 25, 2.0)]
    assert [r["step"] for r in by_epoch(recs)] == [0, 10, 25]
    v = stats_at(recs, epoch=5)
    a = v.arrays
    assert a["epochs"].tolist() == [0, 1, 2] and a["weight_layers"].tolist() == [1]
    assert a["grad_norm"][:, 0].tolist() == [4.0, 3.0, 2.0]
    assert np.isnan(a["update_ratio"][0, 0]) and a["update_ratio"][1, 0] == 1e-3
    assert np.isnan(a["dead"][0, 0]) and a["dead"][0, 1] == 0.5
    assert a["act_counts"].shape == (3, 2, BINS) and a["weight_counts"].shape == (3, 1, BINS)
    assert v.summary["epoch"] == 2 and v.summary["layers"][1]["dead"] == 0.5
    assert stats_at(recs, epoch=1).summary["layers"][0]["grad_norm"] == 3.0
    assert stats_at(recs, epoch=1, layer=2).summary["layers"] == [
        {"index": 2, "type": "ReLU", "shape": [2], "output_mean": 0.5, "output_std": 0.1, "output_zero": 0.5,
         "dead": 0.5}]
    with pytest.raises(PlaygroundError, match="layer: 7 is not a layer of this network; it has layers 1 to 2"):
        stats_at(recs, 1, layer=7)
    with pytest.raises(PlaygroundError, match="no layer statistics"):
        stats_at([], 0)


def test_store_keeps_deletes_and_truncates_statistics():
    store = default_store()
    run = train_stored({"layers": [{"type": "Linear", "out_features": 8}, {"type": "ReLU"},
                                   {"type": "Linear", "out_features": 2}], "epochs": 3,
                        "data": {"n_samples": 100}, "name": "stats store"})
    recs = store.stats(run.id)
    assert [r["epoch"] for r in recs] == [0, 1, 2, 3]
    assert store.stats_marker(run.id) == (4, recs[-1]["step"])
    store.truncate(run.id, step=recs[1]["step"], epoch=2)
    assert [r["epoch"] for r in store.stats(run.id)] == [0, 1]
    store.delete(run.id)
    assert store.stats(run.id) == [] and store.stats_marker(run.id) == (0, -1)


def test_inspect_stats_from_the_cli(tmp_path, capsys):
    run = train_stored({"layers": [{"type": "Linear", "out_features": 8}, {"type": "Sigmoid"},
                                   {"type": "Linear", "out_features": 2}], "epochs": 2,
                        "data": {"n_samples": 100}, "name": "stats cli"})
    assert "stats" in VIEWS
    out = tmp_path / "stats.npz"
    assert main(["inspect", run.id, "stats", "--epoch", "1", "--json", "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["epoch"] == 1 and summary["recorded_epochs"] == [0, 1, 2]
    assert [layer["type"] for layer in summary["layers"]] == ["Linear", "Sigmoid", "Linear"]
    assert 0 <= summary["layers"][1]["saturated"] <= 1
    arrays = np.load(out)
    assert arrays["grad_norm"].shape == (3, 2) and arrays["act_counts"].shape == (3, 3, BINS)
    assert arrays["grad_norm"][1, 1] == pytest.approx(summary["layers"][2]["grad_norm"])
