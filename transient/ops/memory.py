"""Keeping a long-running worker small: glibc's allocator tuned for a threaded Python.

Python hands objects over 512 bytes (a listing's entry dicts, reply bodies) to malloc.
glibc gives each thread that contends for the heap an arena of its own, up to eight per
core, and keeps what an arena freed for that arena: a worker whose request threads and
sync threads each took part in a burst keeps a burst's worth of memory per arena.
"""

import ctypes
import functools
import gc
import logging
import os
import time

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # mallopt parameter (malloc.h)
ARENAS = 2


@functools.lru_cache(maxsize=1)
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


def rss_mb():
    """This process's resident memory in MB (0.0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


class Recycler:
    """Replaces a worker that a burst left large (uWSGI calls it reload-on-rss).

    Python keeps the memory of a burst's peak: a listing of 10 000 transactions leaves
    small objects that pin the allocator's arenas, ~30 MB that a long-running worker
    would hold until it exits. So once a burst is over (a sync with a small listing after
    one or more large ones) the worker checks its resident memory; above ``limit_mb`` it
    calls ``replace`` once (transientd: SIGTERM to itself, so gunicorn lets it finish its
    requests and its sync, and starts a fresh worker on the same listening socket, where
    new connections wait meanwhile). While every listing is large nothing happens: a new
    worker would grow as large at its first sync. A worker younger than ``min_age``
    seconds is never replaced.
    """

    def __init__(self, limit_mb, replace, min_age=60.0, clock=time.monotonic, measure=rss_mb):
        self.limit_mb = limit_mb
        self.replace = replace
        self.min_age = min_age
        self.clock = clock
        self.measure = measure
        self.started = self.clock()
        self.burst = False  # a large sync happened since the last check
        self.done = False

    def after_sync(self, large):
        """Call after each sync (``large``: its listing had LARGE_LISTING outputs or more);
        return True when it asked for the worker to be replaced."""
        if large:
            self.burst = True
            return False
        if not self.burst or self.done or not self.limit_mb or self.clock() - self.started < self.min_age:
            return False
        self.burst = False
        release()
        rss = self.measure()
        if rss <= self.limit_mb:
            return False
        log.warning(
            "worker %.0f MB after a burst, over [server] worker_memory_limit (%d MB): replacing it with a fresh worker",
            rss,
            self.limit_mb,
        )
        self.done = True
        self.replace()
        return True


recycler = None  # set by transientd in each worker


def after_sync(large):
    """What a sync calls when it is done (``large``: a listing of LARGE_LISTING outputs
    or more, whose freed memory is handed back to the OS at once)."""
    if large:
        release()
    if recycler is not None:
        recycler.after_sync(large)
