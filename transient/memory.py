"""Keeping a long-running worker small: glibc's allocator tuned for a threaded Python.

Python hands objects over 512 bytes (a listing's entry dicts, reply bodies) to malloc.
glibc gives each thread that contends for the heap an arena of its own, up to eight per
core, and keeps what an arena freed for that arena: a worker whose request threads and
sync threads each took part in a burst keeps a burst's worth of memory per arena.
"""
import ctypes
import gc
import logging

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # mallopt parameter (malloc.h)
ARENAS = 2


def _libc():
    try:
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def limit_arenas(count=ARENAS):
    """Cap glibc's malloc arenas at ``count``; call before the process starts threads.
    Returns False where the C library is not glibc (nothing to tune)."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, count))


def release():
    """Collect garbage and give freed heap back to the OS (glibc keeps it otherwise)."""
    gc.collect()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
