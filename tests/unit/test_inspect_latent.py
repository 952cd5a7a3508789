"""The latent-space inspector on known answers: decoding a code gives the forward pass's numbers, PCA's
error is the sum of the discarded eigenvalues, the notes' autoencoder keeps more of the label in 2-D
than PCA, UMAP and t-SNE run in their background process, and the CLI writes what the page draws."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from playground.__main__ import main
from playground.config import RunConfig, load_config
from playground.data import load_dataset
from playground.errors import PlaygroundError
from playground.inspect.latent import (
    BATCH,
    code_layers,
    decode,
    encode,
    grid_codes,
    interpolate,
    latent,
    pca_baseline,
    project,
    project_pca,
)
from playground.models import build_model
from playground.train.frozen import Frozen
from tests.trained import train_stored

ROOT = Path(__file__).resolve().parents[2]
NOTES = ROOT / "examples" / "mnist_autoencoder.yaml"


def _frozen(path=NOTES, **data) -> Frozen:
    """The example's network with its initial weights (eval mode) on its data."""
    cfg = load_config(path)
    for k, v in data.items():
        setattr(cfg.data, k, v)
    d = load_dataset(cfg.data, cfg.seed)
    torch.manual_seed(0)
    model, _ = build_model(cfg.layers, tuple(d.X_train.shape[1:]))
    return Frozen(model.eval(), cfg, d, 0, 0, False)


@pytest.fixture(scope="module")
def notes_run():
    """The notes' 784-128-64-2 autoencoder trained as the example says (30 epochs on 4,000 digits)."""
    return train_stored(RunConfig.from_dict({**load_config(NOTES).to_dict(), "device": "cpu"}).to_dict())


def test_decoding_the_code_of_an_input_gives_its_reconstruction_exactly():
    for path in (NOTES, ROOT / "examples" / "mnist_vae.yaml", ROOT / "examples" / "mnist_conv_autoencoder.yaml"):
        f = _frozen(path)
        x = f.data.X_val[:BATCH]                # encode's first batch: the CPU's matrix kernels, and so the last
        with torch.no_grad():                   # bits of a result, can depend on how many rows a batch has
            out = f.model(x).numpy()
        codes, logvar = encode(f)
        assert torch.equal(torch.from_numpy(decode(f, codes[:BATCH])), torch.from_numpy(out)), path.name
        assert (logvar is not None) == ("vae" in path.name)
        assert code_layers(f) == [next(i + 1 for i, s in enumerate(f.config.layers) if s["type"] == "Latent")]


def test_pca_error_equals_the_sum_of_the_discarded_eigenvalues():
    data = _frozen().data
    X = data.X_train.flatten(1).numpy().astype(np.float64)
    eig = np.linalg.eigvalsh(np.cov(X, rowvar=False, bias=True))[::-1]        # computed here, independently
    for dims in (1, 2, 16):
        base = pca_baseline(data, dims, knn=False)
        per_image = base["mse_train"] * X.shape[1]                            # squared error summed over pixels
        assert per_image == pytest.approx(eig[dims:].sum(), rel=1e-6)
        assert base["discarded"] == pytest.approx(eig[dims:].sum(), rel=1e-6)
        assert base["val"].shape == (len(data.X_val), dims)
    assert pca_baseline(data, 2)["explained"] == pytest.approx(eig[:2].sum() / eig.sum(), rel=1e-6)


def test_the_notes_autoencoder_keeps_more_of_the_label_than_pca(notes_run):
    from playground.store import default_store
    from playground.train.frozen import frozen_model

    f = frozen_model(default_store(), notes_run.id)
    v = latent(f)
    assert v.summary["method"] == "raw" and v.summary["dims"] == 2 and v.summary["kind"] == "autoencoder"
    assert v.arrays["projection"].shape == (1000, 2) and np.array_equal(v.arrays["projection"], v.arrays["codes"])
    ae, pca = v.summary["knn"], v.summary["pca"]["knn"]
    assert ae >= 0.55 and ae >= pca + 0.10, (ae, pca)                          # measured 0.61-0.63 vs 0.40
    assert v.summary["mse"] < v.summary["pca"]["mse_val"]
    assert v.arrays["class_errors"].shape == (10,) and np.isfinite(v.arrays["class_errors"]).all()
    # the epoch-0 code (random weights) keeps much less
    assert latent(frozen_model(default_store(), notes_run.id, 0), compare=False).summary["knn"] < ae - 0.2


def test_a_classifiers_hidden_layer_is_drawn_and_has_no_decoder():
    cfg = {"data": {"name": "spiral", "n_samples": 200}, "epochs": 1,
           "layers": [{"type": "Linear", "out_features": 8}, {"type": "ReLU"}, {"type": "Linear", "out_features": 5},
                      {"type": "ReLU"}, {"type": "Linear", "out_features": 2}]}
    c = RunConfig.from_dict(cfg)
    d = load_dataset(c.data, c.seed)
    model, _ = build_model(c.layers, tuple(d.X_train.shape[1:]), 2)
    f = Frozen(model.eval(), c, d, 0, 0, False)
    v = latent(f)                                                  # default: the last hidden layer (4, a ReLU)
    assert v.summary["layer"] == 4 and v.summary["dims"] == 5 and v.summary["method"] == "pca"
    assert v.summary["kind"] == "hidden layer" and "errors" not in v.arrays and 0 <= v.summary["knn"] <= 1
    assert latent(f, layer=1, method="pca").arrays["codes"].shape == (len(d.X_val), 8)
    with pytest.raises(PlaygroundError, match="no Latent layer"):
        decode(f, [0.0, 0.0])
    with pytest.raises(PlaygroundError, match="at most 3 values"):
        latent(f, method="raw")
    with pytest.raises(PlaygroundError, match="layer: 9 is not a layer"):
        latent(f, layer=9)


def test_pca_projection_keeps_its_signs_and_maps_back():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(300, 5)).astype(np.float32) * [5, 2, 1, 0.5, 0.1]
    p, q = project_pca(codes), project_pca(-codes)                 # the same data mirrored: same components
    np.testing.assert_allclose(p["components"], q["components"], atol=1e-5)
    assert (p["components"][np.arange(2), np.abs(p["components"]).argmax(1)] > 0).all()
    back = p["mean"] + p["projection"] @ p["components"]           # a point of the plane -> a code (the page's decode)
    np.testing.assert_allclose(project_pca(back)["projection"][:, :2], p["projection"], atol=1e-3)
    assert p["explained"][0] > 0.8


def test_decode_grid_interpolation_and_bad_codes():
    f = _frozen()
    g = grid_codes((-1, 1), (0, 2), 3)
    assert g.shape == (9, 2) and tuple(g[0]) == (-1, 2) and tuple(g[-1]) == (1, 0)     # top-left first
    assert decode(f, g).shape == (9, 1, 28, 28)
    v = interpolate(f, 0, 5, steps=4)
    codes = encode(f)[0]
    np.testing.assert_allclose(v.arrays["codes"][[0, -1]], codes[[0, 5]], atol=1e-6)
    with torch.no_grad():
        ends = f.model(f.data.X_val[[0, 5]]).numpy()
    np.testing.assert_allclose(v.arrays["images"][[0, -1]], ends, atol=1e-6)      # the ends are the reconstructions
    with pytest.raises(PlaygroundError, match="z: 3 numbers do not make a code of this network, which has 2"):
        decode(f, [1, 2, 3])
    with pytest.raises(PlaygroundError, match="b: 5000 is outside the val split"):
        interpolate(f, 0, 5000)


def test_umap_and_tsne_run_in_the_background_process_and_separate_clusters():
    from sklearn.neighbors import KNeighborsClassifier

    from playground.projection import Projector, subsample

    rng = np.random.default_rng(0)
    codes = np.concatenate([rng.normal(size=(150, 6)), rng.normal(size=(150, 6)) + 4]).astype(np.float32)
    y = np.repeat([0, 1], 150)
    pr = Projector()
    try:
        futures = {m: pr.submit(("test", m), codes, m) for m in ("umap", "tsne")}
        assert pr.submit(("test", "umap"), codes, "umap") is futures["umap"]            # kept by key
        for m, fut in futures.items():
            xy = fut.result(timeout=240)
            assert xy.shape == (300, 2) and np.isfinite(xy).all(), m
            assert KNeighborsClassifier(5).fit(xy[::2], y[::2]).score(xy[1::2], y[1::2]) > 0.95, m
        assert pr.warm().done() and not pr.warming
        assert pr.submit(("few", "umap"), codes[:3], "umap").exception(timeout=60) is not None
    finally:
        pr.close()
    assert len(subsample(5000)) == 2000 and np.array_equal(subsample(10), np.arange(10))
    with pytest.raises(PlaygroundError, match="method: 'mds' is not one of raw, pca, umap, tsne"):
        project(codes, "mds")


def test_cli_latent_and_decode_write_what_the_page_draws(notes_run, tmp_path, capsys):
    out = tmp_path / "latent.npz"
    assert main(["inspect", notes_run.id, "latent", "--epoch", "30", "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["view"] == "latent" and summary["epoch"] == 30 and summary["dims"] == 2
    assert summary["knn"] >= 0.55 and "knn" in summary["pca"]
    with np.load(out) as a:
        assert a["codes"].shape == (1000, 2) and a["labels"].shape == (1000,) and a["errors"].shape == (1000,)
    dec = tmp_path / "decoded.npz"
    assert main(["inspect", notes_run.id, "decode", "--z", "0.5,-1.5", "--out", str(dec), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["z"] == [0.5, -1.5] and summary["shape"] == [1, 28, 28]
    from playground.store import default_store
    from playground.train.frozen import frozen_model
    with np.load(dec) as a:
        np.testing.assert_array_equal(a["image"], decode(frozen_model(default_store(), notes_run.id), [0.5, -1.5])[0])
    for args, words in ((["--z", "1,2,3"], "z: 3 numbers do not make a code"), (["--z", "1,x"], "--z: '1,x' is not"),
                        ([], "decode needs a code: --z with 2 numbers")):
        assert main(["inspect", notes_run.id, "decode", *args]) == 2
        assert words in capsys.readouterr().err
