"""Repeats over seeds (playground/seeds.py, compare --seeds): a variant's runs are paired by seed (same
initial weights, same data, same order), the paired interval's arithmetic on hand-set numbers, and the
verdicts a student reads: none for identical variants, a clear one for a learning rate of 1e-5 against 1e-2."""
import json
import math
from pathlib import Path

import pytest
import torch

from playground.__main__ import main
from playground.compare import compare_configs
from playground.errors import ConfigError
from playground.seeds import paired, seed_configs, spread, verdict_words
from playground.train.trainer import Trainer

T_975_2 = 4.302652729911275             # Student's t, 97.5% quantile, 2 degrees of freedom (tables: 4.303)
T_975_4 = 2.7764451051977987            # 4 degrees of freedom (tables: 2.776)

SPEC = {"base": {"data": {"name": "moons"}, "layers": [{"type": "Linear", "out_features": 16}, {"type": "ReLU"},
                                                         {"type": "Linear", "out_features": 2}],
                 "optim": {"name": "adam", "lr": 0.01}, "batch_size": 32, "epochs": 8, "seed": 5},
        "variants": [{"name": "lr 1e-2"}, {"name": "lr 1e-5", "optim": {"name": "adam", "lr": 0.00001}},
                     {"name": "lr 1e-2 again"}]}


def test_the_paired_interval_on_hand_set_numbers():
    # differences 0.1, 0.2, 0.3: mean 0.2, sd 0.1, half-width t * 0.1 / sqrt(3) = 0.2484: crosses 0
    r = paired([0.5, 0.5, 0.5], [0.6, 0.7, 0.8])
    assert r["n"] == 3 and r["better"] == 3 and r["mean_diff"] == pytest.approx(0.2)
    half = T_975_2 * 0.1 / math.sqrt(3)
    assert r["ci"] == pytest.approx([0.2 - half, 0.2 + half])
    assert r["verdict"] == "no clear difference at 3 seeds"
    # five close differences around 0.1 (sd 0.0158): 0.1 +- 0.0196, clearly above 0
    r = paired([0.0] * 5, [0.1, 0.12, 0.09, 0.11, 0.08])
    sd = math.sqrt(sum(d ** 2 for d in (0.0, 0.02, -0.01, 0.01, -0.02)) / 4)
    assert r["ci"] == pytest.approx([0.1 - T_975_4 * sd / math.sqrt(5), 0.1 + T_975_4 * sd / math.sqrt(5)])
    assert r["verdict"] == "better" and r["better"] == 5
    # a loss: lower is better, so the same differences are worse
    assert paired([0.0] * 5, [0.1, 0.12, 0.09, 0.11, 0.08], higher_better=False)["verdict"] == "worse"
    assert paired([0.3] * 5, [0.1, 0.12, 0.09, 0.11, 0.08], higher_better=False)["verdict"] == "better"


def test_what_cannot_be_paired_is_left_out_and_one_seed_gives_no_interval():
    r = paired([0.5, None, 0.5, float("nan")], [0.6, 0.9, 0.7, 0.8])
    assert r["n"] == 2 and r["mean_diff"] == pytest.approx(0.15)
    one = paired([0.5], [0.9])
    assert one["ci"] is None and "one seed" in one["verdict"]
    assert "no pair" in paired([None], [0.9])["verdict"]
    with pytest.raises(ValueError):
        paired([0.5, 0.6], [0.7])
    assert spread([0.9, 0.91, 0.94, None]) == pytest.approx(
        {"n": 3, "mean": 0.9166667, "std": 0.0208167, "min": 0.9, "max": 0.94}, abs=1e-6)
    assert spread([0.5])["std"] is None


def test_the_verdict_in_words():
    clear = paired([0.0] * 5, [0.1, 0.12, 0.09, 0.11, 0.08])
    words = verdict_words("Adam", "SGD", clear, "validation accuracy")
    assert words.startswith("Adam is better than SGD: validation accuracy +0.1 on average (95% interval +0.0")
    assert words.endswith("better in 5 of 5 seeds.")
    unclear = verdict_words("B", "A", paired([0.5] * 3, [0.6, 0.7, 0.8]), "validation accuracy")
    assert "no clear difference at 3 seeds" in unclear and "crosses 0" in unclear
    same = verdict_words("B", "A", paired([0.5] * 3, [0.5] * 3), "validation accuracy")
    assert same == "B against A: no difference: the same validation accuracy in all 3 seeds."


def test_variants_of_one_seed_start_from_the_same_weights_and_see_the_same_batches():
    groups = seed_configs(compare_configs(SPEC), 3)
    assert [[c.seed for c in g] for g in groups] == [[5, 5, 5], [6, 6, 6], [7, 7, 7]]
    assert groups[1][1].name == "lr 1e-5 · seed 6" and groups[1][1].optim.lr == 0.00001

    def start(cfg):
        t = Trainer.from_config(cfg)
        t.build()
        plan = t._plan()
        return t, [torch.randperm(len(plan.X), generator=plan.order) for _ in range(3)]

    (a, order_a), (b, order_b) = start(groups[1][0]), start(groups[1][1])
    for (k, wa), wb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(wa, wb), k
    assert torch.equal(a.data.X_train, b.data.X_train) and torch.equal(a.data.y_train, b.data.y_train)
    assert all(torch.equal(x, y) for x, y in zip(order_a, order_b))
    c, order_c = start(groups[2][0])                          # another seed: other weights, other order
    assert not torch.equal(a.model[0].weight, c.model[0].weight)
    assert not torch.equal(order_a[0], order_c[0])
    with pytest.raises(ConfigError, match="1 to 10"):
        seed_configs(compare_configs(SPEC), 11)


@pytest.mark.slow
def test_compare_with_seeds_tells_a_real_difference_from_none(tmp_path, capsys, monkeypatch):
    """compare --seeds 3 on the moons: a learning rate of 1e-5 (8 epochs) is clearly worse than 1e-2, and
    the same variant twice is no different; the JSON says so, run by run."""
    monkeypatch.setenv("PLAYGROUND_HOME", str(tmp_path / "home"))
    path = tmp_path / "lr.json"
    path.write_text(json.dumps(SPEC))
    assert main(["compare", str(path), "--seeds", "3"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    by = {o["name"]: o for o in out}
    assert set(by) == {"lr 1e-2", "lr 1e-5", "lr 1e-2 again"}
    assert [r["seed"] for r in by["lr 1e-5"]["runs"]] == [5, 6, 7]
    assert by["lr 1e-5"]["against"]["verdict"] == "worse" and by["lr 1e-5"]["against"]["better"] == 0
    assert by["lr 1e-5"]["against"]["words"].startswith("lr 1e-5 is worse than lr 1e-2")
    again = by["lr 1e-2 again"]
    assert again["against"]["verdict"] == "no clear difference at 3 seeds" and again["against"]["mean_diff"] == 0
    assert [r["final"] for r in again["runs"]] == [r["final"] for r in by["lr 1e-2"]["runs"]]
    assert by["lr 1e-2"]["final"]["n"] == 3 and by["lr 1e-2"]["final"]["std"] is not None
    assert "against" not in by["lr 1e-2"]
    assert main(["compare", str(path), "--seeds", "2", "--reference", "nope"]) != 0
    assert "--reference: 'nope' is not a variant; pick one of lr 1e-2" in capsys.readouterr().err


def test_the_examples_compare_configs_take_seeds():
    for path in sorted((Path(__file__).resolve().parents[2] / "examples" / "compare").glob("*.yaml")):
        from playground.compare import load_compare

        assert len(seed_configs(load_compare(path), 2)) == 2


def _snap(accs: list[float], status: str = "finished") -> dict:
    epochs = [{"epoch": i + 1, "step": 10 * (i + 1), "samples": 100 * (i + 1), "time_s": 0.5 * (i + 1),
               "val_acc": a, "val_loss": 1 - a, "train_loss": 1 - a, "train_acc": a} for i, a in enumerate(accs)]
    return {"epochs": epochs, "status": status, "step_x": [], "step_loss": [], "marks": [], "diverged_at": None}


def test_the_bands_are_the_seeds_mean_and_spread_where_they_have_reached():
    from playground.viz.compare import band_chart, seed_bands

    runs = [(0, _snap([0.5, 0.7, 0.8]), 10), (1, _snap([0.6, 0.8, 0.9]), 10), (2, _snap([0.7, 0.9], "running"), 10)]
    band, own = seed_bands("a", runs, "val_acc", "epoch")
    assert list(band["x"]) == [1, 2, 3] and list(band["n"]) == [3, 3, 2]        # seed 2 is at epoch 2
    assert band["mean"].tolist() == pytest.approx([0.6, 0.8, 0.85])
    assert band["lo"].tolist() == pytest.approx([0.5, 0.7, 0.8])
    assert band["hi"].tolist() == pytest.approx([0.7, 0.9, 0.9])
    assert band["std"].tolist() == pytest.approx([0.1, 0.1, math.sqrt(0.005)])
    assert len(own) == 8 and set(own["seed"]) == {"0", "1", "2"}
    spec = band_chart([("a", runs), ("b", runs[:1])], "val_acc", "epoch", band="std", each=True)
    bands = spec["datasets"]["bands"]
    a = bands[bands["variant"] == "a"]
    assert a["lo"].tolist() == pytest.approx([0.5, 0.7, 0.85 - math.sqrt(0.005)])   # mean - std
    assert len(spec["datasets"]["seeds"]) == 11 and "mean over the seeds" in spec["description"]
    quiet = band_chart([("a", runs)], "val_acc", "epoch")
    assert quiet["datasets"]["seeds"].empty and [layer["mark"]["type"] for layer in quiet["layer"]] == [
        "area", "line", "line"]
    # the finals: only runs that have ended count
    from playground.seeds import seed_results, summary_rows

    res = seed_results([s for _, s, _ in runs], "acc", True)
    assert [r["final"] for r in res] == [0.8, 0.9, None] and [r["best"] for r in res] == [0.8, 0.9, None]
    rows = summary_rows({"a": res, "b": seed_results([_snap([0.8]), _snap([0.95]), None], "acc", True)},
                        "a", True, "validation accuracy")
    assert rows[0]["done"] == 2 and rows[0]["against"] is None
    assert rows[1]["against"]["n"] == 2 and rows[1]["against"]["better"] == 1          # seed 2: nothing to pair
