"""The evaluation inspector: hand-set models with literal expected values, scikit-learn as the
reference, and the CLI's arrays against what the engine measured at the same epoch."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from playground.__main__ import main
from playground.data import Dataset
from playground.inspect import VIEWS, at_threshold, evaluate
from playground.models import preset_layers
from playground.store import default_store
from playground.train.frozen import Frozen, frozen_model
from tests.trained import train_stored


def frozen_linear(weight, bias, X, y, names=("a", "b")) -> Frozen:
    """A Linear(2 -> C) with hand-set weights on points X, y (the validation split)."""
    model = torch.nn.Linear(2, len(weight))
    with torch.no_grad():
        model.weight.copy_(torch.tensor(weight, dtype=torch.float32))
        model.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    data = Dataset("hand", "points", X, y, X, y, list(names))
    return Frozen(model, None, data, epoch=3, step=30, partial=False)


# logit(class 1) - logit(class 0) = x1 - x2: class 1 predicted where x1 > x2
X6 = [[2, 0], [1, 0], [0, 1], [0, 2], [3, 0], [0, 3]]
Y6 = [1, 1, 0, 0, 0, 1]          # the last two are wrong: (3, 0) is predicted 1, (0, 3) predicted 0


def test_two_classes_by_hand():
    f = frozen_linear([[0, 0], [1, -1]], [0, 0], X6, Y6)
    v = evaluate(f)
    np.testing.assert_array_equal(v.arrays["y_pred"], [1, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(v.arrays["confusion"], [[2, 1], [1, 2]])       # rows: true 0, true 1
    np.testing.assert_allclose(v.arrays["precision"], [2 / 3, 2 / 3])
    np.testing.assert_allclose(v.arrays["recall"], [2 / 3, 2 / 3])
    assert v.summary["accuracy"] == pytest.approx(4 / 6)
    assert v.summary["mcc"] == pytest.approx(1 / 3)                                # (4-1)/sqrt(3*3*3*3)
    assert v.summary["wrong"] == 2 and v.summary["epoch"] == 3 and v.summary["class_names"] == ["a", "b"]
    # the most confidently wrong first: (3, 0) and (0, 3) have the same margin 3; ties keep data order
    np.testing.assert_array_equal(v.arrays["worst"], [4, 5])
    # ROC: scikit-learn's, and its area
    p1 = v.arrays["probs"][:, 1]
    assert v.summary["roc_auc"] == pytest.approx(skm.roc_auc_score(Y6, p1))
    fpr, tpr, _ = skm.roc_curve(Y6, p1)
    np.testing.assert_allclose(v.arrays["roc_fpr"], fpr)
    np.testing.assert_allclose(v.arrays["roc_tpr"], tpr)
    assert v.arrays["roc_thresholds"].max() <= 1.0                               # sklearn's first is inf


def test_threshold_moves_the_confusion_matrix_and_the_curve_points():
    p1 = np.array([0.9, 0.8, 0.4, 0.3, 0.6, 0.2])
    y = np.array(Y6)
    at = at_threshold(y, p1, 0.5)
    np.testing.assert_array_equal(at["confusion"], [[2, 1], [1, 2]])
    assert (at["tpr"], at["fpr"], at["precision"]) == (pytest.approx(2 / 3), pytest.approx(1 / 3), pytest.approx(2 / 3))
    everything = at_threshold(y, p1, 0.0)                   # every example called class 1
    np.testing.assert_array_equal(everything["confusion"], [[0, 3], [0, 3]])
    assert everything["tpr"] == 1.0 and everything["fpr"] == 1.0
    nothing = at_threshold(y, p1, 0.95)                     # none: precision is taken as 1, recall 0
    assert nothing["recall"] == 0.0 and nothing["precision"] == 1.0


def test_three_classes_match_scikit_learn_and_have_no_roc():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = rng.integers(0, 3, size=60)
    f = frozen_linear([[1, 0], [0, 1], [-1, -1]], [0, 0.2, 0], X, y, names=("x", "y", "z"))
    v = evaluate(f)
    pred = v.arrays["y_pred"]
    np.testing.assert_array_equal(v.arrays["confusion"], skm.confusion_matrix(y, pred, labels=[0, 1, 2]))
    assert v.summary["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert v.summary["macro"]["f1"] == pytest.approx(skm.f1_score(y, pred, average="macro", zero_division=0))
    assert v.summary["weighted"]["recall"] == pytest.approx(skm.recall_score(y, pred, average="weighted"))
    assert "roc_auc" not in v.summary and "roc_fpr" not in v.arrays


def test_a_class_never_predicted_counts_as_zero_not_an_error():
    f = frozen_linear([[0, 0], [0, 0], [1, 1]], [0, 0, 5], X6, [0, 1, 2, 0, 1, 2], names=("p", "q", "r"))
    v = evaluate(f)                                         # always answers class 2
    np.testing.assert_array_equal(v.arrays["precision"], [0, 0, 1 / 3])
    assert v.summary["balanced_accuracy"] == pytest.approx(1 / 3)
    assert v.summary["mcc"] == 0.0


def test_an_unknown_split_is_a_clear_error():
    f = frozen_linear([[0, 0], [1, -1]], [0, 0], X6, Y6)
    with pytest.raises(Exception, match="split: 'test' is not one of val, train"):
        evaluate(f, split="test")


@pytest.fixture(scope="module")
def stored_run():
    """A 4-epoch spiral run in the test store; every epoch has a snapshot."""
    return train_stored({"name": "eval spiral", "layers": preset_layers("MLP", "points", 2), "epochs": 4,
                         "data": {"n_samples": 300}, "optim": {"name": "adam", "lr": 0.03}})


def test_the_snapshot_evaluates_to_what_the_engine_measured_at_that_epoch(stored_run):
    store = default_store()
    measured = {e["epoch"]: e["val_acc"] for e in stored_run.history.snapshot()["epochs"]}
    for epoch in (1, 4):
        v = evaluate(frozen_model(store, stored_run.id, epoch))
        assert v.summary["epoch"] == epoch
        assert v.summary["accuracy"] == pytest.approx(measured[epoch], abs=1e-9)


def test_cli_inspect_evaluate_writes_the_arrays_and_a_json_summary(stored_run, tmp_path, capsys):
    out = tmp_path / "eval.npz"
    assert main(["inspect", stored_run.id, "evaluate", "--epoch", "2", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["epoch"] == 2 and summary["run_id"] == stored_run.id and summary["split"] == "val"
    arrays = np.load(out)
    assert arrays["confusion"].sum() == summary["n"] == len(arrays["y_true"])
    np.testing.assert_array_equal(arrays["confusion"],
                                  skm.confusion_matrix(arrays["y_true"], arrays["y_pred"], labels=[0, 1]))
    assert summary["accuracy"] == pytest.approx(np.trace(arrays["confusion"]) / summary["n"])
    assert list(arrays["class_names"]) == summary["class_names"]
    # the training split too, and the human-readable form
    assert main(["inspect", stored_run.id[:5], "evaluate", "--split", "train"]) == 0
    text = capsys.readouterr().out
    assert "on the train split" in text and "balanced_accuracy" in text


def test_cli_inspect_names_what_is_wrong(stored_run, tmp_path, capsys):
    assert main(["inspect", "no-such-run", "evaluate"]) == 2
    assert "no-such-run" in capsys.readouterr().err
    assert main(["inspect", stored_run.id, "evaluate", "--out", str(tmp_path / "new" / "e.npz")]) == 0   # made
    capsys.readouterr()
    (tmp_path / "a-file").write_text("")
    for cmd in (["inspect", stored_run.id, "evaluate"], ["export", stored_run.id, "--format", "safetensors"]):
        assert main([*cmd, "--out", str(tmp_path / "a-file" / "x.out")]) == 2       # a file where a folder goes
        err = capsys.readouterr().err
        assert err.startswith("error: --out: cannot write") and "Traceback" not in err, err


def test_the_cli_offers_every_view_and_only_those():
    from playground.__main__ import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "cmd")
    view = next(a for a in sub.choices["inspect"]._actions if a.dest == "view")
    assert tuple(view.choices) == tuple(VIEWS)


def test_weights_gone_nan_are_a_clear_error_not_a_scikit_learn_traceback():
    f = frozen_linear([[0, 0], [float("nan"), -1]], [0, 0], X6, Y6)
    with pytest.raises(Exception, match=r"outputs at epoch 3 are not finite numbers .* pick an earlier epoch"):
        evaluate(f)
