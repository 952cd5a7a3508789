"""Device selection: auto picks CUDA, then Apple MPS, then the CPU."""
from __future__ import annotations

import torch

from playground.errors import DeviceError


def available_devices() -> list[str]:
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.append("mps")
    return found


def resolve_device(name: str) -> torch.device:
    found = available_devices()
    if name == "auto":
        return torch.device("cuda" if "cuda" in found else "mps" if "mps" in found else "cpu")
    if name not in found:
        raise DeviceError(f"device '{name}' is not available on this machine (found: {', '.join(found)}); "
                          f"choose auto or cpu")
    return torch.device(name)


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type
