"""playground/export through `python -m playground export`: the ONNX and TorchScript files of every kind
of model, not only the classifiers of test_export.py. One run of each kind trains one epoch on a little
data from its example config: a regression MLP (diabetes_mlp), a transformer that outputs a token per
position (transformer_reverse), an LSTM (lstm_max), a VAE (mnist_vae) and a conv autoencoder
(mnist_conv_autoencoder). Each exported file, loaded by its own reader (onnxruntime, torch.jit.load),
gives the frozen model's outputs (PyTorch, eval mode) on the run's own validation inputs to 1e-4, in
the output shape of its task, at a batch size that neither the export's trace (2) nor its check (64) used.

The VAE's exported graph is the eval-mode network: the reconstruction decoded from the latent mean,
with no sampling; it equals the decoder run by hand on the first half of the encoder's output.

An export that does not give PyTorch's numbers is refused with a one-line error that says by how much,
and leaves no file. A correct ONNX export of a net whose outputs are ~1e3 (the stats_init_normal
example) is accepted (the check's tolerance scales with the outputs: 1e-4 is below one float32 step
at 1e3), and an exporter that raises ends the CLI in a one-line error that names the format.
"""
import contextlib
import io
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from playground.__main__ import main
from playground.config import read_mapping
from playground.store import default_store
from playground.train.frozen import frozen_model
from tests.trained import train_stored

ROOT = Path(__file__).resolve().parents[2]
ATOL = 1e-4               # what the README promises for an exported model's outputs
BATCH = 37                # validation inputs compared: not the trace's 2, not the export check's 64
# kind: (example, data settings that keep it small, the output shape of one sample)
KINDS = {
    "regression": ("diabetes_mlp.yaml", {"max_train": 100}, (1,)),
    "transformer": ("transformer_reverse.yaml", {"n_samples": 300}, (8, 10)),        # a token's logits per position
    "lstm": ("lstm_max.yaml", {"n_samples": 300}, (10,)),
    "vae": ("mnist_vae.yaml", {"max_train": 256}, (1, 28, 28)),
    "conv-autoencoder": ("mnist_conv_autoencoder.yaml", {"max_train": 256}, (1, 28, 28)),
    "deep-normal-init": ("stats_init_normal.yaml", {"n_samples": 300}, (2,)),        # outputs ~1e3
}
EXPORTED = [kind for kind in KINDS if kind != "deep-normal-init"]


@pytest.fixture(scope="module")
def stored():
    """stored(kind) -> the id of that kind's run, trained 1 epoch into the test store (once per module)."""
    ids = {}

    def get(kind: str) -> str:
        if kind not in ids:
            example, data, _ = KINDS[kind]
            config = read_mapping(ROOT / "examples" / example)
            config["data"] = {**config["data"], **data}
            config.update(epochs=1, device="cpu", patience=0)
            ids[kind] = train_stored(config).id
        return ids[kind]
    return get


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def export(rid: str, fmt: str, out) -> dict:
    """`python -m playground export` in-process; its JSON line."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["export", rid, "--format", fmt, "--out", str(out)])
    assert code == 0, f"export {fmt} of run {rid} exited {code}: {stderr.getvalue()}"
    return last_json(stdout.getvalue())


@pytest.fixture(scope="module")
def exported(stored, tmp_path_factory):
    """exported(kind, fmt) -> (the file `export` wrote for that kind's run, its JSON line), once per module."""
    files = {}
    folder = tmp_path_factory.mktemp("exports")

    def get(kind: str, fmt: str):
        if (kind, fmt) not in files:
            path = folder / f"{kind}{READERS[fmt][0]}"
            files[kind, fmt] = path, export(stored(kind), fmt, path)
        return files[kind, fmt]
    return get


def validation_batch(rid: str):
    """(frozen model in eval mode, the run's first BATCH validation inputs, the model's outputs on them)."""
    frozen = frozen_model(default_store(), rid)
    assert not frozen.model.training
    x = frozen.data.X_val[:BATCH]
    with torch.no_grad():
        return frozen.model, x, frozen.model(x)


def run_onnx(path, x: torch.Tensor) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    outputs = session.run(None, {inp.name: x.numpy()})
    assert len(outputs) == 1, f"the ONNX graph has {len(outputs)} outputs, expected one"
    return outputs[0]


def run_torchscript(path, x: torch.Tensor) -> np.ndarray:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)                # torch.jit.load is deprecated, still works
        return torch.jit.load(str(path))(x).numpy()


READERS = {"onnx": (".onnx", run_onnx), "torchscript": (".pt", run_torchscript)}


@pytest.mark.parametrize("fmt", READERS)
@pytest.mark.parametrize("kind", EXPORTED)
def test_the_export_gives_the_frozen_models_outputs(kind, fmt, stored, exported):
    path, info = exported(kind, fmt)
    assert info["format"] == fmt and info["max_abs_diff"] <= ATOL
    _, x, expected = validation_batch(stored(kind))
    assert x.dtype == (torch.int64 if kind in ("transformer", "lstm") else torch.float32)   # tokens are ids
    got = READERS[fmt][1](path, x)
    assert got.shape == (len(x), *KINDS[kind][2]), f"{kind} {fmt}: output shape {got.shape}"
    np.testing.assert_allclose(got, expected.numpy(), rtol=0, atol=ATOL,
                               err_msg=f"the {fmt} export of the {kind} run differs from PyTorch's outputs")


@pytest.mark.parametrize("fmt", READERS)
def test_the_vae_exports_the_reconstruction_decoded_from_the_latent_mean(fmt, stored, exported):
    path, _ = exported("vae", fmt)
    read = READERS[fmt][1]
    model, x, _ = validation_batch(stored("vae"))
    latent = next(i for i, m in enumerate(model) if type(m).__name__ == "Latent")
    with torch.no_grad():
        stats = model[:latent](x)                                    # (B, 4): mean (B, 2), log-variance (B, 2)
        mean, logvar = stats[:, :2], stats[:, 2:]
        from_mean = model[latent + 1:](mean)                         # (B, 1, 28, 28)
        draw = torch.randn(mean.shape, generator=torch.Generator().manual_seed(0))
        from_sample = model[latent + 1:](mean + torch.exp(0.5 * logvar) * draw)
    got = read(path, x)
    assert np.array_equal(got, read(path, x)), "two runs of the exported VAE differ: it samples"
    np.testing.assert_allclose(got, from_mean.numpy(), rtol=0, atol=ATOL,
                               err_msg=f"the {fmt} VAE is not the decoder of the latent mean")
    assert np.abs(got - from_sample.numpy()).max() > 100 * ATOL      # a sampled code would have been seen


@pytest.mark.parametrize("fmt", READERS)
def test_an_export_that_does_not_give_pytorchs_numbers_is_refused(fmt, stored, tmp_path, capsys, monkeypatch):
    # the reader of the written file sees outputs 0.5 off, as a broken exporter would give
    import onnxruntime as ort

    rid = stored("regression")
    if fmt == "onnx":
        run = ort.InferenceSession.run
        monkeypatch.setattr(ort.InferenceSession, "run", lambda self, *a, **k: [y + 0.5 for y in run(self, *a, **k)])
    else:
        load = torch.jit.load
        monkeypatch.setattr(torch.jit, "load", lambda *a, **k: (lambda m: lambda x: m(x) + 0.5)(load(*a, **k)))
    out = tmp_path / f"model{READERS[fmt][0]}"
    assert main(["export", rid, "--format", fmt, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert captured.err.strip() == (f"error: the {fmt} export of run {rid} gives outputs up to 0.5 away from "
                                    f"PyTorch's (tolerance 0.0001); it was not written")
    assert not out.exists(), "a refused export left its file behind"


def test_a_net_with_large_outputs_exports_to_onnx(stored, tmp_path):
    from playground.export import export_run

    rid = stored("deep-normal-init")
    _, x, expected = validation_batch(rid)
    scale = float(expected.abs().max())
    assert scale > 1024, f"the premise: N(0, 1) init gives outputs over 1024, got {scale:.0f}"
    export_run(default_store(), rid, "onnx", tmp_path / "deep.onnx")
    np.testing.assert_allclose(run_onnx(tmp_path / "deep.onnx", x), expected.numpy(), rtol=0, atol=1e-6 * scale)


def test_a_network_the_exporter_cannot_convert_is_a_one_line_error(stored, tmp_path, capsys, monkeypatch):
    from torch.onnx._internal.exporter._errors import ConversionError

    def cannot(*args, **kwargs):
        raise ConversionError("Failed to convert the exported program to an ONNX model: no decomposition for "
                              "aten::some_op")
    rid = stored("regression")
    monkeypatch.setattr(torch.onnx, "export", cannot)
    assert main(["export", rid, "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.match(rf"error: .*onnx.* run {rid}.*aten::some_op", err[0]), err
    assert not (tmp_path / "m.onnx").exists()
