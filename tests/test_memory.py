"""Keeping the worker small: the recycler's policy, and the replacement of a worker
(what it does after a burst) under load, on the real daemon."""
import os
import signal
import threading

import pytest
import requests

from _daemon import wait_for
from transient import memory


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def recycler(rss, limit=64, min_age=600):
    clock, replaced = Clock(), []
    r = memory.Recycler(limit, lambda: replaced.append(clock.now), min_age=min_age, clock=clock,
                        measure=lambda: rss[0])
    return r, clock, replaced


def test_a_large_worker_is_replaced_once_and_never_before_its_minimum_age():
    rss = [200.0]
    r, clock, replaced = recycler(rss)
    clock.now = 599
    assert not r.check() and replaced == []  # too young: a shop whose every sync is large
    clock.now = 600
    rss[0] = 64.0
    assert not r.check() and replaced == []  # at the limit is fine
    rss[0] = 64.5
    assert r.check() and replaced == [600]
    clock.now = 5000
    assert not r.check() and replaced == [600]  # once: the worker is on its way out


def test_a_limit_of_zero_never_replaces():
    r, clock, replaced = recycler([10_000.0], limit=0)
    clock.now = 10 ** 6
    assert not r.check() and replaced == []


def test_rss_is_this_process():
    before = memory.rss_mb()
    block = bytearray(64 * 2**20)  # touched: resident
    assert memory.rss_mb() - before > 50
    del block


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
