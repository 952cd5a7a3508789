"""Attention: rollout and pattern scores on hand-set weights, the cell arithmetic against the forward
pass, one forward pass per view, the task answers of typed sequences, the CLI, and the known answers
of the transformer presets (each trains in well under a minute here)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from playground.__main__ import main
from playground.config import RunConfig, load_config
from playground.data import load_dataset
from playground.data.sequences import generate, period_of, targets
from playground.inspect import VIEWS, attention, attention_cell
from playground.inspect.attention import attention_layers, pattern_scores, rollout
from playground.models.blocks import SelfAttention, TransformerBlock
from playground.store import default_store
from playground.train.checked import checked_rows
from playground.train.frozen import Frozen, frozen_model
from tests.trained import example_run, train_stored
from tests.unit.run_helper import Run

TINY = {"data": {"name": "reverse", "n_samples": 200, "seq_len": 5, "vocab": 4},
        "layers": [{"type": "Embedding", "embedding_dim": 8}, {"type": "PositionalEncoding", "kind": "learned"},
                   {"type": "TransformerBlock", "heads": 2}, {"type": "SelfAttention", "heads": 2, "causal": True},
                   {"type": "Linear", "out_features": 4}], "epochs": 1, "batch_size": 50}


def tiny(seed: int = 0) -> Frozen:
    cfg = RunConfig.from_dict({**TINY, "seed": seed})
    data = load_dataset(cfg.data, cfg.seed)
    torch.manual_seed(seed)
    task, model, _ = checked_rows(cfg, data, device=None)
    return Frozen(model.eval(), cfg, data, 0, 0, False, task)


# ----------------------------------------------------------------------------- rollout
def test_rollout_of_one_layer_is_half_attention_half_identity():
    A = np.array([[0.2, 0.8, 0.0], [0.5, 0.25, 0.25], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(rollout(A[None, None]), 0.5 * A + 0.5 * np.eye(3))
    # two heads averaged first
    B = np.eye(3)[[2, 0, 1]]
    np.testing.assert_allclose(rollout(np.stack([A, B])[None]), 0.5 * (A + B) / 2 + 0.5 * np.eye(3))


def test_rollout_multiplies_the_layers_and_rows_sum_to_one():
    rng = np.random.default_rng(0)
    w = rng.random((3, 2, 4, 4))
    w /= w.sum(-1, keepdims=True)
    R = rollout(w)
    np.testing.assert_allclose(R.sum(-1), np.ones(4))
    steps = [0.5 * layer.mean(0) + 0.5 * np.eye(4) for layer in w]
    np.testing.assert_allclose(R, steps[2] @ steps[1] @ steps[0])
    np.testing.assert_allclose(rollout(w, "max").sum(-1), np.ones(4))


def test_identity_attention_rolls_out_to_the_identity():
    np.testing.assert_allclose(rollout(np.broadcast_to(np.eye(5), (4, 3, 5, 5))), np.eye(5))


# ----------------------------------------------------------------------------- pattern scores
def test_pattern_scores_on_hand_set_weights():
    X = np.array([[3, 1, 2, 0], [0, 2, 1, 3]])
    L = 4
    anti = np.eye(L)[::-1]                                              # i reads L-1-i
    uniform = np.full((L, L), 1 / L)
    w = np.stack([np.stack([np.stack([anti, uniform])] * 2)])          # (A=1, N=2, H=2, L, L)
    np.testing.assert_allclose(pattern_scores("reverse", X, w)["anti_diagonal"], [[1.0, 0.25]])
    to_max = np.zeros((2, 2, L, L))
    to_max[0, :, :, 0] = 1                                              # sequence 0's max (3) is at 0
    to_max[1, :, :, 3] = 1                                              # sequence 1's at 3
    to_max[:, 1] = uniform                                              # head 1 spreads evenly
    np.testing.assert_allclose(pattern_scores("max", X, to_max[None])["max_position"], [[1.0, 0.25]])
    same = pattern_scores("histogram", np.array([[1, 1, 2, 2]]), uniform[None, None, None])["same_token"]
    np.testing.assert_allclose(same, [[0.5]])
    assert pattern_scores("sort", X, w) == {}


def test_induction_scores_read_the_token_after_earlier_occurrences():
    X = np.array([[5, 7, 9, 5, 7, 9, 5, 7]])                            # period 3
    L = 8
    ind = np.zeros((L, L))
    for t in range(L):
        ind[t, max(t - 2, 0) if t >= 3 else 0] = 1                      # t reads t-3+1: after the last occurrence
    prev = np.eye(L, k=-1)
    prev[0, 0] = 1
    s = pattern_scores("induction", X, np.stack([prev, ind])[None, None])
    np.testing.assert_allclose(s["induction"], [[0.0, 1.0]])
    np.testing.assert_allclose(s["previous_token"], [[1.0, 1 / 7]])             # only t=1 of t=1..7 reads t-1
    # reading an older occurrence's successor counts too: t=7 (token 7) reading position 2 (after the 7 at 1)
    older = np.zeros((L, L))
    older[3:, 1] = 1                                                    # 5s read position 1 (after the 5 at 0)
    s = pattern_scores("induction", X, older[None, None, None])
    np.testing.assert_allclose(s["induction"], [[2 / 5]])               # t = 3 and 6 of t = 3..7


@pytest.mark.parametrize("name", ["reverse", "sort", "max", "histogram", "induction"])
def test_typed_sequences_get_the_same_answers_as_the_generated_ones(name):
    X, y, extra = generate(name, 300, 12, 7, seed=3)
    np.testing.assert_array_equal(targets(name, X), y)
    if name == "induction":
        np.testing.assert_array_equal(period_of(X), extra["period"])


# ----------------------------------------------------------------------------- views
def test_attention_captures_every_layer_in_one_forward_pass():
    f = tiny()
    assert [i for i, _ in attention_layers(f.model)] == [3, 4]
    calls = []
    f.model.register_forward_hook(lambda *a: calls.append(1))
    v = attention(f, sample=2)
    assert len(calls) == 2                                # the sample, and the validation batch for the scores
    w = v.arrays["weights"]
    assert w.shape == (2, 2, 5, 5)
    np.testing.assert_allclose(w.sum(-1), np.ones((2, 2, 5)), rtol=1e-6)
    assert np.count_nonzero(np.triu(w[1], 1)) == 0        # layer 4 is causal
    block: TransformerBlock = f.model[2]                   # the block's attention on what the block receives
    block.attn(block.ln1(f.model[:2](f.data.X_val[2:3])))
    np.testing.assert_allclose(w[0], block.attn.last_weights[0].numpy(), rtol=1e-6)
    np.testing.assert_allclose(v.arrays["rollout_mean"].sum(-1), np.ones(5), rtol=1e-6)
    np.testing.assert_array_equal(v.arrays["target"], f.data.y_val[2].numpy())
    s = v.summary
    assert s["task"] == "reverse" and [layer["index"] for layer in s["layers"]] == [3, 4]
    assert set(s["scores"]) == {"anti_diagonal"} and np.array(s["scores"]["anti_diagonal"]).shape == (2, 2)
    assert s["best_head"]["pattern"] == "anti_diagonal" and s["scored"] == 5


def test_a_typed_sequence_is_checked_and_gets_its_answer():
    f = tiny()
    v = attention(f, tokens=[3, 0, 1, 2, 2])
    np.testing.assert_array_equal(v.arrays["target"], [2, 2, 1, 0, 3])
    assert v.summary["sample"] is None
    with pytest.raises(Exception, match=r"tokens: 7 outside the vocabulary; each token must be from 0 to 3"):
        attention(f, tokens=[1, 7])
    with pytest.raises(Exception, match=r"tokens: 6 tokens given; this run's sequences hold 5"):
        attention(f, tokens=[1] * 6)


@pytest.mark.parametrize("layer,head,row,col", [(3, 0, 1, 3), (3, 1, 4, 0), (4, 1, 2, 1), (4, 0, 1, 3)])
def test_one_cell_by_hand_equals_the_weight_the_forward_pass_used(layer, head, row, col):
    f = tiny(seed=1)
    v = attention_cell(f, layer, head, row, col, sample=4)
    s, a = v.summary, v.arrays
    full = attention(f, sample=4).arrays["weights"][[3, 4].index(layer), head, row, col]
    assert s["matches"]
    assert s["captured"] == pytest.approx(float(full), abs=1e-6)
    assert s["weight"] == pytest.approx(float(full), abs=1e-6)
    assert s["dot"] == pytest.approx(float(a["products"].sum()), rel=1e-9)
    hs = 4                                                               # 8 features / 2 heads
    assert s["scale"] == pytest.approx(1 / np.sqrt(hs))
    if layer == 4 and col > row:                                         # causal: the future is masked
        assert s["masked"] and s["weight"] == 0 and a["row_scores"][col] == -np.inf
    else:
        assert s["score"] == pytest.approx(s["dot"] * s["scale"], rel=1e-9)
    e = np.exp(a["row_scores"] - a["row_scores"].max())
    np.testing.assert_allclose(a["row_weights"], e / e.sum(), rtol=1e-9)


def test_an_unscaled_layer_skips_the_scaling():
    f = tiny()
    att: SelfAttention = f.model[3]
    att.scale = False
    s = attention_cell(f, 4, 0, 3, 1).summary
    assert s["scale"] == 1.0 and s["score"] == pytest.approx(s["dot"]) and s["matches"]


def test_bad_cells_and_models_without_attention_are_clear_errors():
    f = tiny()
    with pytest.raises(Exception, match=r"layer: 2 has no attention; the attention layers are 3, 4"):
        attention_cell(f, 2)
    with pytest.raises(Exception, match=r"row: 5 is outside 0 to 4"):
        attention_cell(f, 3, 0, 5, 0)
    with pytest.raises(Exception, match=r"head: 2 is outside 0 to 1"):
        attention_cell(f, 3, 2, 0, 0)
    cfg = RunConfig.from_dict({"layers": [{"type": "Linear", "out_features": 2}]})
    data = load_dataset(cfg.data, cfg.seed)
    task, model, _ = checked_rows(cfg, data, device=None)
    with pytest.raises(Exception, match=r"no attention layer"):
        attention(Frozen(model, cfg, data, 0, 0, False, task))


def test_a_vision_transformer_gets_its_patch_maps():
    cfg = load_config("examples/mnist_vit.yaml").to_dict()
    cfg["data"]["max_train"] = 64
    cfg = RunConfig.from_dict(cfg)
    data = load_dataset(cfg.data, cfg.seed)
    task, model, _ = checked_rows(cfg, data, device=None)
    v = attention(Frozen(model.eval(), cfg, data, 0, 0, False, task), sample=1)
    assert v.arrays["weights"].shape == (2, 4, 16, 16)
    assert v.arrays["patch_mean"].shape == v.arrays["patch_rollout"].shape == (4, 4)
    assert v.arrays["patch_mean"].sum() == pytest.approx(1.0, rel=1e-5)     # the mean pool reads a share of each
    assert v.arrays["patch_rollout"].sum() == pytest.approx(1.0, rel=1e-5)
    assert v.arrays["input"].shape == (1, 28, 28) and v.summary["scores"] == {}


# ----------------------------------------------------------------------------- known answers
KNOWN = [  # preset, validation token accuracy at least, pattern, best head (in the given layer) at least
    ("transformer_reverse.yaml", 0.99, "anti_diagonal", None, 0.5),
    ("transformer_max.yaml", 0.95, "max_position", None, 0.8),
    ("transformer_induction.yaml", 0.90, "induction", 1, 0.6),          # in the second attention layer
]


@pytest.mark.parametrize("preset,acc,pattern,layer,score", KNOWN, ids=[k[0] for k in KNOWN])
def test_the_presets_learn_the_pattern_their_task_needs(preset, acc, pattern, layer, score):
    cfg = load_config(f"examples/{preset}")
    run = example_run(preset)                                             # shared with test_example_claims
    assert run.history.status == "finished"
    assert run.history.epochs[-1]["val_token_acc"] >= acc
    scores = np.array(attention(frozen_model(default_store(), run.id)).summary["scores"][pattern])   # (A, H)
    best = scores.max() if layer is None else scores[layer].max()
    assert best >= score, scores
    # the initial weights show no such pattern: the score is learned
    fresh = Run(cfg)
    fresh.prepare()
    start = np.array(attention(Frozen(fresh.model.eval(), cfg, fresh.data, 0, 0, False, fresh.task))
                     .summary["scores"][pattern])
    assert (start.max() if layer is None else start[layer].max()) < score / 2, start


def test_the_cli_writes_the_matrices_and_prints_the_scores(tmp_path, capsys):
    run = train_stored({**TINY, "epochs": 2})
    out = tmp_path / "att.npz"
    assert main(["inspect", run.id, "attention", "--sample", "3", "--out", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert s["view"] == "attention" and s["sample"] == 3 and "anti_diagonal" in s["scores"]
    a = np.load(out)
    assert a["weights"].shape == (2, 2, 5, 5) and a["rollout_mean"].shape == (5, 5)
    f = frozen_model(default_store(), run.id)
    np.testing.assert_allclose(a["weights"], attention(f, 3).arrays["weights"], rtol=1e-6)
    assert main(["inspect", run.id, "attention-cell", "--layer", "4", "--head", "1", "--row", "2", "--col", "1",
                 "--json"]) == 0
    c = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert c["matches"] and c["layer"] == 4 and c["head"] == 1
    assert main(["inspect", run.id, "attention", "--tokens", "1 2 3 0 9"]) == 2
    assert "tokens: 9 outside the vocabulary" in capsys.readouterr().err
    assert set(VIEWS) >= {"attention", "attention-cell"}


# ----------------------------------------------------------------------------- figures
def test_figures_carry_the_weights_and_the_labels():
    from playground.viz.attention import grid_spec, head_view_spec, heatmap_spec, patch_overlay, token_labels

    w = np.zeros((2, 3, 4, 4))
    w[..., np.arange(4), np.arange(4)[::-1]] = 1.0                      # every head: the anti-diagonal
    labels = token_labels([7, 1, 2, 9])
    assert labels == ["0: 7", "1: 1", "2: 2", "3: 9"] and token_labels(range(3), "image") == ["p0", "p1", "p2"]
    spec = heatmap_spec(w[0, 0], labels, row=1, col=2)
    frame = spec["datasets"]["main"]
    assert frame.loc[frame.weight == 1.0, ["row", "col"]].values.tolist() == [[0, 3], [1, 2], [2, 1], [3, 0]]
    assert "datum.row == 1 && datum.col == 2" in json.dumps(spec["encoding"]["stroke"])
    assert spec["params"][0]["select"]["fields"] == ["row", "col"]
    assert "params" not in heatmap_spec(w[0, 0], labels, clickable=False)
    grid = grid_spec(w, [3, 5], labels)
    assert len(grid["datasets"]["main"]) == 2 * 3 * 16
    assert grid["facet"]["row"]["sort"] == ["layer 3", "layer 5"]
    lines = head_view_spec(w[0], labels, heads=[0, 2])["datasets"]["lines"]
    assert len(lines) == 2 * 4 and set(lines["head"]) == {"head 0", "head 2"}   # weights under 0.02 left out
    assert head_view_spec(w[0], labels, heads=[1], row=2)["datasets"]["lines"][["i", "j"]].values.tolist() == [[2, 1]]
    image = np.zeros((1, 28, 28))
    grid4 = np.zeros((4, 4))
    grid4[1, 2] = 1.0
    img = patch_overlay(image, grid4, size=28)
    assert img.shape == (28, 28, 3)
    assert tuple(img[7 + 3, 14 + 3]) != tuple(img[0, 0])             # the chosen patch is tinted, the rest not
    assert tuple(img[0, 0]) == (0, 0, 0)
