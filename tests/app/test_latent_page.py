"""The Latent space page (AppTest, no browser): an autoencoder's and a VAE's code drawn raw, by PCA, UMAP
and t-SNE (the last two computed in a background process: the test redraws until they are in), a spot
decoded, and the VAE's loss terms and prior samples. No exception in any state."""
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
from streamlit.testing.v1 import AppTest

from playground.config import RunConfig, load_config
from playground.inspect.latent import decode, encode
from playground.train import REGISTRY
from playground.train.frozen import frozen_model
from playground.train.tasks import kl_closed
from tests.tokens import token

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
OWNER = token("lena12")
SMALL = {"epochs": 1, "data": {"name": "mnist_subset", "max_train": 400}}
BACKGROUND_S = 180              # UMAP compiles with numba in a fresh process (GUIDE: ~25 s, quiet machine)


@pytest.fixture(scope="module")
def runs():
    out = {}
    for name, example in (("ae", "mnist_autoencoder.yaml"), ("vae", "mnist_vae.yaml")):
        cfg = {**load_config(ROOT / "examples" / example).to_dict(), **SMALL, "name": f"latent {name}", "device": "cpu"}
        run = REGISTRY.start(RunConfig.from_dict(cfg), owner=OWNER)
        assert run.join(120) and run.history.status == "finished", run.history.message
        out[name] = run
    assert REGISTRY.flush()
    return out


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def page(run_id: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.query_params["me"] = OWNER
    ok(at.run())
    ok(at.selectbox(key="run_id").set_value(run_id).run())
    return ok(at.switch_page("views/latent.py").run())


def charts(at: AppTest) -> list:
    return list(at.get("vega_lite_chart"))


def has_axis(at: AppTest, axis: str) -> bool:
    """Whether a chart on the page has an axis titled `axis` (the scatter's says how it was drawn)."""
    return any(f'"title": "{axis}' in json.dumps(json.loads(c.proto.spec)) for c in charts(at))


def waiting(at: AppTest) -> bool:
    return any("is being computed in the background" in i.value for i in at.info)


def draw_with(at: AppTest, method: str) -> AppTest:
    """Pick a drawing; UMAP and t-SNE show PCA (and a note) until the background process has them, so
    redraw, as the page's own poll would, until the note is gone."""
    ok(at.segmented_control(key="lat_method").set_value(method).run())
    end = time.monotonic() + BACKGROUND_S
    while waiting(at) and time.monotonic() < end:
        time.sleep(1)
        ok(at.run())
    assert not waiting(at), f"{method} still computing after {BACKGROUND_S} s"
    return at


def test_the_autoencoders_code_drawn_every_way_and_a_spot_decoded(runs):
    run = runs["ae"]
    at = page(run.id)
    assert at.segmented_control(key="lat_method").options == ["The code itself", "PCA", "UMAP", "t-SNE"]
    assert at.segmented_control(key="lat_method").value == "raw"           # a 2-D code is drawn as itself
    frozen = frozen_model(REGISTRY.store, run.id)
    codes, logvar = encode(frozen, "val")
    assert codes.shape[1] == 2 and logvar is None
    said = next(c.value for c in at.caption if "validation examples, coloured and shaped by their label" in c.value)
    assert said.startswith(f"{len(codes):,} validation examples")
    assert has_axis(at, "z1")
    for method, axis in (("pca", "PC1 of the code"), ("umap", "UMAP 1"), ("tsne", "t-SNE 1")):
        draw_with(at, method)
        assert has_axis(at, axis), (method, [c.proto.spec[:2000] for c in charts(at)])
    # decode a spot: the sliders under the scatter (what a click on an empty spot sets)
    ok(at.segmented_control(key="lat_method").set_value("raw").run())
    z1, z2 = at.slider(key="lat_z1"), at.slider(key="lat_z2")
    spot = (round(z1.min + 0.3 * (z1.max - z1.min), 2), round(z2.min + 0.6 * (z2.max - z2.min), 2))
    z1.set_value(spot[0])
    ok(z2.set_value(spot[1]).run())
    [image] = [i for i in at.get("image") if any(f"the decoder's output at ({spot[0]:.2f}, {spot[1]:.2f})" in c
                                                  for c in i.captions)]
    assert image.value[0]                                                    # the picture's address
    drawn = decode(frozen, np.array(spot, np.float32))                      # what that spot decodes to
    assert drawn.shape == (1, 1, 28, 28) and np.isfinite(drawn).all()


def chart_rows(chart) -> list[dict]:
    """The rows of a Vega-Lite chart's named data sets (Arrow IPC, as Streamlit sends them)."""
    rows = []
    for named in chart.proto.datasets:
        rows += pa.ipc.open_stream(named.data.data).read_all().to_pylist()
    return rows


def test_a_vaes_loss_terms_prior_samples_and_spreads(runs):
    run = runs["vae"]
    at = page(run.id)
    assert at.segmented_control(key="lat_show").options == ["Code space", "Decode anywhere", "Reconstructions",
                                                            "Against PCA", "Variational"]
    ok(at.toggle(key="lat_spread").set_value(True).run())                   # each code's spread in the scatter
    ok(at.segmented_control(key="lat_show").set_value("vae").run())
    frozen = frozen_model(REGISTRY.store, run.id)
    mean, logvar = encode(frozen, "val")
    # the KL term drawn is the run's record, and torch's closed form on the snapshot's codes agrees with it
    last = run.history.epochs[-1]
    kl = float(kl_closed(torch.from_numpy(mean), torch.from_numpy(logvar)))
    assert last["val_kl"] == pytest.approx(kl, rel=1e-3)
    rows = [r for c in charts(at) for r in chart_rows(c)]
    shown = [r["value"] for r in rows if r.get("term") == "KL (nats per example)" and r.get("split") == "validation"]
    assert shown == pytest.approx([e["val_kl"] for e in run.history.epochs])
    assert [r for r in rows if r.get("term") == "reconstruction (per pixel)"]
    # 16 samples of the prior, decoded
    assert any("16 codes drawn from the prior N(0, I) and decoded" in c for i in at.get("image") for c in i.captions)
    spread = np.exp(0.5 * logvar).mean(0)
    assert any(f"Average spread per dimension at this epoch: z1 {spread[0]:.3f}, z2 {spread[1]:.3f}" in c.value
               for c in at.caption)
    ok(at.number_input(key="lat_prior_seed").set_value(7).run())
    for show in ("space", "decode", "recon", "pca"):                         # every other view of a VAE draws
        ok(at.segmented_control(key="lat_show").set_value(show).run())


def test_the_point_panel_opens_from_the_keyboard_with_the_example_box(runs):
    at = page(runs["ae"].id)
    assert at.number_input(key="lat_example").value is None
    ok(at.number_input(key="lat_example").set_value(7).run())
    assert any(m.value.startswith("**Example 7** · label ") for m in at.markdown), [m.value for m in at.markdown][:8]
    assert "reconstruction (error" in " ".join(str(e.proto) for e in at.get("image")), "no reconstruction shown"
