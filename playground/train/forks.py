"""A fork server: one process imports torch once, and every training worker is a fork of it.

Why: a worker started on its own imports torch and torch._dynamo (which the first optimizer built
imports): ~3 s of CPU at the workers' low priority. On 2 cores a server's 4 warm workers, started one
after another, were warm after 10-13 s, a race's 3 extra workers at once after 5.3 s, and each held
~0.5 GB of memory of its own after a CNN run (PSS). A fork of a process that has imported them starts
in ~0.05 s, warm-up included, and shares those pages with its siblings until it writes them (~0.17 GB
each after the same run, and ~0.3 GB once for the fork server).

The fork server only imports: it runs no tensor operation and starts no thread of its own before it
forks, so the children inherit no thread pool (a fork of a process whose OpenMP threads have run can
hang in the child), no CUDA context (a forked child cannot use CUDA its parent initialised), and no
lock held by another thread. (numpy's OpenBLAS starts a thread pool when it is imported; OpenBLAS's
own fork handler shuts it down before each fork.) Each worker warms up itself.

Protocol, over a SOCK_SEQPACKET socket pair (one message per packet): the server sends "ID TEXT" with
one file descriptor attached; the fork server forks, the child runs `child(fd, TEXT)` and exits, and
the fork server answers "forked ID PID". When a child ends, the fork server (its parent, which reaps
it) sends "exited PID CODE" (CODE as subprocess's returncode: negative for a signal). It exits when
the server closes its end or dies (the socket then reads as closed); the server's close() kills it.
("failed ID 0": no descriptor arrived with the request, nothing was forked.)
"""
from __future__ import annotations

import itertools
import os
import select
import signal
import socket
import subprocess
import threading
import time
from typing import Callable

POLL_S = 0.1                # how often the fork server reaps children and checks its parent


# ----------------------------------------------------------------------------- in the fork server
def serve(ctrl_fd: int, parent: int, child: Callable[[int, str], None]) -> None:
    """The fork server's loop (its modules already imported): fork a child per request until the
    server (`parent`) closes the socket or is gone. Never returns."""
    ctrl = socket.socket(fileno=ctrl_fd)
    while True:
        _reap(ctrl)
        if os.getppid() != parent:               # the server died; requests still queued are for nobody
            os._exit(0)
        if not select.select([ctrl], [], [], POLL_S)[0]:
            continue
        try:
            msg, fds, _, _ = socket.recv_fds(ctrl, 4096, 1)
        except OSError:
            os._exit(0)
        if not msg:                              # the server closed its end
            os._exit(0)
        rid, text = msg.decode().split(" ", 1)
        if not fds:                              # no descriptor arrived (this process is out of them)
            _answer(ctrl, f"failed {rid} 0")
            continue
        pid = os.fork()
        if pid == 0:
            ctrl.close()
            code = 0
            try:
                child(fds[0], text)
            except BaseException:                # as an uncaught exception ends a process: traceback, code 1
                import traceback
                traceback.print_exc()
                code = 1
            os._exit(code)                       # never back into this loop, nor the fork server's exit handlers
        os.close(fds[0])
        _answer(ctrl, f"forked {rid} {pid}")


def _reap(ctrl: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _answer(ctrl, f"exited {pid} {os.waitstatus_to_exitcode(status)}")


def _answer(ctrl: socket.socket, text: str) -> None:
    try:
        ctrl.send(text.encode())
    except OSError:                              # the server is gone
        os._exit(0)


# ----------------------------------------------------------------------------- in the server
class Forked:
    """A process the fork server started, as the server sees it: its pid (None until the fork server has
    answered: it may still be importing), whether it runs, its exit code, kill() and wait(). It is the
    fork server's child, not ours: the fork server reports its end; if the fork server itself is gone,
    the kernel is asked whether the pid still runs."""

    def __init__(self, server: "ForkServer"):
        self._server = server
        self.pid: int | None = None
        self.returncode: int | None = None       # None while it runs, or when nobody could tell
        self._lock = threading.Lock()
        self._ended = threading.Event()
        self._kill_when_forked = False

    def running(self) -> bool:
        if self._ended.is_set():
            return False
        if self._server.reporting:
            return True
        if self.pid is None or not _exists(self.pid):    # never forked, or gone unreported
            self._ended.set()
            return False
        return True

    def kill(self) -> None:
        with self._lock:
            if self.pid is None:
                self._kill_when_forked = True
                return
        if self.running():
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float | None = None) -> bool:
        """Whether it ended within `timeout` seconds (None: however long it takes)."""
        end = None if timeout is None else time.monotonic() + timeout
        while self.running():
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                return False
            self._ended.wait(POLL_S if left is None else min(POLL_S, left))
        return True

    def started(self, pid: int) -> None:
        with self._lock:
            self.pid = pid
            kill = self._kill_when_forked
        if kill:
            self.kill()

    def ended(self, code: int | None) -> None:
        self.returncode = code
        self._ended.set()


def _exists(pid: int) -> bool:
    """Whether `pid` still runs: neither gone nor a zombie (an orphan's new parent, e.g. a container's
    first process, may never reap it)."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):   # gone, or the pid now belongs to another user
        return False


class ForkServer:
    """Starts the fork server (`argv` + its socket's fd + this process's pid) and asks it for children.
    A reader thread takes its answers. Once it has ended (killed, or close()), `reporting` is False and
    fork() raises OSError: make a new one."""

    def __init__(self, argv: list[str], **popen):
        self._ctrl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.proc = subprocess.Popen([*argv, str(theirs.fileno()), str(os.getpid())],
                                     pass_fds=[theirs.fileno()], **popen)
        theirs.close()
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._asked: dict[int, Forked] = {}       # request id -> its child, until the fork server answers
        self._children: dict[int, Forked] = {}    # pid -> child, until it has ended
        self.reporting = True
        threading.Thread(target=self._read, name="fork-server-reader", daemon=True).start()

    def fork(self, fd: int, text: str) -> Forked:
        """A child that runs the fork server's `child(fd, text)`: asked now, forked once the fork server
        has imported its modules (seconds after it starts, at once later). The caller may close `fd`."""
        child = Forked(self)
        with self._lock:
            if not self.reporting:
                raise OSError("the fork server has ended")
            rid = next(self._ids)
            self._asked[rid] = child
            try:
                socket.send_fds(self._ctrl, [f"{rid} {text}".encode()], [fd])
            except OSError:
                del self._asked[rid]
                raise
        return child

    def _read(self) -> None:
        while True:
            try:
                msg = self._ctrl.recv(4096).decode()
            except OSError:
                msg = ""
            if not msg:
                break
            what, a, b = msg.split()
            with self._lock:
                if what == "exited":
                    child = self._children.pop(int(a), None)
                else:
                    child = self._asked.pop(int(a))
                    if what == "forked":
                        self._children[int(b)] = child
            if child is None:
                continue
            if what == "forked":
                child.started(int(b))
            else:
                child.ended(int(b) if what == "exited" else None)
        with self._lock:
            self.reporting = False
            never = list(self._asked.values())
            self._asked.clear()
            self._ctrl.close()
        for child in never:                      # asked for, never forked
            child.ended(None)

    def close(self) -> None:
        """End the fork server at once: it holds nothing of its own. Its children go on (each has its own
        socket to this process); those asked for and not forked yet never start."""
        self.proc.kill()
        self.proc.wait()
