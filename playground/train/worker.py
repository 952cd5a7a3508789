"""Runs train in worker processes, not threads of the app's process.

Why: a small model's training step is mostly Python (eager dispatch), so in a thread it fights the
Streamlit server, chart building and other runs for the GIL, and a step that releases the GIL
a dozen times waits up to 5 ms to get it back each time. A process per concurrent run, each with
its own thread budget (RunConfig.threads, 1 by default), trains at bare-loop speed beside them.

The parent checks the config and loads the data once (errors reach the page at once), then sends the
CheckedRun (its data tensors in shared memory, no copy) to a warm worker. The worker builds and trains
it with the ordinary `Trainer.train_job()` and streams every history write back over its socket; a reader thread in the
parent applies them to a local History, so pages read it exactly as they read an in-process run.
Stop is a one-byte shared flag the training loop reads between steps.

Workers are forks of one fork server per pool (forks.py: it imports torch once, each fork starts in
~0.05 s instead of ~3 s). The fork server is started as `python -c BOOT` rather than with
multiprocessing's spawn or forkserver: both re-import the parent's __main__ in the child, which under
Streamlit is the app script itself.
"""
from __future__ import annotations

import atexit
import logging
import mmap
import os
import queue
import signal
import socket
import stat
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

import torch
import torch.multiprocessing as mp  # registers the shared-memory pickling of tensors

from playground.config import RunConfig
from playground.errors import PlaygroundError
from playground.train import heap
from playground.train.checked import check
from playground.train.executor import Executor, Job, RunHandle
from playground.train.forks import ForkServer
from playground.train.stream import BATCH, DONE, READY, StreamedHistory, apply, coalesce, from_wire, to_wire, wire
from playground.train.trainer import Trainer

log = logging.getLogger(__name__)
mp.set_sharing_strategy("file_system")   # tensors travel as shared-memory file names: no fd passing
ROOT = Path(__file__).resolve().parents[2]
# Worker processes run at a lower priority than the server, so that pages stay quick while runs
# train on every core (measured in the e2e tests: page switch and a second student's first point).
NICE = int(os.environ.get("PLAYGROUND_WORKER_NICE", "10"))
# A worker keeps the memory its runs' steps freed (heap.py) while runs follow one another, and hands it
# back after this many idle seconds: handed back at each run's end, the MNIST CNN's next run page-faulted
# ~40,000 pages (~150 MB) back in; kept, ~650.
IDLE_RELEASE_S = 30.0
BATCH_S = 0.05                 # a worker's messages within this many seconds travel together
# The fork server imports torch and torch._dynamo (~3 s of CPU) at the server's priority, then
# lowers its own before it forks, so every worker runs at NICE. It starts once the first page is
# drawn (Registry.warm's wait), or at the first Start, which waits for that very import: at nice 10
# beside the browser and the server drawing it, the first point of a Start pressed as soon as a
# fresh server's page is up came after 5.2-6.8 s (median of 5 runs 6.3 s); at the server's priority,
# after 4.3-5.6 s (median of 6 runs 4.6 s), with the cold start no slower. (Linux's SCHED_IDLE for
# the start was tried: a worker warming beside a training run then never got the CPU, and a second
# student waited.)
# While it imports, a thread watches its parent (whose pid it is given): a fork server importing
# at low priority on a busy machine would otherwise outlive a killed server by seconds, and fork
# the workers asked for meanwhile for nobody. The thread ends before the first fork (forks.py).
# It ignores SIGINT, and so do the workers: a Ctrl-C in the server's terminal reaches the whole
# process group, and would kill a run mid-step (recorded as failed); the server stops it instead,
# with a checkpoint.
BOOT = ("import os, signal, sys, threading\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "_parent, _imported = int(sys.argv[2]), threading.Event()\n"
        "def _orphan_watch():\n"
        "    while not _imported.wait(0.5):\n        if os.getppid() != _parent:\n            os._exit(0)\n"
        "_watch = threading.Thread(target=_orphan_watch, name='orphan-watch', daemon=True)\n"
        "_watch.start()\n"
        "import torch._dynamo\nfrom playground.train import forks, worker\n"
        "_imported.set()\n_watch.join()\n"
        f"try:\n    os.nice({NICE})\nexcept (AttributeError, OSError):\n    pass\n"
        "forks.serve(int(sys.argv[1]), _parent, worker.forked)")


class StopFlag:
    """Two one-byte flags in a shared file: byte 0, stop (the parent sets it, the worker's loop
    reads it per step); byte 1, warm (the worker sets it once it has imported torch and warmed up)."""

    def __init__(self, path: str):
        self.path = path
        with open(path, "r+b") as f:
            self._map = mmap.mmap(f.fileno(), 2)

    @classmethod
    def create(cls) -> "StopFlag":
        fd, path = tempfile.mkstemp(prefix="playground-stop-")
        os.write(fd, b"\0\0")
        os.close(fd)
        return cls(path)

    @property
    def warm(self) -> bool:
        return self._map[1] != 0

    def set_warm(self) -> None:
        self._map[1] = 1

    def is_set(self) -> bool:
        return self._map[0] != 0

    def set(self) -> None:
        self._map[0] = 1

    def clear(self) -> None:
        self._map[0] = 0


class _Sender:
    """Sends the worker's messages from a thread of its own, in order, so that the training loop
    never waits on the socket (a busy server may read slowly; a checkpoint may be megabytes).
    What arrives within BATCH_S of a message goes with it as one batch, coalesced (stream.coalesce):
    a tiny network ends 100 epochs a second, four messages each, and every message the server reads
    takes its GIL from the pages it is drawing; batched, a run sends at most 1 / BATCH_S a second.
    READY and DONE end a batch at once, and so does a run's first publish (its first losses): the
    student who pressed Start sees the first point without the batch's wait (up to BATCH_S). If the
    server is gone, the worker exits: nobody is left to watch it train."""

    def __init__(self, conn: Connection):
        self._conn = conn
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._first_publish = True              # a run's first publish is next (none sent since DONE)
        self._thread = threading.Thread(target=self._loop, name="sender", daemon=True)
        self._thread.start()

    def send(self, msg) -> None:
        self._queue.put(msg)

    def drain(self, timeout: float) -> None:
        """Send what is queued (at most `timeout` seconds), then stop."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            batch = self._batch()
            last = batch[-1]
            msgs = [m for m in batch if m is not None]
            if msgs:
                try:
                    self._conn.send((BATCH, [wire(m) for _, m in coalesce(list(enumerate(msgs)))]))
                except (OSError, ValueError):       # the server closed the socket: it died or quit
                    os._exit(0)
            if last is None:
                return

    def _batch(self) -> list:
        """The next message and what follows it within BATCH_S (up to READY, DONE, the end of a run's
        first publish, or the end)."""
        batch = [self._queue.get()]
        deadline = time.monotonic() + BATCH_S
        while not self._ends_batch(batch[-1]):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(self._queue.get(timeout=left))
            except queue.Empty:
                break
        return batch

    def _ends_batch(self, msg) -> bool:
        if msg is None or msg[0] == READY:
            return True
        if msg[0] == DONE:
            self._first_publish = True             # the next run's is next
            return True
        if msg[0] == "add_mark" and self._first_publish:   # a publish's last write: losses, progress, mark
            self._first_publish = False
            return True
        return False


def _warm_up() -> None:
    """Train a tiny CNN for a few steps, so a user's first run does not pay for lazy imports and
    first-call kernel set-up (~1 s)."""
    from playground.data import Dataset

    X, y = torch.rand(64, 1, 8, 8), torch.arange(64) % 2
    layers = [{"type": "Conv2d", "out_channels": 2, "padding": 1}, {"type": "BatchNorm"}, {"type": "ReLU"},
              {"type": "MaxPool2d"}, {"type": "Flatten"}, {"type": "Dropout", "p": 0.1},
              {"type": "Linear", "out_features": 2}]
    config = RunConfig.from_dict({"layers": layers, "epochs": 1, "batch_size": 32})
    Trainer(check(config, Dataset("warm-up", "image", X, y, X, y, ["a", "b"]))).run()


def _worker_main(conn: Connection, stop_event: StopFlag, parent: int | None = None) -> None:
    """Worker process loop: one job at a time until told to quit or the socket closes."""
    torch.set_num_threads(1)
    heap.keep_freed()               # a step's freed memory stays for the next step (heap.py)
    sender = _Sender(conn)
    _warm_up()
    if parent is not None and os.getppid() != parent:
        os._exit(0)                 # orphaned while warming up (the watch thread can wait seconds for the GIL
    stop_event.set_warm()           # while torch loads under load): never report warm to nobody
    while True:
        try:
            if not conn.poll(IDLE_RELEASE_S):  # idle: a student's next Start usually comes sooner
                heap.release()
            msg = conn.recv()
        except EOFError:
            return
        if msg[0] == "quit":                   # the server is exiting: at once (a full interpreter exit with
            sender.drain(1.0)                  # torch loaded takes ~1 s of a busy machine's CPU)
            os._exit(0)
        if msg[0] != "job":                    # e.g. a "go" for a run that had already ended
            continue
        run_job(msg, sender.send, conn.recv, stop_event)


def run_job(msg: tuple, send, recv, stop) -> None:
    """Train the job a ProcessExecutor sent (job_message()): its CheckedRun, checked by the server,
    is only built here. send: where the history's writes go; recv: the next message from the server
    (a race waits for its "go"); stop: the run's stop flag."""
    _, run_id, checked, wait_for_go, checkpoint, budget = msg

    def wait():                                # a comparison: every variant starts on the same signal
        send((READY, (), {}))
        while recv()[0] != "go":
            pass
    trainer = Trainer(checked, run_id, history=StreamedHistory(send), stop=stop, snapshot_budget=budget)
    trainer.train_job(from_wire(checkpoint) if checkpoint is not None else None, wait if wait_for_go else None)
    send((DONE, (), {}))


def fork_server() -> ForkServer:
    """A new fork server for a pool's workers (it imports torch, then forks each worker asked for)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return ForkServer([sys.executable, "-c", BOOT], env=env, cwd=ROOT)


class _Worker:
    def __init__(self, forks: ForkServer):
        self._lock = threading.Lock()          # kill() from a reader and from close() at once: one close of the fd
        mine, theirs = socket.socketpair()
        self.stop_event = StopFlag.create()
        try:
            self.proc = forks.fork(theirs.fileno(), self.stop_event.path)
        except OSError:
            mine.close()
            Path(self.stop_event.path).unlink(missing_ok=True)
            raise
        finally:
            theirs.close()
        self.conn = Connection(mine.detach())

    def alive(self) -> bool:
        return self.proc.running()

    def ended_how(self) -> str:
        """How its process ended, in words (once it has: the fork server reports it within ~0.1 s)."""
        self.proc.wait(1.0)
        code = self.proc.returncode
        if code is None:
            return "its exit code is unknown"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                pass
        return f"exit code {code}"

    @property
    def warm(self) -> bool:
        return self.stop_event.warm

    def end_process(self) -> None:
        """Kill the process but keep the socket: a reader still reading it sees the end (EOF), where a
        socket closed under it gives EBADF, or reads whatever file later gets its descriptor."""
        if self.alive():
            self.proc.kill()
            self.proc.wait(10.0)

    def kill(self) -> None:
        """Kill the process and close the socket (once, whoever calls)."""
        self.end_process()
        with self._lock:
            if not self.conn.closed:
                self.conn.close()
        Path(self.stop_event.path).unlink(missing_ok=True)


def _keep_sockets_private() -> None:
    """Make this process's sockets non-inheritable. Streamlit marks its listening socket inheritable;
    torch then starts its shared-memory manager (torch_shm_manager, for the tensors we hand workers)
    with fork+exec, which kept the web server's port open after the server died, so a restarted
    server could not bind it ("Port ... is not available"). Nothing here needs an inherited socket:
    workers get their own end of a socketpair through pass_fds."""
    try:
        fds = [int(fd) for fd in os.listdir("/proc/self/fd")]
    except OSError:                             # no /proc (macOS, Windows): nothing to do
        return
    for fd in fds:
        try:
            if fd > 2 and stat.S_ISSOCK(os.fstat(fd).st_mode) and os.get_inheritable(fd):
                os.set_inheritable(fd, False)
        except OSError:                         # closed since listdir (e.g. the listing's own fd)
            pass


_shm_started = False


def _start_shm_manager() -> None:
    """Share one tiny tensor, once per process: the first tensor shared (a run's data, sent to its worker)
    starts torch's shared-memory manager, the file_system strategy's daemon, and waited ~0.25 s for it at
    the first Start of a server; every later one takes ~0.1 ms."""
    global _shm_started
    if not _shm_started:
        _shm_started = True
        torch.zeros(1).share_memory_()


class WorkerPool:
    """Keeps up to `size` warm worker processes; hands each new run an idle one."""

    def __init__(self, size: int):
        _keep_sockets_private()
        self.size = size
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()         # every live worker, idle or busy, for close()
        self._count = 0
        self._warming = False
        self._closed = False                    # the server is exiting: no new workers, none back to idle
        self._forks: ForkServer | None = None   # started with the first worker
        atexit.register(self.close)

    def warm(self, n: int = 1, together: bool = False, timeout: float = 120.0) -> None:
        """Start workers ahead of time (the first waits for the fork server to import torch: seconds) so
        that Start is instant: one after another (each waits until the one before has warmed up), or,
        with together, all that are missing at once."""
        _start_shm_manager()
        with self._lock:
            if together:
                while len(self._idle) < n and self._count < self.size and not self._closed:
                    self._spawn_idle()
                return
            if self._warming:
                return
            self._warming = True
        try:
            while True:
                with self._lock:
                    if len(self._idle) >= n or self._count >= self.size or self._closed:
                        return
                    w = self._spawn_idle()
                end = time.monotonic() + timeout
                while not w.warm and w.alive() and time.monotonic() < end:
                    time.sleep(0.05)
        finally:
            with self._lock:
                self._warming = False

    def _new_worker(self) -> _Worker:
        """A new worker, forked by the pool's fork server (a new one if there is none, or it has ended);
        the caller holds the lock."""
        if self._forks is None or not self._forks.reporting:
            self._forks = fork_server()
        try:
            return _Worker(self._forks)
        except OSError:                         # it ended just now
            self._forks = fork_server()
            return _Worker(self._forks)

    def _spawn_idle(self) -> _Worker:
        """A new worker, counted and idle (the caller holds the lock)."""
        w = self._new_worker()
        self._idle.append(w)
        self._all.add(w)
        self._count += 1
        return w

    def acquire(self) -> _Worker:
        with self._lock:
            self._idle.sort(key=lambda w: w.warm)            # a warm one first (popped from the end)
            while self._idle:
                w = self._idle.pop()
                if w.alive():
                    return w
                w.kill()
                self._all.discard(w)
                self._count -= 1
            if self._closed:
                raise PlaygroundError("the server is shutting down; start the run once it is back")
            if self._count >= self.size:
                raise PlaygroundError(f"{self.size} runs are already training (the limit); stop one first")
            w = self._new_worker()
            self._count += 1
            self._all.add(w)
        return w

    def release(self, w: _Worker, healthy: bool) -> None:
        with self._lock:
            if healthy and w.alive() and not self._closed:
                self._idle.append(w)
                return
            self._count -= 1
            self._all.discard(w)
        w.kill()

    def close(self, timeout: float = 1.0) -> None:
        """End every worker: all told to quit at once, then, after `timeout` seconds in all, killed.
        A busy worker's socket is left to its reader, which closes it once it has seen the end
        (stop its run first, see ProcessExecutor.shutdown, or it is recorded as failed)."""
        with self._lock:
            self._closed = True
            workers, idle, self._idle, self._all = list(self._all), set(self._idle), [], set()
            forks, self._forks = self._forks, None
        if forks is not None:                   # first: a worker asked for and not forked yet is not waited for
            forks.close()
        for w in workers:
            try:
                w.conn.send(("quit",))
            except (OSError, ValueError):       # dead already, or its reader has closed the socket
                pass
        end = time.monotonic() + timeout
        for w in workers:
            w.proc.wait(max(0.0, end - time.monotonic()))
        for w in workers:
            if w in idle:
                w.kill()
            else:
                w.end_process()


def job_message(handle: RunHandle, wait_for_go: bool) -> tuple:
    """What a worker gets to train a run (run_job()): its CheckedRun travels pickled, its data tensors
    as shared memory (no copy), its checkpoint as wire bytes."""
    return ("job", handle.id, handle.checked, wait_for_go, to_wire(handle.checkpoint), handle.snapshot_budget)


class ProcessExecutor(Executor):
    """Each run trains in a warm worker process of a local pool (the app's default)."""

    kind = "process"

    def __init__(self, size: int):
        self.pool = WorkerPool(size)
        self.limit = size

    def reserve(self, n: int) -> list:
        """n workers (a warm one first), or none and PlaygroundError."""
        workers = []
        try:
            for _ in range(n):
                workers.append(self.pool.acquire())
        except PlaygroundError:
            self.release(workers)
            raise
        return workers

    def release(self, slots: list) -> None:
        for w in slots:
            self.pool.release(w, healthy=True)

    def launch(self, handles, slots, together=False):
        """Hand each run to its worker. together: each worker prepares, then all get "go" once
        every one is ready (a cold worker imports torch first), so a race starts at one moment.
        All or none: raises PlaygroundError if a hand-off fails, and those already handed off end."""
        started = []
        try:
            for h, w in zip(handles, slots):
                self._send(h, w, together)
                started.append(h)
        except PlaygroundError:
            for h in started:
                self.stop(h)
                self._go(h)
            self.release(slots[len(started) + 1:])     # the failed one released its own
            raise
        if together:
            threading.Thread(target=self._release_together, args=(handles,), name="start-together",
                             daemon=True).start()

    def _send(self, handle: RunHandle, w: "_Worker", wait_for_go: bool) -> None:
        w.stop_event.clear()
        try:
            w.conn.send(job_message(handle, wait_for_go))
        except OSError as e:                   # a dead worker, or no room left in shared memory
            self.pool.release(w, healthy=False)
            handle.history.update(status="failed", message=f"could not hand the run to a worker process ({e})")
            raise PlaygroundError(f"could not hand the run to a worker process ({e}); try again") from None
        handle.job = Job(w)
        handle.checkpoint = None                           # the worker has it now
        handle.history.update(status="starting")          # until the worker's loop says "running"
        threading.Thread(target=self._read, args=(handle,), name=f"run-{handle.id}-reader", daemon=True).start()

    def _read(self, handle: RunHandle) -> None:
        job = handle.job
        w, healthy = job.target, True
        try:
            done = False
            while not done:
                msg = w.conn.recv()
                for m in (msg[1] if msg[0] == BATCH else [msg]):
                    if m[0] == DONE:
                        done = True
                        break
                    if m[0] == READY:
                        job.ready.set()
                        continue
                    apply(handle.history, m)
        except (EOFError, OSError):
            healthy = False
            if not handle.settle(lost=True):   # not a shutdown that killed it
                handle.history.update(status="failed", message=f"the training process died ({w.ended_how()}); "
                                                               f"the run is lost, its curves so far are kept")
        else:
            handle.settle()
        finally:
            # The last batch read goes first: its tensors (a snapshot's weights) are freed here, not after
            # done is set, when a server that is exiting may already be finalising (a thread freeing a
            # tensor then is ended inside torch's C++ code, and the process aborts).
            msg = m = None
            # In this order: once the worker is back in the pool, neither a late go() nor stop()
            # of this run may reach it (both check done).
            job.done.set()
            job.ready.set()                    # a run that ended before "ready" holds no one back
            self.pool.release(w, healthy)

    def _release_together(self, handles: list[RunHandle], timeout: float = 120.0) -> None:
        for h in handles:
            h.job.ready.wait(timeout)
        for h in handles:
            try:
                self._go(h)
            except OSError:                    # that worker died; its reader reports it
                pass

    def _go(self, handle: RunHandle) -> None:
        """Let a run launched with together train."""
        if not handle.job.done.is_set():
            handle.job.target.conn.send(("go",))

    def stop(self, handle: RunHandle) -> None:
        if handle.job is not None and not handle.job.done.is_set():
            handle.job.target.stop_event.set()

    def warm(self, n: int = 1, together: bool = False) -> None:
        self.pool.warm(n, together)

    def shutdown(self, handles: list[RunHandle], grace: float) -> None:
        """Stop every run at once; a run still waiting for its race's "go" gets it (and stops after one
        step). A worker whose run has not ended after `grace` seconds is killed: its reader records the
        run as interrupted."""
        for h in handles:
            self.stop(h)
        for h in handles:
            try:
                self._go(h)
            except (OSError, ValueError):       # that worker died, or its reader has closed the socket
                pass
        end = time.monotonic() + grace
        late = [h for h in handles if not h.join(max(0.0, end - time.monotonic()))]
        for h in late:
            h.job.target.end_process()
        for h in late:
            h.join(1.0)

    def close(self) -> None:
        self.pool.close()


def forked(fd: int, flag_path: str) -> None:
    """Entry of a worker, a fork of the fork server: fd, its socket to the server; flag_path, its stop flag."""
    _worker_main(Connection(fd), StopFlag(flag_path), os.getppid())
