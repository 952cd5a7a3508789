"""A run's history as a stream of messages: how a run training elsewhere (a worker process, a Ray
actor) reports to the server, whatever carries the messages.

The trainer's side is a StreamedHistory: an ordinary History that also hands each write, as a
message (method, args, kwargs), to a `send` callable. The server's side applies each message to the
handle's own History with `apply`, so pages read a remote run exactly as a local one. Tensors
travel as numpy arrays (to_wire / from_wire): plain bytes through a socket or Ray's object store.
"""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from playground.train.history import History

# messages that are not history writes
DONE, READY = "done", "ready"
BATCH = "batch"                                   # (BATCH, [message, ...]): several messages sent as one
HEAVY = ("add_snapshot", "add_checkpoint")        # carry weights: converted from the wire on arrival


def to_wire(obj):
    """Tensors -> numpy arrays, recursively: plain bytes through the socket, where tensors would each
    make a shared-memory file. (dtypes numpy lacks, such as bfloat16, travel as tensors.)"""
    if isinstance(obj, torch.Tensor):
        return obj.numpy() if obj.dtype != torch.bfloat16 else obj
    if isinstance(obj, dict):
        return {k: to_wire(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_wire(v) for v in obj)
    return obj


def wire(msg):
    """A history message ready to travel: a heavy one's tensors as numpy arrays (to_wire); every other
    message carries plain Python values only (losses, records, statistics, progress: the trainer
    converts them) and goes as it is. Walking those item by item cost a tiny network's run ~5% of its
    time: a statistics record alone holds some 600 numbers."""
    method, args, kwargs = msg
    return (method, to_wire(args), kwargs) if method in HEAVY else msg


def from_wire(obj):
    if isinstance(obj, np.ndarray):             # Ray hands out read-only views of its object store: copy those
        return torch.from_numpy(obj if obj.flags.writeable else obj.copy())
    if isinstance(obj, dict):
        return {k: from_wire(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(from_wire(v) for v in obj)
    return obj


class StreamedHistory(History):
    """The trainer's side: a History that also sends each write (`send` must return at once).
    guard: a lock held around each write and its send, where a reader must see both or neither
    (an actor's state() for a server that reattaches)."""

    def __init__(self, send, guard=None):
        super().__init__()
        self._send = send
        self._guard = guard if guard is not None else contextlib.nullcontext()

    def add_steps(self, first_step, losses):
        with self._guard:
            super().add_steps(first_step, losses)
            self._send(("add_steps", (first_step, losses), {}))

    def update(self, **fields):
        with self._guard:
            super().update(**fields)
            self._send(("update", (), fields))

    def add_epoch(self, record):
        with self._guard:
            super().add_epoch(record)
            self._send(("add_epoch", (record,), {}))

    def add_mark(self, mark):
        with self._guard:
            super().add_mark(mark)
            self._send(("add_mark", (mark,), {}))

    def add_snapshot(self, epoch, step, partial, weights):
        self._send(("add_snapshot", (epoch, step, partial, weights), {}))

    def add_checkpoint(self, ckpt):
        self._send(("add_checkpoint", (ckpt,), {}))

    def add_stats(self, record):
        self._send(("add_stats", (record,), {}))


def coalesce(msgs: list) -> list:
    """[(seq, message)] -> fewer messages that do the same to a History, each under the last seq: the
    per-step losses joined where they follow on, lr marks and epoch records each in one message, the
    field updates merged (the newest value of each), then the heavy and control messages in their
    order. A run that publishes 10 times a second and ends 70 short epochs a second sends some 100
    messages a second; a poll takes 4 or 5. The curves come before the weights, so a checkpoint is
    never applied ahead of the steps it follows."""
    if len(msgs) < 2:
        return msgs
    steps: list[list] = []
    marks: list = []
    epochs: list = []
    fields: dict = {}
    progress: dict = {}
    rest: list = []
    for _, (method, args, kwargs) in msgs:
        if method == "add_steps":
            first, losses = args
            if steps and steps[-1][0] + len(steps[-1][1]) == first:
                steps[-1][1].extend(losses)
            else:
                steps.append([first, list(losses)])
        elif method == "add_mark":
            marks.append(args[0])
        elif method == "add_epoch":
            epochs.append(args[0])
        elif method == "update" and not args:
            progress.update(kwargs.get("progress", {}))
            fields.update({k: v for k, v in kwargs.items() if k != "progress"})
        else:
            rest.append((method, args, kwargs))
    out = [("add_steps", (first, losses), {}) for first, losses in steps]
    if epochs:
        out.append(("add_epochs", (epochs,), {}))
    if marks:
        out.append(("add_marks", (marks,), {}))
    if fields or progress:
        out.append(("update", (), {**fields, **({"progress": progress} if progress else {})}))
    seq = msgs[-1][0]
    return [(seq, m) for m in out + rest]


def apply(history: History, msg) -> None:
    """The server's side: apply one history message (not DONE or READY) to `history`."""
    method, args, kwargs = msg
    if method in HEAVY:
        args = from_wire(args)
    getattr(history, method)(*args, **kwargs)
