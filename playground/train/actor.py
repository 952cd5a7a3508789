"""The Ray actor that trains one run on a cluster node (see cluster.py for the server's side).

Kept light at import (the standard library only): a node deserialises this class before the
actor's constructor runs, so the actor answers `where()` as soon as it is placed, and torch is
imported by the training thread. Messages are the run's history writes (stream.py), kept in order
with a sequence number until the server has taken them: take(after) drops what the server
acknowledged (after) and returns the rest, so nothing is lost if a poll's answer is.
"""
from __future__ import annotations

import os
import socket
import threading

# A run that ended but whose last messages nobody took (the server is gone and does not come back)
# ends its actor after this long, freeing its CPU (a detached actor otherwise lives forever).
ORPHAN_S = float(os.environ.get("PLAYGROUND_RAY_ORPHAN_S", "600"))


class RunActor:
    def __init__(self, run_id: str, config, rows: list, checkpoint, budget: int, wait_for_go: bool,
                 publish_every: float):
        """config, rows: the RunConfig and network rows the server checked (CheckedRun.on_node
        remakes the rest here, with this node's copy of the data)."""
        import ray

        ctx = ray.get_runtime_context()
        self._where = {"node": ctx.get_node_id(), "ip": ray.util.get_node_ip_address(),
                       "host": socket.gethostname(), "pid": os.getpid(),
                       "gpus": [str(g) for g in ray.get_gpu_ids()]}
        self._lock = threading.RLock()        # the log; a history write with its message (see state())
        self._log: list = []                  # [(seq, message)], oldest first
        self._seq = 0
        self._stop = threading.Event()
        self._go = threading.Event()
        self._ended = threading.Event()       # the run has sent its last message
        self._taken = threading.Event()       # ... and the server has taken it
        self._history = None
        self._trainer = None                  # the Trainer, once its thread has made it
        if not wait_for_go:
            self._go.set()
        threading.Thread(target=self._train, args=(run_id, config, rows, checkpoint, budget, publish_every),
                         name=f"run-{run_id}", daemon=True).start()

    # ------------------------------------------------------------------ asked by the server
    def where(self) -> dict:
        """The node that runs this actor: its id, address, host name; the process id; GPU ids."""
        return self._where

    def take(self, after: int) -> list:
        """Messages after sequence number `after` (what the server has applied), coalesced (stream.py):
        [(seq, msg)]."""
        from playground.train.stream import coalesce

        with self._lock:
            drop = 0
            while drop < len(self._log) and self._log[drop][0] <= after:
                drop += 1
            del self._log[:drop]
            out = list(self._log)
            if self._ended.is_set() and not out:
                self._taken.set()
        return coalesce(out)

    def state(self) -> dict:
        """Everything a server that reattaches needs: the whole history so far (its curves), the
        messages not yet taken, and the sequence number they end at."""
        with self._lock:                      # every history write holds it too (its guard)
            h = self._history
            hist = None
            if h is not None:
                hist = {**h.snapshot(), "step_gen": h.step_gen, "mark_gen": h.mark_gen}
                del hist["version"]
            return {"history": hist, "pending": list(self._log), "seq": self._seq, "where": self._where}

    def go(self) -> None:
        self._go.set()

    def stop(self) -> int:
        """Stop after the current step (the training loop reads the flag between steps); the steps
        taken when the flag went up (the run's last step is at most one more)."""
        self._stop.set()
        self._go.set()
        return self._trainer.steps if self._trainer is not None else 0

    # ------------------------------------------------------------------ the training thread
    def _send(self, msg) -> None:
        from playground.train.stream import wire

        msg = wire(msg)
        with self._lock:
            self._seq += 1
            self._log.append((self._seq, msg))

    def _train(self, run_id, config, rows, checkpoint, budget, publish_every) -> None:
        import torch

        from playground.train.checked import CheckedRun
        from playground.train.stream import DONE, READY, StreamedHistory, from_wire
        from playground.train.trainer import Trainer, reported

        torch.set_num_threads(1)
        history = StreamedHistory(self._send, guard=self._lock)
        with self._lock:
            self._history = history
        log_name = f"the Ray worker's log on node {self._where['ip']}"
        checked = []                          # the server checked the run; this node loads its own data
        history.update(status="starting")
        reported(history, lambda: checked.append(CheckedRun.on_node(config, rows)), log_name)

        def wait():
            self._send((READY, (), {}))
            self._go.wait()
        if checked:
            self._trainer = Trainer(checked[0], run_id, history=history, stop=self._stop,
                                    publish_every=publish_every, snapshot_budget=budget)
            self._trainer.train_job(from_wire(checkpoint) if checkpoint is not None else None,
                                    None if self._go.is_set() else wait, log_name)
        self._send((DONE, (), {}))
        self._ended.set()
        if not self._taken.wait(ORPHAN_S):        # no server took the end: free the CPU ourselves
            os._exit(0)
