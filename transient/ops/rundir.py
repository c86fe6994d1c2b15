"""The daemon's run directory: made fresh at each start, removed at exit.

It holds the workers' metric files (``metrics/``, prometheus_client's
``PROMETHEUS_MULTIPROC_DIR``: a file per worker and metric type, so a directory
left by an earlier run would add its counts to this one's) and the marks of
ops.logs.Transition. Under systemd it goes in ``$RUNTIME_DIRECTORY``
(``RuntimeDirectory=`` in the unit), else in ``$PROMETHEUS_MULTIPROC_DIR`` when the
operator set one, else in the system's temporary directory.
"""

import atexit
import os
import shutil
import tempfile

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare(environ=None):
    """Make a fresh run directory, point ``PROMETHEUS_MULTIPROC_DIR`` at its ``metrics/``
    (the workers inherit it) and remove it when this process exits; return its path.
    Call in the master before the workers fork and before prometheus_client is imported."""
    environ = os.environ if environ is None else environ
    bases = [environ.get("RUNTIME_DIRECTORY", "").split(":")[0], environ.get(ENV, "")]
    base = next((b for b in bases if b and os.path.isdir(b)), None)
    run = tempfile.mkdtemp(prefix="transientd-", dir=base)
    os.mkdir(os.path.join(run, "metrics"), 0o700)
    environ[ENV] = os.path.join(run, "metrics")
    atexit.register(_remove, run, os.getpid())
    return run


def _remove(run, owner):
    # The workers are forked from the master and inherit its atexit list: only the
    # master, at its exit, removes the directory the others still write in.
    if os.getpid() == owner:
        shutil.rmtree(run, ignore_errors=True)


def path():
    """The run directory of this daemon, or None (a CLI process, a test)."""
    metrics = os.environ.get(ENV)
    if not metrics or not os.path.isdir(metrics):
        return None
    return os.path.dirname(os.path.abspath(metrics))


def mark_dead(pid):
    """A worker exited: drop its live-gauge files (its counters stay in the sums). Here,
    not in ops.metrics: importing that module in the master would give the master gauges
    of its own, one more "live" process in every scrape."""
    metrics = os.environ.get(ENV)
    if metrics and os.path.isdir(metrics):
        from prometheus_client import multiprocess  # after prepare(): it reads ENV at import

        multiprocess.mark_process_dead(pid, metrics)
