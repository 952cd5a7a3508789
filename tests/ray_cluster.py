"""A Ray cluster on this machine, as Ray tests itself (ray.cluster_utils.Cluster): a head that
takes no work and two 1-CPU worker nodes, the second advertising a GPU. Every address stays on
loopback, token authentication is on, and every process it started is stopped by its PID.

Where Ray is not installed: skipped on a developer's machine (it is an optional dependency of the app),
failed under CI (CI=true), where a skip would hide that the cluster tests never ran; `make test`
installs it (requirements-cluster.txt)."""
from __future__ import annotations

import os
import secrets
import signal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Set before Ray is imported (it reads them at import and at start): loopback only, a token.
CLUSTER_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",   # else Ray swaps 127.0.0.1 for the host's address
    "RAY_AUTH_MODE": "token",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DEDUP_LOGS": "0",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_ray() -> None:
    """Import Ray, or skip the test (fail it under CI) with what to install."""
    try:
        import ray  # noqa: F401
    except ImportError as e:
        message = f"Ray is not installed ({e}): pip install -r requirements-cluster.txt"
        if in_ci():
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)


class LocalCluster:
    """nodes: the worker nodes' resources (default: one with a CPU, one with a CPU and a GPU)."""

    def __init__(self, nodes: list[dict] | None = None):
        os.environ.update(CLUSTER_ENV)            # before Ray is imported: it reads them then
        os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(16))
        require_ray()
        # nodes start their workers with this environment: the project importable on every node
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        from ray.cluster_utils import Cluster

        self.cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 0, "object_store_memory": 80 * 2**20, "include_dashboard": False})
        workers = [self.add_node(**n) for n in (nodes or [{"num_cpus": 1}, {"num_cpus": 1, "num_gpus": 1}])]
        self.cpu_node, self.gpu_node = workers[0], workers[-1]
        self.address = self.cluster.address
        assert self.address.startswith("127.0.0.1:"), self.address
        self.env = {**CLUSTER_ENV, "RAY_AUTH_TOKEN": os.environ["RAY_AUTH_TOKEN"],
                    "PLAYGROUND_RAY_ADDRESS": self.address}

    def add_node(self, **kwargs):
        return self.cluster.add_node(object_store_memory=80 * 2**20, **kwargs)

    def _pids(self) -> list[int]:
        pids = []
        for node in [self.cluster.head_node, *self.cluster.worker_nodes]:
            for infos in node.all_processes.values():
                pids += [i.process.pid for i in infos if i.process is not None]
        return pids

    def shutdown(self) -> None:
        import ray

        pids = self._pids()
        ray.shutdown()
        try:
            self.cluster.shutdown()
        finally:
            for pid in pids:                   # whatever is left, by PID (never `ray stop`: it kills by name)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
