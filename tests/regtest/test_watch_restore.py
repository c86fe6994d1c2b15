"""A watch-only key restored from a copy taken while its daemon ran (docs/guides/
backups-and-upgrades.md), on the real litecoind regtest node (a keyless legacy wallet: the
ranged descriptor imported by importmulti) and Dogecoin Core 1.14's one wallet (each address
imported): the old host goes on deriving after the copy; the restored daemon's start-up
guard (``Runtime.guard_pools``) moves the key's next index past every index the node's wallet
watches, so none of the old host's later addresses is handed out again. Bitcoin Core's
descriptor wallets (the stored range): tests/regtest/test_watch_only_bitcoin.py."""

import logging
import sqlite3
import uuid

import pytest
from _api import post
from _watch import fresh_tpub
from falcon import testing

from transient import settings
from transient.chain import hdkeys
from transient.payments.pool import WatchPool
from transient.runtime import Runtime
from transient.store import migrations
from transient_backends.dogecoin import DogecoinBackend


def runtime_on(tmp_path, regtest, db_name, name, key):
    path = tmp_path / ("%s.toml" % db_name)
    path.write_text(
        """
[database]
url = "sqlite:///%s"
[coins.LTC]
backend = "litecoin"
rpc_url = "%s"
rpc_user = "%s"
rpc_password = "%s"
wallet = "%s"
xpub = "%s"
address_pool = 4
gap_limit = 3
"""
        % (tmp_path / db_name, regtest.rpc_url, regtest.rpc_user, regtest.rpc_password, name, key)
    )
    runtime = Runtime(settings.load(str(path), environ={}))
    migrations.apply(runtime.db)
    return runtime


def addresses(client, count):
    return [post(client, {"currency": "LTC", "amount": "1"}).json["payment"]["payment_address"] for _ in range(count)]


def test_a_restored_watch_only_key_never_hands_out_the_old_hosts_later_addresses(tmp_path, regtest, caplog):
    name, key = "watchrestore_" + uuid.uuid4().hex[:8], fresh_tpub()
    old = runtime_on(tmp_path, regtest, "old.db", name, key)
    old.backends["LTC"].create_watch_wallet(name)
    assert old.pool_keeper.round()  # the keeper takes its lease and fills the pool (indexes 0-3)
    old_client = testing.TestClient(old.app())
    before = addresses(old_client, 2)
    with sqlite3.connect(tmp_path / "old.db") as source, sqlite3.connect(tmp_path / "new.db") as target:
        source.backup(target)  # online, while the old host runs and holds its lease
    # After the copy the old host hands out its pool and derives further.
    after = addresses(old_client, 12)
    old_row = old.pools["LTC"].key_row()
    assert old_row.next_index >= 14 and len(set(before + after)) == 14
    regtest.pay(after[-1], "1")  # the last one is even paid (the wallet's history)
    regtest.mine(1)
    old.close()

    new = runtime_on(tmp_path, regtest, "new.db", name, key)
    pool = new.pools["LTC"]
    copied = pool.key_row().next_index
    assert copied < old_row.next_index  # the copy's next index is older
    with caplog.at_level(logging.WARNING, logger="transient.addresses"):
        assert new.guard_pools() == 2  # the copy's two unclaimed pooled addresses
    row = pool.key_row()
    # Past every index the node watches: what the old host registered, lookahead included.
    assert row.next_index == old_row.registered_end and row.registered_end >= row.next_index
    skipped = row.next_index - copied
    assert "skipped %d watch-only indexes (%d to %d)" % (skipped, copied, row.next_index - 1) in caplog.text
    # Again (a second start on the same copy before the keeper took the lease): nothing more.
    assert pool.skip_handed_out("again") == 0
    report = pool.gap_report()
    assert report["skipped"]["from"] == copied and report["skipped"]["count"] == skipped
    fresh = addresses(testing.TestClient(new.app()), 8)
    assert not set(fresh) & set(before + after)
    watch = hdkeys.parse("LTC", key)
    assert fresh[0] == watch.address(old_row.registered_end, "regtest")
    new.close()


def test_a_restored_doge_key_skips_the_addresses_the_one_wallet_imported(db, doge_node):
    doge = DogecoinBackend(
        "DOGE", {"rpc_url": doge_node.rpc_url, "rpc_user": doge_node.rpc_user, "rpc_password": doge_node.rpc_password}
    )
    watch = hdkeys.parse("DOGE", fresh_tpub())
    pool = WatchPool("DOGE", doge, db, 4, watch, gap_limit=2)
    pool.refill()
    copied = pool.key_row()  # what a copy taken now holds
    pool.size = 40
    pool.refill()  # the old host, after the copy
    handed = {watch.address(i, "regtest") for i in range(copied.next_index, pool.key_row().next_index)}
    end = pool.key_row().registered_end
    copied.save()  # the restored copy's row: next index 4, registered 6
    assert pool.skip_handed_out("restored") == end - 4
    assert pool.key_row().next_index == end and doge.owns(watch.address(end, "regtest")) is False
    pool.discard("restored")
    assert not {r["address"] for r in pool.new_rows(3)} & handed
    doge.close()


def test_a_restored_watch_only_key_is_not_derived_from_while_the_node_is_away(tmp_path, regtest):
    """The node is the only witness of how far the old host went: while it does not answer,
    the guard raises NodeError (transientd exits 2 in one line) and the next index stays."""
    from transient.core.errors import NodeError
    from transient.store.leases import ClusterLease

    away = type("Away", (), {"rpc_url": "http://127.0.0.1:9/", "rpc_user": "u", "rpc_password": "p"})()
    runtime = runtime_on(tmp_path, away, "away.db", "shop", fresh_tpub())
    assert ClusterLease("address-pool", "old-host:1:x", 30).claim()  # the copy's lease, never given back
    with pytest.raises(NodeError) as exc:
        runtime.guard_pools()
    assert "LTC: the last address pool keeper (old-host:1:x) did not stop cleanly" in exc.value.message
    assert "the node must say how far the watch-only key was handed out" in exc.value.message
    assert runtime.pools["LTC"].key_row().next_index == 0
    runtime.close()
