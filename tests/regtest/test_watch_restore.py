"""A watch-only key restored from a copy taken while its daemon ran (docs/guides/
backups-and-upgrades.md), on the real litecoind regtest node (a keyless legacy wallet: the
ranged descriptor imported by importmulti) and Dogecoin Core 1.14's one wallet (each address
imported): the old host goes on deriving after the copy; the restored daemon's start-up
guard (``Runtime.guard_pools``) moves the key's next index past every index the node's wallet
watches, so none of the old host's later addresses is handed out again. Bitcoin Core's
descriptor wallets (the stored range): tests/regtest/test_watch_only_bitcoin.py."""

import logging
import socket
import sqlite3
import threading
import uuid
from urllib.parse import urlsplit

from _api import post
from _watch import fresh_tpub, watch_runtime
from falcon import testing

from transient.chain import hdkeys
from transient.payments.pool import WatchPool
from transient_backends.dogecoin import DogecoinBackend


def runtime_on(tmp_path, regtest, db_name, name, key):
    return watch_runtime(tmp_path, regtest, name, key, pool=4, gap_limit=3, db=db_name)


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


def test_a_copy_taken_inside_a_batch_skips_the_batch(tmp_path, regtest):
    """A copy taken between a batch's registration and its reservation: the old host then
    hands the batch out with no further registration, so the node watches no further than
    the copy's registered end; every index below that end less the gap limit is skipped."""
    name, key = "watchbatch_" + uuid.uuid4().hex[:8], fresh_tpub()
    runtime = runtime_on(tmp_path, regtest, "batch.db", name, key)
    runtime.backends["LTC"].create_watch_wallet(name)
    pool, watch = runtime.pools["LTC"], hdkeys.parse("LTC", key)
    pool.refill()
    pool.register(pool.key_row().next_index + 4)  # the next batch is registered ...
    copied = pool.key_row()  # ... and the copy taken now
    start = pool.allocate(4)  # the old host reserves it and hands it out
    handed = {watch.address(i, "regtest") for i in range(start, start + 4)}
    copied.save()
    assert pool.backend.watched_end(watch, start, "regtest") == copied.registered_end  # no trace
    assert pool.skip_handed_out("restored") == 4 and pool.key_row().next_index == start + 4
    assert not {r["address"] for r in pool.new_rows(3)} & handed
    runtime.close()


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


class Relay:
    """The node behind a loopback TCP relay that can be down (connections closed at once)."""

    def __init__(self, node):
        self.rpc_user, self.rpc_password, self.up = node.rpc_user, node.rpc_password, False
        self.target = urlsplit(node.rpc_url)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.rpc_url = "http://127.0.0.1:%d/%s" % (self.server.getsockname()[1], self.target.path.lstrip("/"))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            if not self.up:
                conn.close()
                continue
            upstream = socket.create_connection((self.target.hostname, self.target.port))
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, target):
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            target.close()


def copy_then_go_on(tmp_path, regtest, name, key):
    """The old host fills its pool and hands out 2 addresses, the database is copied to
    new.db while it runs, then it hands out 12 more; return them and its key row."""
    old = runtime_on(tmp_path, regtest, "old.db", name, key)
    old.backends["LTC"].create_watch_wallet(name)
    assert old.pool_keeper.round()
    client = testing.TestClient(old.app())
    first = post(client, {"currency": "LTC", "amount": "1"}).json["payment"]
    before = [first["payment_address"]] + addresses(client, 1)
    with sqlite3.connect(tmp_path / "old.db") as source, sqlite3.connect(tmp_path / "new.db") as target:
        source.backup(target)
    after = addresses(client, 12)
    row = old.pools["LTC"].key_row()
    old.close()
    return before + after, row, first["id"]


def test_a_crash_skips_nothing(tmp_path, regtest, caplog):
    """A kill -9 (or a daemon joining on the same database) leaves the lease held too, but
    the database is current: the node watches no further than its registered end, so the
    key goes on from its next index (only the unclaimed pool goes) and makes no gap."""
    name, key = "watchcrash_" + uuid.uuid4().hex[:8], fresh_tpub()
    old = runtime_on(tmp_path, regtest, "crash.db", name, key)
    old.backends["LTC"].create_watch_wallet(name)
    assert old.pool_keeper.round()
    handed = addresses(testing.TestClient(old.app()), 6)
    crashed = old.pools["LTC"].key_row()
    old.close()  # its lease stays held: a kill -9 gives nothing back
    assert crashed.registered_end > crashed.next_index  # the node watches ahead of it

    new = runtime_on(tmp_path, regtest, "crash.db", name, key)
    pool = new.pools["LTC"]
    with caplog.at_level(logging.WARNING, logger="transient.addresses"):
        assert new.guard_pools() > 0  # the unclaimed pool goes
        fresh = addresses(testing.TestClient(new.app()), 2)
    assert "skipped" not in caplog.text and pool.gap_report()["skipped"] is None
    watch = hdkeys.parse("LTC", key)
    assert fresh[0] == watch.address(crashed.next_index, "regtest") and not set(fresh) & set(handed)
    new.close()


def test_a_start_with_the_node_away_serves_and_checks_before_the_first_derived_address(tmp_path, regtest, caplog):
    """The node is the only witness of how far the old host went: while it does not answer,
    the start goes on (reads are served) and the key derives nothing; once it answers, the
    skip comes before the first address is handed out."""
    name, key = "watchaway_" + uuid.uuid4().hex[:8], fresh_tpub()
    handed, old_row, first = copy_then_go_on(tmp_path, regtest, name, key)
    node = Relay(regtest)
    new = runtime_on(tmp_path, node, "new.db", name, key)
    pool, client = new.pools["LTC"], testing.TestClient(new.app())
    copied = pool.key_row().next_index
    with caplog.at_level(logging.WARNING, logger="transient.addresses"):
        new.check_watch_keys()
        assert new.guard_pools() == 2  # does not raise: transientd starts
    assert "the node must say how far the watch-only key was handed out" in caplog.text
    assert "checked again before the key derives an address" in caplog.text
    assert client.simulate_get("/payments/%s" % first).json["payment"]["payment_address"] == handed[0]  # reads
    assert post(client, {"currency": "LTC", "amount": "1"}).status_code == 503
    new.pool_keeper.round()
    assert pool.available() == 0
    assert pool.key_row().next_index == copied  # nothing derived while the node is away

    node.up = True
    with caplog.at_level(logging.WARNING, logger="transient.addresses"):
        fresh = addresses(client, 3)
    assert (
        "skipped %d watch-only indexes (%d to %d)"
        % (old_row.registered_end - copied, copied, old_row.registered_end - 1)
        in caplog.text
    )
    assert fresh[0] == hdkeys.parse("LTC", key).address(old_row.registered_end, "regtest")
    assert not set(fresh) & set(handed) and pool.gap_report()["skipped"]["from"] == copied
    new.close()
    node.server.close()
