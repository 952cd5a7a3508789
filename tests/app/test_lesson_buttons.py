"""The lesson and starter buttons that no other test presses (AppTest, no browser). Each one starts the
example runs it names, with the one setting its lesson is about, and the page shows them with no
exception:

- Layer statistics, "BatchNorm: deep sigmoid without and with": the run shown has no BatchNorm, the one
  it is compared with has a BatchNorm before each of its six sigmoids.
- Attention, "Scaling 1/√d_k: with vs without", "Causal mask: off vs on", "Heads: 1 vs 4": the pair's
  second transformer is unscaled / causal / four-headed, the first is not.
- Latent space, "Variational (2-D)", "Convolutional (16-D)", "Denoising (2-D)": the run shown is a VAE
  with a 2-D code / a conv autoencoder with a 16-D code / an autoencoder trained on noisy inputs, and
  the page draws its code from the first weight snapshot (a 2-D code as itself, a 16-D one projected; a
  VAE's own view offered for the VAE only).

The runs are stopped as soon as their configs are read: what each setting does to training is proven by
the examples' and the inspectors' own tests."""
from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from playground.train import REGISTRY
from tests.app.conftest import open_page


def token(name: str) -> str:
    """A browser token for ?me= (22+ url-safe characters, or the app makes up its own)."""
    return f"lessons-{name}".ljust(24, "0")


def press(page: str, owner: str, label: str) -> AppTest:
    """Open the page and press the button with this label (the title a student reads)."""
    at = open_page(page, owner)
    buttons = [b for b in at.button if b.label == label]
    assert len(buttons) == 1, f"{len(buttons)} buttons labelled {label!r} on {page}"
    buttons[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


@pytest.fixture
def started():
    """The runs a test started, stopped and waited for at its end (a lesson trains for up to a minute)."""
    runs = []
    yield runs
    for r in runs:
        r.stop()
    for r in runs:
        assert r.join(60), f"{r.name} did not stop within 60 s"


def pair(at: AppTest, compare_key: str, started: list) -> tuple:
    """(the run shown, the run it is compared with) after a lesson button."""
    shown, other = REGISTRY.get(at.session_state["run_id"]), REGISTRY.get(at.session_state[compare_key])
    assert shown is not None and other is not None and shown.id != other.id, "the lesson did not start a pair"
    started += [shown, other]
    return shown, other


def first_snapshot(run, timeout: float = 120) -> None:
    """Wait until the run has stored its first weight snapshot (its initial weights, as training starts)."""
    end = time.monotonic() + timeout
    while not REGISTRY.store.snapshots(run.id):
        assert run.alive, f"{run.name} ended before its first snapshot: {run.history.message}"
        assert time.monotonic() < end, f"{run.name}: no weight snapshot within {timeout} s"
        time.sleep(0.1)


def types(run) -> list[str]:
    return [layer["type"] for layer in run.config.layers]


def test_the_batchnorm_lesson_compares_the_deep_sigmoid_net_with_its_batchnorm_twin(started):
    at = press("views/layer_stats.py", token("batchnorm"), "BatchNorm: deep sigmoid without and with")
    without, with_bn = pair(at, "stats_compare", started)
    assert "BatchNorm" not in types(without), types(without)
    # a BatchNorm right after each hidden Linear, before its sigmoid; the output layer has none
    assert types(with_bn) == ["Linear", "BatchNorm", "Sigmoid"] * 6 + ["Linear"], types(with_bn)
    assert [t for t in types(with_bn) if t != "BatchNorm"] == types(without)       # the only difference
    assert with_bn.config.seed == without.config.seed
    at.run()                                                                        # the page while they train
    assert not at.exception, [e.value for e in at.exception]


def block(run) -> dict:
    [b] = [layer for layer in run.config.layers if layer["type"] == "TransformerBlock"]
    return {"heads": b.get("heads", 1), "causal": b.get("causal", False), "scale": b.get("scale", True)}


@pytest.mark.parametrize("title, first, second", [
    ("Scaling 1/√d_k: with vs without", {"heads": 1, "causal": False, "scale": True},
     {"heads": 1, "causal": False, "scale": False}),
    ("Causal mask: off vs on", {"heads": 2, "causal": False, "scale": True},
     {"heads": 2, "causal": True, "scale": True}),
    ("Heads: 1 vs 4", {"heads": 1, "causal": False, "scale": True}, {"heads": 4, "causal": False, "scale": True}),
])
def test_an_attention_lesson_trains_the_pair_that_differs_in_its_setting(title, first, second, started):
    at = press("views/attention.py", token(title.split(":")[0].replace(" ", "")), title)
    shown, other = pair(at, "attn_compare", started)
    assert (block(shown), block(other)) == (first, second), f"{title}: {shown.name} vs {other.name}"
    assert "PositionalEncoding" in types(shown) and "PositionalEncoding" in types(other)
    assert not any("has no attention layer" in i.value for i in at.info)           # the page shows a transformer
    at.run()
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("button, code, variational, noise", [
    ("Variational (2-D)", 2, True, 0),
    ("Convolutional (16-D)", 16, False, 0),
    ("Denoising (2-D)", 2, False, 0.3),
])
def test_a_latent_starter_trains_its_autoencoder_and_shows_it(button, code, variational, noise, started):
    at = press("views/latent.py", token(button.split(" ")[0]), button)
    run = REGISTRY.get(at.session_state["run_id"])
    assert run is not None, f"{button}: no run shown"
    started.append(run)
    layers = run.config.layers
    i = types(run).index("Latent")
    assert layers[i].get("variational", False) is variational, layers[i]
    # the code: the layer before Latent gives a mean (and, for a VAE, a log-variance) per dimension
    assert layers[i - 1] == {"type": "Linear", "out_features": code * (2 if variational else 1)}, layers[i - 1]
    assert ("Conv2d" in types(run)) is (button == "Convolutional (16-D)")
    assert run.config.task == "reconstruction" and run.config.data.name == "mnist_subset"
    assert run.config.data.augment.get("noise", 0) == noise, run.config.data.augment
    assert not any("has no Latent layer" in i.value for i in at.info)
    # the page draws the run's code from its first weight snapshot: as itself when it is 2-D, else projected;
    # a VAE also gets its own view
    first_snapshot(run)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.segmented_control(key="lat_method").value == ("raw" if code == 2 else "pca")
    assert ("Variational" in at.segmented_control(key="lat_show").options) is variational
