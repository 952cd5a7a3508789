"""A run's config checked once, against its data and this machine: what every executor trains from.

`check(config)` runs on the server when a run starts (its errors reach the page at once): it loads
the data, makes the task, builds the network on the meta device (nothing allocated), checks the
network's end against the task and its memory against the machine. The config itself was validated
when it was made (`RunConfig.from_dict`). Whoever trains the run then only `build()`s the network
for real: a worker process gets the CheckedRun itself, a cluster node that loads its own data gets
it from `on_node()`, which checks nothing again.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from playground.config import RunConfig
from playground.data import Dataset, load_dataset
from playground.device import resolve_device
from playground.errors import ConfigError, PlaygroundError
from playground.models.budget import check_budget
from playground.models.build import build_model
from playground.train.tasks import Task, make_task


@dataclass
class CheckedRun:
    config: RunConfig
    data: Dataset
    task: Task
    rows: list                   # the network's layers (LayerRow per layer: shapes, parameters)

    def build(self, device: str | torch.device | None = None) -> torch.nn.Module:
        """The network, on the CPU (device None) or `device`, with PyTorch's default initialisation."""
        model, _ = build_model(self.config.layers, self.data.input_shape, device=device, vocab=self.data.vocab)
        return model

    @classmethod
    def on_node(cls, config: RunConfig, rows: list) -> "CheckedRun":
        """A run the server has checked, remade where it trains with data of its own (a cluster node)."""
        data = load_dataset(config.data, config.seed)
        return cls(config, data, make_task(config, data), rows)


def check(config: RunConfig, data: Dataset | None = None) -> CheckedRun:
    """config against its data (loaded unless given) and this machine's memory. Raises
    PlaygroundError with the fix. The network is built once, on the meta device."""
    data = data if data is not None else load_dataset(config.data, config.seed)
    if len(data.X_train) < 1 or len(data.X_val) < 1:
        raise ConfigError(f"data: {len(data.X_train)} training / {len(data.X_val)} validation samples are too "
                          f"few; lower the validation share or use more samples")
    task, model, rows = checked_rows(config, data)
    check_budget(config, data.input_shape, None, len(data.X_train), n_val=len(data.X_val), vocab=data.vocab,
                 built=(model, rows))
    if config.batch_size == 1 and any(layer["type"] == "BatchNorm" for layer in config.layers):
        raise ConfigError("batch_size: BatchNorm needs at least 2 samples per batch to compute batch statistics; "
                          "set batch_size to 2 or more, or remove the BatchNorm layers")
    return CheckedRun(config, data, task, rows)


def checked_rows(config: RunConfig, data: Dataset, device: str | None = "meta"):
    """(task, model, rows): the network built for data (on the meta device: nothing allocated) and
    checked against what its task needs at the end. Raises PlaygroundError with the fix."""
    task = make_task(config, data)
    model, rows = build_model(config.layers, data.input_shape, device=device, vocab=data.vocab)
    task.check_output(rows)
    return task, model, rows


def check_device(config: RunConfig) -> torch.device:
    """The device the config asks for, if present and fit for its settings (raises otherwise)."""
    device = resolve_device(config.device)
    if config.amp and device.type != "cuda":
        raise ConfigError(f"amp: mixed precision runs on CUDA only, and this run's device is "
                          f"{device.type}; switch mixed precision off")
    return device


def default_name(config: RunConfig) -> str:
    return f"{_data_name(config.data)} · {config.optim.name} · lr {config.optim.lr:g}"


def _data_name(data) -> str:
    """A set's name in a run's name: an uploaded table by its file and target ("sizes.csv → size")."""
    if data.name == "csv":
        return f"{Path(data.path).name} → {data.target}"
    if data.name == "folder":
        return Path(data.path).name or data.name
    if data.name in ("upload", "upload_images"):
        from playground.data.uploads import set_record

        try:
            name = set_record(data.upload)["filename"]
        except PlaygroundError:
            return data.name
        return f"{name} → {data.target}" if data.name == "upload" else name
    return data.name
