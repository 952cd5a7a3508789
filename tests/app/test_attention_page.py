"""The Attention page (AppTest, no browser): runs without attention, a trained reversal transformer
(heatmap, prediction, a typed sequence, one cell by hand, the grid and rollout, the scores over
training) and a vision transformer's patches."""
from streamlit.testing.v1 import AppTest

from playground.config import RunConfig, load_config
from playground.models import preset_layers
from playground.train import REGISTRY
from tests.app.conftest import open_page
from tests.tokens import token

REVERSE = {"name": "tiny reverse", "data": {"name": "reverse", "n_samples": 600, "seq_len": 6, "vocab": 5},
           "layers": [{"type": "Embedding", "embedding_dim": 16}, {"type": "PositionalEncoding", "kind": "learned"},
                      {"type": "TransformerBlock", "heads": 2}, {"type": "TransformerBlock", "heads": 2,
                                                                  "causal": True},
                      {"type": "Linear", "out_features": 5}], "epochs": 3, "batch_size": 64}


def trained(cfg: dict, owner: str):
    run = REGISTRY.start(RunConfig.from_dict(cfg), owner=token(owner))
    assert run.join(120) and run.history.status == "finished", run.history.message
    assert REGISTRY.flush()
    return run


def attention_page(owner: str, run_id: str | None = None) -> AppTest:
    at = open_page("views/attention.py", owner)
    if run_id is not None:
        at.selectbox(key="run_id").set_value(run_id).run()
        assert not at.exception, at.exception
    return at


def texts(at) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


def test_without_a_transformer_the_page_says_what_to_train():
    at = attention_page("ada17")
    assert any(i.value.startswith("No run yet") for i in at.info)
    cfg = {"name": "an MLP", "layers": preset_layers("MLP", "points", 2), "epochs": 1, "data": {"n_samples": 100}}
    run = trained(cfg, "ada17")
    at = attention_page("ada17", run.id)
    assert any("has no attention layer" in i.value for i in at.info)


def test_a_reversal_run_its_heads_a_typed_sequence_and_one_weight_by_hand():
    run = trained(REVERSE, "bob23")
    at = attention_page("bob23", run.id)
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="attn_layer").options == ["layer 3", "layer 4"]
    assert len(at.dataframe) == 1                                  # input, predicted, answer per position
    assert "of 6 scored positions right" in texts(at)
    # one weight by hand: layer 4 is causal, so a later key is masked
    at.selectbox(key="attn_layer").set_value(4).run()
    at.number_input(key="attn_row").set_value(1).run()
    at.number_input(key="attn_col").set_value(3).run()
    assert not at.exception
    assert any("causal mask sets its score to -∞" in i.value for i in at.info)
    assert any("the forward pass used 0.0000" in s.value for s in at.success)
    at.number_input(key="attn_col").set_value(0).run()
    ok = [s.value for s in at.success if "the forward pass used" in s.value]
    assert ok and ok[0].split("= **")[1].split("**")[0] == ok[0].rsplit("used ", 1)[1]   # same number, 4 places
    # a typed sequence gets its answer; a bad one says what is wrong and keeps the validation sequence
    at.text_input(key="attn_tokens").input("4 3 2 1 0 0").run()
    assert not at.exception and not at.error
    assert at.dataframe[0].value.loc["answer"].tolist() == ["0", "0", "1", "2", "3", "4"]
    at.text_input(key="attn_tokens").input("4 3 x").run()
    assert any("is not a list of whole numbers" in e.value for e in at.error)
    at.text_input(key="attn_tokens").input("4 3 9").run()
    assert any("9 outside the vocabulary; each token must be from 0 to 4" in e.value for e in at.error)
    at.text_input(key="attn_tokens").input("").run()
    # the pattern's score per head, over training and at the epoch shown
    at.segmented_control(key="attn_show").set_value("train").run()
    assert "anti diagonal" in texts(at) and "Best at epoch 3" in texts(at)
    at.select_slider(key=f"scrub_{run.id}").set_value(0).run()
    assert not at.exception and "Best at epoch 0" in texts(at)
    at.segmented_control(key="attn_show").set_value("all").run()
    assert not at.exception and "Attention rollout (Abnar and Zuidema, 2020)" in texts(at)
    at.segmented_control(key="attn_fuse").set_value("max").run()
    assert not at.exception


def test_a_design_that_cannot_learn_reversal_says_why():
    cfg = {**REVERSE, "name": "no positions", "epochs": 1,
           "layers": [layer for layer in REVERSE["layers"] if layer["type"] != "PositionalEncoding"]}
    at = attention_page("dee5", trained(cfg, "dee5").id)
    warnings = [w.value for w in at.warning]
    assert any("no positional encoding" in w for w in warnings)
    assert any("A causal mask lets position i read only positions 0 to i" in w for w in warnings)   # layer 4


def test_a_vision_transformer_shows_its_patches_on_the_image():
    cfg = load_config("examples/mnist_vit.yaml").to_dict()
    cfg["data"]["max_train"], cfg["epochs"] = 256, 1
    run = trained(cfg, "cy42")
    at = attention_page("cy42", run.id)
    assert not at.exception and not at.error
    pictures = [i.caption for e in at.get("image") for i in e.proto.imgs]
    assert any("rollout through the layers" in c for c in pictures)
    assert any("the mean pool reads through" in c for c in pictures)
    assert any("Colours are scaled to this image's largest value" in c.value for c in at.caption)
    assert at.selectbox(key="attn_layer").options == ["layer 4", "layer 5"]


def test_the_score_curve_leaves_out_a_snapshot_that_cannot_be_scored(monkeypatch):
    import ui.attention as page_parts
    from playground.errors import PlaygroundError

    run = trained(REVERSE, "eve9")
    real = page_parts.scores_at

    def diverged_at_1(run_id, epoch, step):
        if epoch == 1:
            raise PlaygroundError("the network's attention at epoch 1 is not finite")
        return real(run_id, epoch, step)
    monkeypatch.setattr(page_parts, "scores_at", diverged_at_1)
    epochs, over = page_parts.scores_over(run.id)
    assert epochs.tolist() == [0, 2, 3] and over["anti_diagonal"].shape == (3, 2, 2)
