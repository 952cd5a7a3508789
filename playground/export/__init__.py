"""Export a stored run: weights (safetensors), TorchScript, ONNX, and a standalone PyTorch script.

Every model export is checked before it is handed over: the file is loaded back (torch.jit.load,
onnxruntime) and its outputs on a batch of validation inputs are compared with PyTorch's.
"""
from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import torch

from playground.store import Store, StoreError
from playground.store.files import save_tensors
from playground.train.frozen import frozen_model

FORMATS = {"safetensors": ".safetensors", "torchscript": ".pt", "onnx": ".onnx", "script": ".py"}
CHECK_BATCH = 64          # validation inputs the exported model is checked on
TOLERANCE = 1e-4          # largest |difference| of an output between the export and PyTorch, per unit of the
                          # outputs' size (float32 rounding alone is ~1e-7 of it: outputs near 1e3 differ by 1e-4)


def export_bytes(store: Store, run_id: str, fmt: str, epoch: int | None = None) -> tuple[bytes, dict]:
    """(file content, info) of run_id exported as fmt; info: format, epoch, file name, check result."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"export{FORMATS[fmt]}"
        info = export_run(store, run_id, fmt, path, epoch)
        return path.read_bytes(), info


def export_run(store: Store, run_id: str, fmt: str, out: str | Path, epoch: int | None = None) -> dict:
    """Write run_id's model at `epoch` (default: the latest snapshot) to `out` as fmt. Raises
    StoreError (unknown run, no snapshot, an export that does not match PyTorch)."""
    if fmt not in FORMATS:
        raise StoreError(f"format '{fmt}' is not one of {', '.join(FORMATS)}")
    out = Path(out)
    row = store.get(run_id)
    if row is None:
        raise StoreError(f"no stored run '{run_id}'")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise StoreError(f"--out: cannot write '{out}' ({e.strerror or e}); give a path you can write to") from None
    slug = "".join(c if c.isalnum() else "_" for c in row.name).strip("_")[:40] or run_id
    info = {"run_id": run_id, "format": fmt, "path": str(out), "name": f"{slug}{FORMATS[fmt]}"}
    if fmt == "script":
        from playground.config import RunConfig
        from playground.export.script import standalone_script

        _write(out, standalone_script(RunConfig.from_dict(row.config)).encode())
        info["epochs"] = row.config["epochs"]
        return {**info, "bytes": out.stat().st_size}
    f = frozen_model(store, run_id, epoch)
    info["epoch"] = f.epoch
    x = f.data.X_val[:CHECK_BATCH]                                   # (B, ...) real inputs
    with torch.no_grad():
        expected = f.model(x)                                        # (B, classes)
    if fmt == "safetensors":
        meta = {"run": run_id, "name": row.name, "epoch": f.epoch, "config": row.config,
                "keys": "those of torch.nn.Sequential(*layers), layers in the config's order (0.weight is the "
                        "first layer's weight); load with safetensors.torch.load_file"}
        save_tensors(out, f.model.state_dict(), meta)
        from safetensors.torch import load_file

        back = load_file(out)
        same = all(torch.equal(back[k], v) for k, v in f.model.state_dict().items())
        if not same:
            raise StoreError(f"the exported weights of run {run_id} do not read back equal")
        return {**info, "bytes": out.stat().st_size, "max_abs_diff": 0.0}
    try:
        got = _torchscript(f.model, x, out) if fmt == "torchscript" else _onnx(f.model, x, out)
    except StoreError:
        raise
    except Exception as e:                                           # the exporter's own error, whatever its type
        out.unlink(missing_ok=True)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:300]
        raise StoreError(f"the {fmt} exporter cannot convert run {run_id}'s network ({type(e).__name__}: {first}); "
                         f"try the other format, or the weights (safetensors) with the PyTorch script") from None
    diff = float((got - expected).abs().max())
    allowed = TOLERANCE * max(1.0, float(expected.abs().max()))
    if not diff <= allowed:
        out.unlink(missing_ok=True)
        raise StoreError(f"the {fmt} export of run {run_id} gives outputs up to {diff:.3g} away from PyTorch's "
                         f"(tolerance {allowed:.3g}); it was not written")
    return {**info, "bytes": out.stat().st_size, "max_abs_diff": diff, "checked_on": len(x)}


def _torchscript(model, x: torch.Tensor, out: Path) -> torch.Tensor:
    """Trace, save, load back, and run the loaded module on x."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                              # torch.jit is deprecated but still the format
        traced = torch.jit.trace(model, x[:2])
        buf = io.BytesIO()
        torch.jit.save(traced, buf)
        _write(out, buf.getvalue())
        loaded = torch.jit.load(str(out))
        with torch.no_grad():
            return loaded(x)


def _onnx(model, x: torch.Tensor, out: Path) -> torch.Tensor:
    """Export with torch's exporter (dynamic batch size, one self-contained file), then run it in
    onnxruntime on x."""
    import onnxruntime as ort

    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x[:2],), str(out), dynamo=True, external_data=False, input_names=["x"],
                          output_names=["logits"], dynamic_shapes=({0: torch.export.Dim.DYNAMIC},), verbose=False)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {"x": x.numpy()})[0])


def _write(path: Path, blob: bytes) -> None:
    try:
        path.write_bytes(blob)
    except OSError as e:
        raise StoreError(f"--out: cannot write '{path}' ({e.strerror or e}); give a path you can write to") from None


__all__ = ["FORMATS", "export_bytes", "export_run"]
