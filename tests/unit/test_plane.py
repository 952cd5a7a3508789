"""Explain's plane of two inputs (issue 28): on a table with a known answer (two_of_ten: only f3 + f8 > 0
decides the label), the plane over f3 and f8 draws that rule and agrees with the whole rows; the plane
over two noise inputs says how little it shows. Units are the table's own, the CLI writes the arrays,
and a bad choice of inputs gets a message."""
from __future__ import annotations

import json

import numpy as np
import pytest

from playground.__main__ import main
from playground.data import load_dataset
from playground.errors import PlaygroundError
from playground.inspect import plane
from playground.store import default_store
from playground.train.frozen import frozen_model
from playground.viz.curves import CLASS_RGB, class_colours, plane_image
from tests.trained import train_stored

MLP = [{"type": "Linear", "out_features": 16}, {"type": "ReLU"}, {"type": "Linear", "out_features": 2}]


@pytest.fixture(scope="module")
def two_of_ten():
    run = train_stored({"name": "plane two of ten", "layers": MLP, "epochs": 12, "batch_size": 32,
                        "data": {"name": "two_of_ten"}, "optim": {"name": "adam", "lr": 0.02}})
    assert run.history.epochs[-1]["val_acc"] > 0.9
    return frozen_model(default_store(), run.id)


def test_the_plane_of_the_two_inputs_that_decide_draws_the_rule(two_of_ten):
    v = plane(two_of_ten, "f3", "f8")
    a, s = v.arrays, v.summary
    assert a["cls"].shape == (90, 90) and a["conf"].shape == (90, 90)
    assert s["x"] == "f3" and s["y"] == "f8" and s["inputs"] == 10 and s["n"] == len(a["px"])
    # rows follow y: the bottom-left corner (both low) is class 0, the top-right (both high) class 1
    assert a["cls"][0, 0] == 0 and a["cls"][-1, -1] == 1
    X, Y = np.meshgrid(a["xs"], a["ys"])
    rule = (X + Y > 0).astype(int)
    far = np.abs(X + Y) > 0.5                                  # away from the boundary the rule is clear
    assert (a["cls"][far] == rule[far]).mean() > 0.95
    assert s["agreement"] > 0.9, "the plane of the deciding inputs should answer as the whole rows do"
    assert set(s["held_at_mean"]) == {f"f{i}" for i in (1, 2, 4, 5, 6, 7, 9, 10)}


def test_the_plane_of_two_noise_inputs_says_it_shows_little(two_of_ten):
    s = plane(two_of_ten, "f1", "f2").summary
    assert s["agreement"] < 0.75, s                            # f3 and f8 held at their mean decide alone


def test_inputs_are_named_or_numbered_and_a_bad_choice_is_said(two_of_ten):
    assert plane(two_of_ten, 3, "8").summary["x"] == "f3" and plane(two_of_ten).summary["y"] == "f2"
    with pytest.raises(PlaygroundError, match=r"^--x: no input 'height'; the inputs are f1, f2, .* \(a name, or"):
        plane(two_of_ten, "height", "f2")
    with pytest.raises(PlaygroundError, match=r"^--y: pick two different inputs \('f3' twice\)"):
        plane(two_of_ten, "f3", 3)
    with pytest.raises(PlaygroundError, match=r"^split: 'test' is not one of val, train"):
        plane(two_of_ten, split="test")


def test_a_standardised_tables_plane_is_in_its_own_units():
    run = train_stored({"name": "plane wine", "epochs": 2, "data": {"name": "wine", "standardize": True},
                        "layers": [*MLP[:2], {"type": "Linear", "out_features": 3}]})
    f = frozen_model(default_store(), run.id)
    v = plane(f, "alcohol", "malic_acid", split="train")
    d = load_dataset(run.config.data, run.config.seed)
    raw = d.X_train * d.meta["x_std"] + d.meta["x_mean"]
    assert v.arrays["px"] == pytest.approx(raw[:, 0].numpy(), rel=1e-5)
    assert v.arrays["xs"][0] < raw[:, 0].min() < raw[:, 0].max() < v.arrays["xs"][-1] < 20   # alcohol: 11-15 %
    assert v.summary["held_at_mean"]["ash"] == pytest.approx(float(raw[:, 2].mean()), abs=1e-3)
    img = plane_image(v.arrays)
    assert img.shape == (360, 360, 3) and img.dtype == np.uint8
    assert len(class_colours(3)) == 3 and (class_colours(2) == CLASS_RGB).all()


def test_a_regression_plane_shades_the_prediction():
    run = train_stored({"name": "plane diabetes", "epochs": 2, "data": {"name": "diabetes"},
                        "layers": [*MLP[:2], {"type": "Linear", "out_features": 1}]})
    v = plane(frozen_model(default_store(), run.id), 3, 1)
    assert v.arrays["pred"].shape == (90, 90) and "cls" not in v.arrays and 0 <= v.summary["agreement"] <= 1
    assert plane_image(v.arrays).shape == (360, 360, 3)


def test_images_have_no_plane_and_the_cli_writes_the_arrays(two_of_ten, tmp_path, capsys):
    import torch

    from playground.data import Dataset
    from playground.train.frozen import Frozen

    X, y = torch.zeros(4, 1, 8, 8), torch.tensor([0, 1, 0, 1])
    images = Frozen(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2)), None,
                    Dataset("shapes", "image", X, y, X, y, ["a", "b"]), epoch=1, step=1, partial=False)
    with pytest.raises(PlaygroundError, match=r"^the plane of two inputs is for a table's rows .* 'shapes'"):
        plane(images)
    row = default_store().find("plane two of ten")
    out = tmp_path / "plane.npz"
    assert main(["inspect", row.id, "plane", "--x", "f3", "--y", "8", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["view"] == "plane" and summary["x"] == "f3" and summary["y"] == "f8"
    assert np.load(out)["cls"].shape == (90, 90)
    assert main(["inspect", row.id, "plane", "--x", "f3", "--y", "f3"]) == 2
    assert capsys.readouterr().err.strip() == "error: --y: pick two different inputs ('f3' twice)"
