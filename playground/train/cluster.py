"""Runs on a Ray cluster: one actor per run (actor.py), followed by one poller thread here.

Chosen when PLAYGROUND_RAY_ADDRESS (or Ray's own RAY_ADDRESS) names a running cluster (see
scripts/cluster.sh and the README). What the server does per run is small and batched:
- start: a detached, named actor ("run-<id>" in the "playground" namespace) asking for one CPU, and
  a GPU (or PLAYGROUND_RAY_GPUS_PER_RUN of one) when the run's device is CUDA. Ray places it, or
  queues it until a node has room: the page shows the run as queued, with its place in line;
- poll: about 10 times a second, one take(cursor) per live run, all in flight together; the
  answers (history messages, coalesced by the actor: see stream.py) are applied to the runs'
  histories, and snapshots and checkpoints reach the run store through the recorder as for a local
  run. Each call costs the server ~0.5 ms of Python whatever it carries, so past CALLS_PER_S / 10
  live runs the rounds space out to keep about CALLS_PER_S calls a second (every 0.5 s at 50 runs,
  every 1 s at 100): no page redraws faster than every 0.5 s, and a class's pages every 1-2 s;
- stop: a flag the training loop reads between steps; if the run has not ended within
  STOP_GRACE_S, its actor is killed;
- faults: an actor whose node died is reported lost on that node at once (Ray tells the caller of a
  pending take); its curves so far are kept, and it resumes from its last checkpoint on another node;
- a restarted server finds the actors an earlier one left training (they are named and detached)
  and follows them again (Registry.reattach).

Ray is optional (requirements-cluster.txt): nothing here imports it until a cluster is named.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time

import torch

from playground.config import RunConfig
from playground.errors import ConfigError, PlaygroundError
from playground.train.executor import Executor, Job, RunHandle
from playground.train.stream import DONE, HEAVY, READY, apply, to_wire

log = logging.getLogger(__name__)
NAMESPACE = "playground"
PREFIX = "run-"
POLL_S = 0.1
CALLS_PER_S = float(os.environ.get("PLAYGROUND_RAY_CALLS_PER_S", "100"))   # take() calls a second, at most
STOP_GRACE_S = float(os.environ.get("PLAYGROUND_RAY_STOP_GRACE_S", "10"))
CONNECT_S = 30.0
UNAVAILABLE_S = 1.0                            # an actor Ray calls unreachable this long is lost


def _ray():
    try:
        import ray
    except ImportError:
        raise PlaygroundError("PLAYGROUND_RAY_ADDRESS names a Ray cluster, but Ray is not installed here: "
                              "pip install -r requirements-cluster.txt (or unset PLAYGROUND_RAY_ADDRESS to "
                              "train in local worker processes)") from None
    return ray


def node_text(where: dict | None) -> str:
    """'node 3f2a91c0 (10.0.0.5)': how pages name a cluster node."""
    if not where:
        return "an unknown node"
    return f"node {where['node'][:8]} ({where['ip']})"


class _RayJob(Job):
    """A run's actor, and what the poller knows of it."""

    def __init__(self, actor, where_ref=None, group: list | None = None):
        super().__init__(actor)
        self.where_ref = where_ref             # the answer to where(): the actor has been placed
        self.where: dict | None = None
        self.seq = 0                           # the last message applied
        self.pending = None                    # the take() in flight
        self.unavailable: float | None = None  # since when Ray calls the actor unreachable
        self.stop_at: float | None = None      # when Stop was asked
        self.group = group                     # a race's runs, until they all got go()

    @property
    def place(self) -> str:
        return node_text(self.where) if self.where else ""


class RayExecutor(Executor):
    kind = "ray"
    limit = None                               # the cluster queues what does not fit
    survives_server = True                     # detached actors: a restarted server follows them again

    def __init__(self, address: str, poll_s: float = POLL_S, stop_grace_s: float = STOP_GRACE_S,
                 gpus_per_run: float | None = None):
        self.address = address
        self.poll_s = poll_s
        self.stop_grace_s = stop_grace_s
        self.gpus_per_run = gpus_per_run if gpus_per_run is not None else float(
            os.environ.get("PLAYGROUND_RAY_GPUS_PER_RUN", "1"))
        self._lock = threading.Lock()
        self._live: dict[str, RunHandle] = {}  # runs not yet ended, in the order they were started
        self._thread: threading.Thread | None = None
        self._connected = threading.Event()    # set once connected
        self._tried = threading.Event()        # set once a connection attempt has ended, either way
        self._error: str | None = None
        self._closed = False
        self._actor = None                     # the remote class
        self._resources: dict = {}             # the cluster's free and total resources (see _free)
        self._resources_at = 0.0
        self.rounds = 0                        # poll rounds done, and seconds spent in them (load figures)
        self.round_s = 0.0

    # ------------------------------------------------------------------ connecting
    def connect(self) -> None:
        """Connect (once, from the poller's own long-lived thread: Ray's driver must not belong to
        a short-lived one) and start polling. Raises PlaygroundError if the cluster cannot be reached."""
        with self._lock:
            if self._thread is None or (not self._thread.is_alive() and not self._connected.is_set()):
                self._error = None
                self._tried.clear()
                self._thread = threading.Thread(target=self._main, name="ray-poller", daemon=True)
                self._thread.start()
        if not self._tried.wait(CONNECT_S):
            raise PlaygroundError(f"the Ray cluster at {self.address} did not answer within {CONNECT_S:.0f} s")
        if self._error is not None:
            raise PlaygroundError(self._error)

    def _main(self) -> None:
        try:
            ray = self._connect()
        finally:
            self._tried.set()
        if ray is None:
            return
        while not self._closed:
            t0 = time.perf_counter()
            try:
                self._round(ray)
            except Exception:                  # the poller must outlive any one bad answer
                log.exception("ray poller")
            dt = time.perf_counter() - t0
            self.rounds += 1
            self.round_s += dt
            time.sleep(max(0.0, self.period() - dt))

    def period(self) -> float:
        """Seconds between poll rounds: poll_s, longer where that would pass CALLS_PER_S calls a second."""
        with self._lock:
            n = len(self._live)
        return max(self.poll_s, n / CALLS_PER_S)

    def _connect(self):
        """Ray, connected (None, and self._error, where it cannot be)."""
        host, _, port = self.address.rpartition(":")
        try:                                   # a clear answer at once where nothing listens (ray.init retries)
            socket.create_connection((host, int(port)), timeout=3).close()
        except (OSError, ValueError) as e:
            self._error = (f"nothing answers at {self.address}, the Ray cluster named by PLAYGROUND_RAY_ADDRESS "
                           f"({e}); start it (scripts/cluster.sh head), or unset PLAYGROUND_RAY_ADDRESS to train "
                           f"in local processes")
            return None
        if host in ("127.0.0.1", "localhost"):  # before Ray is imported: else it swaps in the host's address
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        try:
            ray = _ray()
            if not ray.is_initialized():
                ray.init(address=self.address, namespace=NAMESPACE, logging_level=logging.WARNING,
                         log_to_driver=False, configure_logging=False)
            from playground.train.actor import RunActor

            self._actor = ray.remote(RunActor)
        except PlaygroundError as e:
            self._error = str(e)
            return None
        except Exception as e:                 # Ray's own errors: a wrong address, a wrong token, ...
            self._error = (f"could not connect to the Ray cluster at {self.address} ({type(e).__name__}: "
                           f"{str(e).splitlines()[0] if str(e) else ''}); start it (scripts/cluster.sh head) and "
                           f"check RAY_AUTH_TOKEN, or unset PLAYGROUND_RAY_ADDRESS to train in local processes")
            return None
        self._connected.set()
        return ray

    # ------------------------------------------------------------------ the interface
    def device_for(self, config: RunConfig) -> torch.device:
        """cpu or auto: a CPU of any node; cuda: a node with a GPU (checked here, not on the server,
        which may have none)."""
        dev = config.device
        if dev.startswith("cuda"):
            self.connect()
            if self._free(total=True).get("GPU", 0) <= 0:
                raise ConfigError(f"device: this run asks for CUDA, but no node of the Ray cluster at {self.address} "
                                  f"has a GPU; choose cpu (or auto)")
            device = torch.device("cuda")
        elif dev in ("auto", "cpu"):
            device = torch.device("cpu")
        else:
            raise ConfigError(f"device: '{dev}' is not offered on a Ray cluster, where runs train on cpu or cuda")
        if config.amp and device.type != "cuda":
            raise ConfigError("amp: mixed precision runs on CUDA only, and on the cluster this run trains on a CPU; "
                              "choose device cuda, or switch mixed precision off")
        return device

    def devices(self) -> list[str]:
        """cpu, and cuda where a node has a GPU (as last seen: the page does not wait for the cluster)."""
        if not self._connected.is_set():
            threading.Thread(target=self._try_connect, daemon=True, name="ray-connect").start()
            return ["cpu"]
        return ["cpu", "cuda"] if self._free(total=True).get("GPU", 0) > 0 else ["cpu"]

    def _try_connect(self) -> None:
        try:
            self.connect()
        except PlaygroundError:
            pass

    def reserve(self, n: int) -> list:
        self.connect()
        return [None] * n

    def launch(self, handles, slots, together=False):
        made = []
        try:
            for h in handles:
                gpus = self.gpus_per_run if h.device.type == "cuda" else 0
                try:
                    actor = self._actor.options(
                        name=PREFIX + h.id, namespace=NAMESPACE, lifetime="detached", num_cpus=1, num_gpus=gpus,
                        max_restarts=0, scheduling_strategy="SPREAD",
                    ).remote(h.id, h.config, h.rows, to_wire(h.checkpoint), h.snapshot_budget, together,
                             h.publish_every)
                except ValueError as e:        # the name is taken: that run trains already
                    raise PlaygroundError(f"run {h.id} could not start on the cluster ({e})") from None
                h.job = _RayJob(actor, actor.where.remote(), handles if together else None)
                h.checkpoint = None
                h.history.update(status="queued", message="waiting for a CPU on the cluster")
                made.append(h)
        except PlaygroundError:
            for h in made:
                self._kill(h.job)
                h.history.update(status="failed", message="did not start: another run of its group could not")
                h.job.ready.set()
                h.job.done.set()
            raise
        with self._lock:
            for h in made:
                self._live[h.id] = h

    def stop(self, handle: RunHandle) -> None:
        job = handle.job
        if job.where is None:                  # still waiting for a CPU: it never trained
            self._kill(job)
            handle.history.update(status="stopped", message="stopped by the user before it started "
                                                            "(it was waiting for a CPU on the cluster)")
            self._end(handle)
            return
        if job.stop_at is None:
            job.stop_at = time.monotonic()
            job.target.stop.remote()

    def reattach(self) -> list[tuple[str, object]]:
        self.connect()
        ray = _ray()
        out = []
        for a in ray.util.list_named_actors(all_namespaces=True):
            if a.get("namespace") == NAMESPACE and a["name"].startswith(PREFIX):
                try:
                    out.append((a["name"][len(PREFIX):], ray.get_actor(a["name"], namespace=NAMESPACE)))
                except ValueError:             # ended meanwhile
                    pass
        return out

    def adopt(self, handle: RunHandle, actor) -> None:
        """Follow a run an earlier server started: its whole history comes from its actor (what the
        store missed while no server listened is written now), then the messages not yet taken."""
        ray = _ray()
        job = _RayJob(actor)
        try:
            state = ray.get(actor.state.remote(), timeout=30)
        except Exception as e:
            handle.history.update(status="lost", message=f"was training on the cluster, but its actor did not "
                                                         f"answer when the server restarted ({type(e).__name__})")
            handle.job = job
            job.done.set()
            return
        job.where = state["where"]
        if state["history"] is not None:
            handle.history.update(**state["history"])
        handle.job = job
        with self._lock:
            self._live[handle.id] = handle
        # of the messages not yet taken, the curves are in the history already; weights are not
        self._apply(handle, [m for m in state["pending"] if m[1][0] in HEAVY + ("add_stats", DONE)])
        job.seq = state["seq"]

    def queued(self) -> int:
        with self._lock:
            return sum(1 for h in self._live.values() if h.job.where is None)

    def close(self, kill: bool = False) -> None:
        """Stop polling. The runs train on (a restarted server finds them), unless kill; either way
        this server follows them no more (their jobs are done here)."""
        self._closed = True
        with self._lock:
            live, self._live = list(self._live.values()), {}
        for h in live:
            if kill:
                self._kill(h.job)
            h.job.ready.set()
            h.job.done.set()

    # ------------------------------------------------------------------ the poller
    def _free(self, total: bool = False) -> dict:
        """The cluster's free (or, total, all) resources, read from Ray at most once a second."""
        ray = _ray()
        if time.monotonic() - self._resources_at > 1.0:
            self._resources = {"free": ray.available_resources(), "total": ray.cluster_resources()}
            self._resources_at = time.monotonic()
        return self._resources["total" if total else "free"]

    def _round(self, ray) -> None:
        with self._lock:
            live = list(self._live.values())
        waiting = [h for h in live if h.job.where is None]
        if waiting:
            done, _ = ray.wait([h.job.where_ref for h in waiting], num_returns=len(waiting), timeout=0)
            done = set(done)
            for h in waiting:
                if h.job.where_ref in done:
                    try:
                        h.job.where = ray.get(h.job.where_ref)
                    except ray.exceptions.RayError as e:
                        self._lost(h, e)
                        continue
                    if h.history.status == "queued":
                        h.history.update(status="starting", message="")
        placed = [h for h in live if h.job.where is not None and not h.job.done.is_set()]
        if waiting:
            self._show_queue([h for h in waiting if h.job.where is None and not h.job.done.is_set()], len(placed))
        for h in placed:
            if h.job.pending is None:
                h.job.pending = h.job.target.take.remote(h.job.seq)
        refs = {h.job.pending: h for h in placed}
        if refs:
            done, late = ray.wait(list(refs), num_returns=len(refs), timeout=self.poll_s)
            for ref in late:                   # no answer yet: lost if Ray has called it unreachable long enough
                h = refs[ref]
                if h.job.unavailable and time.monotonic() - h.job.unavailable > UNAVAILABLE_S:
                    self._lost(h, f"it has not answered for {UNAVAILABLE_S:g} s")
            for ref in done:
                h = refs[ref]
                h.job.pending = None
                try:
                    msgs = ray.get(ref)
                except ray.exceptions.ActorUnavailableError as e:    # maybe a passing network fault: retry
                    h.job.unavailable = h.job.unavailable or time.monotonic()
                    if time.monotonic() - h.job.unavailable > UNAVAILABLE_S:
                        self._lost(h, e)
                    continue
                except ray.exceptions.RayError as e:                 # the actor died, or its node
                    self._lost(h, e)
                    continue
                h.job.unavailable = None
                self._apply(h, msgs)
        now = time.monotonic()
        for h in placed:
            job = h.job
            if job.stop_at is not None and not job.done.is_set() and now - job.stop_at > self.stop_grace_s:
                self._kill(job)
                h.history.update(status="stopped", message=(
                    f"stopped by the user: it did not stop within {self.stop_grace_s:g} s, so its process on "
                    f"{h.where} was ended; its curves so far are kept and it can resume from its last checkpoint"))
                self._end(h)
            if job.group is not None and not job.done.is_set() and all(g.job.ready.is_set() for g in job.group):
                for g in job.group:            # a race: every variant is ready, all start together
                    if not g.job.done.is_set():
                        g.job.target.go.remote()
                    g.job.group = None

    def _apply(self, h: RunHandle, msgs: list) -> None:
        for seq, msg in msgs:
            h.job.seq = seq
            if msg[0] == DONE:
                self._kill(h.job)              # a detached actor ends when told; its CPU is free again
                self._end(h)
                return
            if msg[0] == READY:
                h.job.ready.set()
                continue
            apply(h.history, msg)

    def _show_queue(self, waiting: list[RunHandle], answered: int) -> None:
        """Runs whose actor has not answered yet. Ray has given a CPU to some of them, whose process
        is starting: as many as the CPUs in use beyond those of the runs that answered (taking this
        server's runs as the cluster's only work); the rest wait in line, in the order they started."""
        free, total = self._free(), self._free(total=True)
        starting = max(0, round(total.get("CPU", 0) - free.get("CPU", 0)) - answered)
        for h in waiting[:starting]:
            if h.history.status != "starting":
                h.history.update(status="starting", message="")
        line = waiting[starting:]
        for i, h in enumerate(line):
            msg = (f"waiting for a free {'GPU' if h.device.type == 'cuda' else 'CPU'} on the cluster: "
                   f"{i + 1} of {len(line)} in line")
            if h.history.message != msg:
                h.history.update(status="queued", message=msg)

    def _lost(self, h: RunHandle, e: Exception | str) -> None:
        """e: what Ray raised, or what we saw."""
        ray = _ray()
        node = h.job.where["node"] if h.job.where else None
        dead = node is not None and not any(n["NodeID"] == node and n["Alive"] for n in ray.nodes())
        why = ("the node went down" if dead else e if isinstance(e, str)
               else f"its process ended ({type(e).__name__})")
        h.history.update(status="lost", message=(
            f"lost on {node_text(h.job.where)}: {why}. Its curves so far are kept; resume it from its last "
            f"checkpoint (another node takes it)"))
        self._kill(h.job)
        self._end(h)

    def _kill(self, job: Job) -> None:
        try:
            _ray().kill(job.target, no_restart=True)
        except Exception:                      # already gone
            pass

    def _end(self, h: RunHandle) -> None:
        with self._lock:
            self._live.pop(h.id, None)
        h.job.ready.set()
        h.job.done.set()
