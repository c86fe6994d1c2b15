"""Keeping the worker small: the recycler's policy and the measure it reads (the
replacement of a worker under load, on the real daemon: tests/e2e/test_memory_workers.py)."""

from transient.ops import memory


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def recycler(rss, limit=64, min_age=60):
    clock, replaced = Clock(), []
    r = memory.Recycler(limit, lambda: replaced.append(clock.now), min_age=min_age, clock=clock, measure=lambda: rss[0])
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
    clock.now = 10**6
    r.after_sync(True)
    assert not r.after_sync(False) and replaced == []


def test_rss_is_this_process():
    before = memory.rss_mb()
    block = bytearray(64 * 2**20)  # touched: resident
    assert memory.rss_mb() - before > 50
    del block
