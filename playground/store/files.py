"""Tensor files of the run store: safetensors only (no pickle: loading a file must never run code).

Every write goes to a temporary file in the same folder, is flushed to disk, then renamed over the
target: a reader sees the old file or the new one, never half of one. A checkpoint (everything a
resume needs: model, optimizer, scheduler, generator states, position) is a nested dict; it is
flattened into named tensors plus a JSON tree in the file's metadata.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch

from playground.errors import PlaygroundError


class StoreError(PlaygroundError):
    """The run store cannot do what was asked (missing run, unreadable file, a limit reached)."""


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict | None = None) -> int:
    """Write tensors (+ a JSON-able meta dict) to path atomically; returns the file's size in bytes."""
    from safetensors.torch import save

    blob = save({k: v.detach().contiguous().cpu() for k, v in tensors.items()},
                metadata={"playground": json.dumps(meta or {})})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(blob)


def load_tensors(path: Path, what: str) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, meta) from a file save_tensors wrote; StoreError naming `what` if it cannot be read."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        blob = Path(path).read_bytes()
        tensors = load(blob)
        meta = json.loads(_header_meta(blob).get("playground", "{}"))
    except FileNotFoundError:
        raise StoreError(f"{what}: the file {path} is missing; it may have been deleted by hand") from None
    except (SafetensorError, ValueError, OSError) as e:
        raise StoreError(f"{what}: the file {path} cannot be read ({type(e).__name__}: {e}); it is damaged or "
                         f"truncated. Nothing else is affected: delete this file, or the run, to clear it") from None
    return tensors, meta


def _header_meta(blob: bytes) -> dict:
    n = int.from_bytes(blob[:8], "little")
    return json.loads(blob[8:8 + n]).get("__metadata__", {}) or {}


# ------------------------------------------------------------------ nested dicts <-> flat tensors
def flatten(tree) -> tuple[dict[str, torch.Tensor], object]:
    """Split a nested structure into named tensors and a JSON-able skeleton that refers to them."""
    tensors: dict[str, torch.Tensor] = {}

    def enc(obj, path: str):
        if isinstance(obj, torch.Tensor):
            tensors[path] = obj
            return {"__t": path}
        if isinstance(obj, dict):
            if all(isinstance(k, str) for k in obj):
                return {k: enc(v, f"{path}.{k}" if path else k) for k, v in obj.items()}
            return {"__items": [[k, enc(v, f"{path}.{k}")] for k, v in obj.items()]}
        if isinstance(obj, (list, tuple)):
            return [enc(v, f"{path}.{i}") for i, v in enumerate(obj)]
        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        raise TypeError(f"cannot store a {type(obj).__name__} at {path}")
    return tensors, enc(tree, "")


def unflatten(tensors: dict[str, torch.Tensor], skeleton):
    def dec(obj):
        if isinstance(obj, dict):
            if "__t" in obj and len(obj) == 1:
                return tensors[obj["__t"]]
            if "__items" in obj and len(obj) == 1:
                return {k: dec(v) for k, v in obj["__items"]}
            return {k: dec(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [dec(v) for v in obj]
        return obj
    return dec(skeleton)


def save_tree(path: Path, tree: dict, meta: dict | None = None) -> int:
    tensors, skeleton = flatten(tree)
    return save_tensors(path, tensors, {**(meta or {}), "tree": skeleton})


def load_tree(path: Path, what: str) -> tuple[dict, dict]:
    tensors, meta = load_tensors(path, what)
    if "tree" not in meta:
        raise StoreError(f"{what}: the file {path} is not a playground checkpoint (no tree in its metadata)")
    try:
        return unflatten(tensors, meta.pop("tree")), meta
    except (KeyError, TypeError) as e:
        raise StoreError(f"{what}: the file {path} is inconsistent ({e}); it is damaged") from None
