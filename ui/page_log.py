"""Timing for scripts/load.py, on only where PLAYGROUND_PAGE_LOG names a file: a line per whole page
(the page script's wall and CPU time), and a line per answer (a browser's request for a whole rerun,
from its arrival at the server to the end of that rerun handed to the websocket; "fragment" where the
request reran one fragment, such as an epoch scrubber's). The load script's
browsers share this machine's cores; these are the server's own figures, free of their delays.
Lines: time, kind ("page", "answer" or "fragment"), title (pages only), wall seconds, CPU seconds (pages only),
seconds the script's thread waited for a core (pages only; from /proc/thread-self/schedstat, "nan" where
the kernel does not say). What is left of the wall time waited for Python's lock, I/O or a lock."""
from __future__ import annotations

import os
import threading
import time

PATH = os.environ.get("PLAYGROUND_PAGE_LOG")
_lock = threading.Lock()
_installed = False


def _write(*fields) -> None:
    with _lock, open(PATH, "a") as f:
        f.write("\t".join(str(x) for x in (f"{time.time():.3f}", *fields)) + "\n")


def _queued() -> float:
    """Seconds this thread has waited on a run queue (runnable, no core free) since it started."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return float("nan")


def start() -> tuple[float, float, float]:
    """The page's clocks as its script starts: wall, the thread's CPU, its wait for a core (read only
    while the log is on)."""
    return time.perf_counter(), time.thread_time(), _queued() if PATH else float("nan")


def page(title: str, started: tuple[float, float, float]) -> None:
    wall, cpu, queued = (now - then for now, then in zip(start(), started))
    _write("page", title, f"{wall:.4f}", f"{cpu:.4f}", f"{queued:.4f}")


def install() -> None:
    """Wrap Streamlit's session: note when a rerun request (whole, or one fragment's) arrives, and log
    the answer when that rerun's end is queued for the browser. Once per process; nothing without
    PLAYGROUND_PAGE_LOG."""
    global _installed
    if not PATH or _installed:
        return
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.runtime.app_session import AppSession

    asked: dict[tuple[str, str], float] = {}           # (session, "answer" or "fragment") -> asked at
    done = {ForwardMsg.FINISHED_SUCCESSFULLY: "answer", ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY: "fragment"}

    # Streamlit has no public hook for "this rerun's end is queued for the browser": a timing tool's
    # wrap of its private method, installed only under PLAYGROUND_PAGE_LOG
    handle, enqueue = AppSession.handle_backmsg, AppSession._enqueue_forward_msg  # noqa: SLF001

    def handle_backmsg(self, msg):
        if msg.WhichOneof("type") == "rerun_script":             # the first of a burst: what the user waits on
            kind = "fragment" if msg.rerun_script.fragment_id else "answer"
            asked.setdefault((self.id, kind), time.perf_counter())
        return handle(self, msg)

    def enqueue_forward_msg(self, msg):
        kind = done.get(msg.script_finished) if msg.WhichOneof("type") == "script_finished" else None
        if kind is not None and (self.id, kind) in asked:
            _write(kind, "", f"{time.perf_counter() - asked.pop((self.id, kind)):.4f}", "")
            if kind == "answer":
                asked.pop((self.id, "fragment"), None)          # a whole rerun ends any fragment run it cut short
        return enqueue(self, msg)

    AppSession.handle_backmsg, AppSession._enqueue_forward_msg = handle_backmsg, enqueue_forward_msg  # noqa: SLF001
    _installed = True
