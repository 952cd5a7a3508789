"""Skip the interpreter's last garbage collections when a process that imported torch exits.

After every exit handler has run, the interpreter clears its modules and collects garbage over all
that is left: for a process that imported torch (and torch._dynamo, sympy: a few million objects),
0.5-1.1 s of CPU here, spent after the process's work is done: by every CLI command, and by the
server between SIGTERM and its exit. gc.freeze(), as the last exit handler, moves every object to
the permanent generation, which those collections do not visit: the same exits then take 0.16-0.20 s.

What it skips is only the collection of reference cycles at exit: exit handlers have run (stores
closed, logs flushed) and the standard streams are flushed as always; the system frees the memory.
"""
from __future__ import annotations

import atexit
import functools
import gc


@functools.cache
def skip_final_collections() -> None:
    """Once per process, as early as possible: exit handlers run last in, first out, so this one runs
    after those registered later (the Registry's shutdown, the worker pool's, the store writers')."""
    atexit.register(gc.freeze)
