"""Keeping the worker small, in processes: glibc's tuning in a fresh interpreter, and the
replacement of a worker (what the recycler does after a burst) under load, on the real
daemon."""

import os
import signal
import subprocess
import sys
import threading

import pytest
import requests
from _daemon import wait_for


def test_worker_memory_tuning_applies_on_glibc():
    """transientd caps glibc's malloc arenas in each worker before its threads start."""
    code = (
        "from transient.ops import memory; import platform;"
        " ok = memory.limit_arenas(); memory.release();"
        " print(ok, platform.libc_ver()[0])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    applied, libc = result.stdout.split()
    assert result.returncode == 0 and applied == str(libc == "glibc"), result.stderr


def workers_of(daemon):
    path = "/proc/%d/task/%d/children" % (daemon.proc.pid, daemon.proc.pid)
    return set(open(path).read().split())


@pytest.mark.regtest
def test_a_replaced_worker_hands_over_without_a_failed_request(start_daemon, regtest):
    """What the recycler does after a burst (SIGTERM to its own worker): the worker
    finishes its requests, gunicorn starts a fresh one on the same socket, reads and
    payments go on, and the new worker syncs."""
    d = start_daemon(poll=1)
    made = d.create(currency="LTC", amount="0.1")
    (old,) = workers_of(d)
    failures, served, stop = [], [], threading.Event()

    def read():
        session = requests.Session()
        while not stop.is_set():
            try:
                r = session.get(d.base + "/payments/%s" % made["id"], timeout=30)
                (served if r.status_code == 200 else failures).append(r.status_code)
            except requests.RequestException as exc:
                failures.append(repr(exc))

    readers = [threading.Thread(target=read) for _ in range(4)]
    for t in readers:
        t.start()
    try:
        os.kill(int(old), signal.SIGTERM)
        new = wait_for(lambda: (workers_of(d) - {old}) or None, timeout=60)
        assert new and old not in workers_of(d)
        d.create(currency="LTC", amount="0.2")
        count = len(served)
        wait_for(lambda: len(served) > count + 20, timeout=30)  # the new worker serves the readers
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert failures == [] and len(served) > 20
    regtest.pay(made["payment_address"], "0.1")
    d.wait_status(made["id"], "PENDING", timeout=30)
