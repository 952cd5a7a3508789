"""Keep the memory a training step frees for the next step, instead of handing it back to the system.

glibc's malloc gives freed memory at the top of its heap back to the system once more than its trim
threshold (a few MB, adjusted as it goes) is free there. A convolutional network's step allocates and
frees tens of MB of activations and gradients, so every step page-faults its memory back in: the
bench's MNIST CNN (batch 64, 2 epochs) took 40,000-55,000 page faults per run in a worker, and as
many in a bare loop; 0.08-0.15 s of the kernel's time in a run of ~1.2 s. With the trim threshold at
1 GB and the mmap threshold at glibc's largest (32 MB), the same run takes 30-800, and ~0.01 s. The
process keeps what its largest step used (which it needs again at the next step); a worker hands it
back with release() once idle (worker.IDLE_RELEASE_S), so idle workers stay small.

Process-wide and only where glibc's malloc is the allocator (Linux); elsewhere both calls do nothing.
"""
from __future__ import annotations

import ctypes
import functools
import platform

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8      # glibc's malloc.h
TRIM_THRESHOLD = 1 << 30                         # free memory kept at the heap's top
MMAP_THRESHOLD = 32 << 20                        # allocations larger than this are mapped on their own


@functools.cache
def _libc():                                     # platform.libc_ver() reads the interpreter's file: once
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(None)                 # the running program's symbols: glibc's mallopt, malloc_trim
    except OSError:
        return None


def keep_freed(one_arena: bool = False) -> bool:
    """Keep freed memory in this process for reuse (see the module docstring). True where it took effect.
    Setting either threshold also turns off glibc's own adjustment of both. Call it at a process's
    entry, before its threads allocate.

    one_arena: every thread allocates from the main heap. The thresholds hold there only: a thread's
    own arena (a training thread of the CLI) still gave its memory back at every step (the MNIST CNN
    in a thread: ~25,000-31,000 page faults a run either way; in one arena, ~10). For a process of a
    few threads (the CLI), not for a server whose many threads would wait on one lock."""
    libc = _libc()
    if libc is None:
        return False
    ok = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return ok and (not one_arena or bool(libc.mallopt(M_ARENA_MAX, 1)))


def release() -> None:
    """Hand the free memory malloc keeps back to the system (a worker idle for a while: its next run, if
    any, may be smaller)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
