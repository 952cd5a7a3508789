"""playground/export: a stored run's weights, TorchScript and ONNX models, checked against PyTorch."""
import json

import numpy as np
import pytest
import torch

from playground.config import RunConfig
from playground.export import export_bytes, export_run
from playground.store import Store, StoreError
from playground.train.frozen import frozen_model
from playground.train.registry import Registry

CNN = [{"type": "Conv2d", "out_channels": 4, "padding": 1}, {"type": "BatchNorm"}, {"type": "ReLU"},
       {"type": "MaxPool2d"}, {"type": "Flatten"}, {"type": "Dropout", "p": 0.2},
       {"type": "Linear", "out_features": 10}]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A digits CNN with BatchNorm and Dropout, trained 2 epochs into a store of its own."""
    store = Store(tmp_path_factory.mktemp("store"))
    reg = Registry(processes=False, store=store)
    cfg = RunConfig.from_dict({"data": {"name": "digits", "max_train": 300}, "layers": CNN, "epochs": 2,
                               "batch_size": 32, "device": "cpu", "name": "digits cnn / test"})
    run = reg.start(cfg)
    assert run.join(60) and reg.flush()
    return store, run.id


def test_safetensors_holds_the_snapshot_weights(trained, tmp_path):
    from safetensors.torch import load_file

    store, rid = trained
    info = export_run(store, rid, "safetensors", tmp_path / "w.safetensors", epoch=1)
    assert info["epoch"] == 1 and info["name"] == "digits_cnn___test.safetensors"
    weights = load_file(tmp_path / "w.safetensors")
    expected = frozen_model(store, rid, epoch=1).model.state_dict()
    assert weights.keys() == expected.keys()
    for k, v in expected.items():
        assert torch.equal(weights[k], v), k
    raw = (tmp_path / "w.safetensors").read_bytes()       # safetensors, not a pickle: a length, then a JSON header
    n = int.from_bytes(raw[:8], "little")
    assert 8 + n < len(raw) and "__metadata__" in json.loads(raw[8:8 + n])


def test_torchscript_loads_back_and_matches_pytorch(trained, tmp_path):
    store, rid = trained
    info = export_run(store, rid, "torchscript", tmp_path / "m.pt")
    assert info["max_abs_diff"] <= 1e-5 and info["checked_on"] == 64
    model = torch.jit.load(str(tmp_path / "m.pt"))
    f = frozen_model(store, rid)
    x = f.data.X_val[100:103]                                  # another batch size than the check's
    with torch.no_grad():
        torch.testing.assert_close(model(x), f.model(x), rtol=0, atol=1e-5)


def test_onnx_runs_in_onnxruntime_with_any_batch_size(trained, tmp_path):
    import onnxruntime as ort

    store, rid = trained
    info = export_run(store, rid, "onnx", tmp_path / "m.onnx")
    assert info["max_abs_diff"] <= 1e-4
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    f = frozen_model(store, rid)
    for n in (1, 7):
        x = f.data.X_val[:n]
        out = session.run(None, {"x": x.numpy()})[0]
        with torch.no_grad():
            np.testing.assert_allclose(out, f.model(x).numpy(), rtol=0, atol=1e-4)


def test_script_export_is_the_standalone_program(trained):
    store, rid = trained
    blob, info = export_bytes(store, rid, "script")
    src = blob.decode()
    compile(src, "train.py", "exec")
    assert "class Net(nn.Module)" in src and "import playground" not in src and info["name"].endswith(".py")


def test_unknown_run_and_format_are_clear_errors(trained, tmp_path):
    store, rid = trained
    with pytest.raises(StoreError, match="format 'pickle' is not one of safetensors, torchscript, onnx, script"):
        export_run(store, rid, "pickle", tmp_path / "x")
    with pytest.raises(StoreError, match="no stored run 'nope'"):
        export_run(store, "nope", "onnx", tmp_path / "x")
