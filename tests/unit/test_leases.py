"""Cluster job leases (store/leases.py) and the address pool keeper that runs under one:
one keeper per cluster, however many daemons share the database."""

import datetime

import pytest
from fakes import FakeBackend

from transient.payments.pool import AddressPool, PoolKeeper
from transient.store import migrations
from transient.store.db import open_database
from transient.store.leases import ClusterLease

T0 = datetime.datetime(2026, 1, 1)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


@pytest.fixture
def sqlite_db(tmp_path):
    db = open_database("sqlite:///%s" % (tmp_path / "t.db"))
    migrations.apply(db)
    yield db
    db.close()


def test_one_holder_at_a_time_until_it_expires_or_is_released(sqlite_db):
    clock = Clock()
    a, b = (ClusterLease("job", holder, 30, clock) for holder in ("host-a:1:x", "host-b:2:y"))
    assert a.claim() and not b.claim()
    clock.now += datetime.timedelta(seconds=20)
    assert a.claim() and not b.claim()  # renewed: 30 s from now
    clock.now += datetime.timedelta(seconds=29)
    assert not b.claim() and a.holder_now() == "host-a:1:x"
    clock.now += datetime.timedelta(seconds=2)  # a was killed: its lease ran out
    assert a.holder_now() is None and b.claim() and not a.claim()
    b.release()
    assert a.claim()


def test_three_daemons_keepers_fill_the_pool_once(sqlite_db):
    """Three daemons' keepers on one database: one keeps the pool (its node calls), the
    others stand by even when it runs low; when it stops, another takes over."""
    clock = Clock()
    backend = FakeBackend("LTC", {})
    pools = [AddressPool("LTC", backend, sqlite_db, size=20) for _ in range(3)]
    keepers = [PoolKeeper({"LTC": p}, lease=ClusterLease("pool", h, 30, clock)) for p, h in zip(pools, "abc")]

    def node_fills():
        return [m for m, _ in backend.calls].count("new_addresses")

    assert [k.round() for k in keepers] == [True, False, False] and node_fills() == 1
    for _ in range(15):  # the pool runs low (5 of 20 left): a keeper would refill it
        pools[1].take()
    assert [k.round() for k in keepers[1:]] == [False, False] and node_fills() == 1
    assert keepers[0].round() and node_fills() == 2
    keepers[0].stop()  # a clean stop releases the lease
    for _ in range(15):
        pools[2].take()
    assert [k.round() for k in keepers[1:]] == [True, False] and node_fills() == 3


def test_a_keeper_without_a_lease_always_runs(sqlite_db):
    keeper = PoolKeeper({"LTC": AddressPool("LTC", FakeBackend("LTC", {}), sqlite_db, size=4)})
    assert keeper.round() and keeper.round()


def test_a_start_drops_the_pool_when_the_last_keeper_did_not_give_its_lease_back(tmp_path):
    """Runtime.guard_pools (transientd runs it before any worker starts): a keeper that
    stopped cleanly released its lease and its pool is kept; one that did not (a crash, or
    the database is a copy taken while a daemon ran: a restored backup) leaves its lease
    held, and the unclaimed addresses, which it may have handed out after the copy, go."""
    from fakes import fake_runtime

    from transient.store.models import PooledAddress

    _, runtime = fake_runtime(tmp_path)
    pool = runtime.pools["LTC"]
    pool.refill()
    have = pool.available()
    assert have > 0 and pool.take() is not None
    keeper = ClusterLease("address-pool", "old-host:1:x", 30)
    assert keeper.claim() and keeper.unreleased() == "old-host:1:x"
    keeper.release()
    assert keeper.unreleased() is None and runtime.guard_pools() == 0
    assert pool.available() == have - 1  # a clean stop: the pool is this database's

    keeper.claim()  # held, never given back: a kill -9, or an online copy of a running daemon
    assert runtime.guard_pools() == have - 1 and pool.available() == 0
    assert PooledAddress.select().where(PooledAddress.claimed_at.is_null(False)).count() == 1  # the claimed stay
    pool.refill()
    assert pool.available() == have  # refilled with fresh addresses from the node
