"""Keeping the worker small: the recycler's policy, and the replacement of a worker
(what it does after a burst) under load, on the real daemon."""
import os
import signal
import subprocess
import sys
import threading

import pytest
import requests

from _daemon import wait_for
from transient.ops import memory


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def recycler(rss, limit=64, min_age=60):
    clock, replaced = Clock(), []
    r = memory.Recycler(limit, lambda: replaced.append(clock.now), min_age=min_age, clock=clock,
                        measure=lambda: rss[0])
    return r, clock, replaced


def test_a_worker_left_large_by_a_burst_is_replaced_once_the_burst_is_over():
    rss = [200.0]
    r, clock, replaced = recycler(rss)
    clock.now = 100
    assert not r.after_sync(False) and replaced == []  # no burst yet: a large worker is left alone
    assert not r.after_sync(True) and not r.after_sync(True)  # a burst: listings are large
    assert r.after_sync(False) and replaced == [100]  # the first small listing after it
    assert not r.after_sync(True) and not r.after_sync(False) and replaced == [100]  # once


def test_a_worker_within_the_limit_or_too_young_stays():
    rss = [64.0]
    r, clock, replaced = recycler(rss)
    clock.now = 100
    r.after_sync(True)
    assert not r.after_sync(False) and replaced == []  # at the limit is fine
    rss[0] = 65.0
    assert not r.after_sync(False)  # that check was this burst's
    r.after_sync(True)
    assert r.after_sync(False) and replaced == [100]

    young, clock, replaced = recycler([500.0])
    clock.now = 59
    young.after_sync(True)
    assert not young.after_sync(False) and replaced == []


def test_while_every_listing_is_large_the_worker_stays():
    """A new worker would grow as large at its first sync: no restart loop."""
    r, clock, replaced = recycler([500.0])
    for minute in range(1, 30):
        clock.now = 60.0 * minute
        assert not r.after_sync(True)
    assert replaced == []


def test_a_limit_of_zero_never_replaces():
    r, clock, replaced = recycler([10_000.0], limit=0)
    clock.now = 10 ** 6
    r.after_sync(True)
    assert not r.after_sync(False) and replaced == []


def test_rss_is_this_process():
    before = memory.rss_mb()
    block = bytearray(64 * 2**20)  # touched: resident
    assert memory.rss_mb() - before > 50
    del block


def test_worker_memory_tuning_applies_on_glibc():
    """transientd caps glibc's malloc arenas in each worker before its threads start."""
    code = ("from transient.ops import memory; import platform;"
            " ok = memory.limit_arenas(); memory.release();"
            " print(ok, platform.libc_ver()[0])")
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
