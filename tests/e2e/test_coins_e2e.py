"""Every coin on its own real node, the same end-to-end cases written once: LTC on litecoind
(Litecoin Core 0.21), BTC on Bitcoin Core 30.0 (watch-only on 28.3 too), DOGE on Dogecoin
Core 1.14.9, in regtest, a real transientd on each.

Create, pay, confirm; a reorg over P2P (a second node mines a longer branch off the network,
then reconnects); a double spend of an unconfirmed payment; sendmany to several payments
share one daemon per coin (its own wallet; DOGE: the node's one wallet). Watch-only
``wallet init`` and payments, kill -9 in a sync and a node outage start daemons of their own.
The doctor's notify round trip on each node: tests/e2e/test_doctor_nodes.py. Each coin runs
on one database: LTC on PostgreSQL, BTC and DOGE on SQLite (the ledger's own tests run
everything on both).
"""

import json
import uuid

import pytest
from _cli import as_json, run
from _coins import EVERY_COIN, keyless_wallet
from _daemon import Daemon, coin_config, ping, start_with_wallets, wait_for
from _db_fixtures import migrated_url
from _watch import fresh_tpub

from transient.devnet.coins import connect, disconnect, sync_blocks
from transient.store.db import open_database
from transient.store.models import ChainState, Event, Receipt

pytestmark = pytest.mark.regtest


@pytest.fixture
def db_url(request, tmp_path, coin):
    """One database per coin (LTC: PostgreSQL, BTC and DOGE: SQLite)."""
    return migrated_url(request, tmp_path, "postgres" if coin.kind == "LTC" else "sqlite")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, coin, coin_node):
    """One transientd per coin for the module, on a wallet of its own (DOGE: the node's one)."""
    tmp = tmp_path_factory.mktemp("daemon-%s" % coin.kind)
    wallet = coin_node.create_wallet("shared_" + uuid.uuid4().hex[:8])
    coins = coin_config(coin_node, wallet, currency=coin.currency, backend=coin.backend, poll=1, address_pool=10)
    d = Daemon(str(tmp), "sqlite:///%s" % (tmp / "t.db"), coins).start()
    yield d
    d.kill()


# -- one daemon per coin --------------------------------------------------------------


@EVERY_COIN
def test_create_pay_confirm(coin, coin_node, daemon):
    p = daemon.create(currency=coin.currency, amount="1.5", account="order-1")
    assert p["payment_uri"] == "%s:%s?amount=1.5" % (coin.uri_scheme, p["payment_address"])
    txid = coin_node.pay(p["payment_address"], "1.5")
    ping(daemon, value=txid, currency=coin.currency)
    p = daemon.wait_status(p["id"], "PENDING")
    assert (p["amount_received"], p["amount_pending"], p["transactions"][0]["txid"]) == ("1.5", "1.5", txid)
    block = coin_node.mine(1)[0]
    ping(daemon, "block", block, currency=coin.currency)
    p = daemon.wait_status(p["id"], "PAID")
    assert p["transactions"][0]["confirmations"] == 1 and p["paid_at"]


@EVERY_COIN
def test_reorg_over_p2p_takes_the_payment_back_to_pending(coin, coin_node, daemon, coin_peer):
    p = daemon.create(currency=coin.currency, amount="0.25")
    sync_blocks([coin_node, coin_peer])
    disconnect(coin_node, coin_peer)
    txid = coin_node.pay(p["payment_address"], "0.25")
    coin_node.mine(1)
    daemon.wait_status(p["id"], "PAID")
    # Off the network, the peer mines a longer branch without the payment; back on, it wins.
    coin_peer.rpc("generatetoaddress", 2, coin_node.rpc("getnewaddress", wallet=coin_node.payer))
    connect(coin_node, coin_peer)
    sync_blocks([coin_node, coin_peer])
    p = daemon.wait_status(p["id"], "PENDING", timeout=30)
    assert p["paid_at"] is None and p["transactions"][0]["confirmations"] == 0
    assert txid in coin_node.rpc("getrawmempool")
    coin_node.mine(1)
    daemon.wait_status(p["id"], "PAID")


@EVERY_COIN
def test_double_spend_of_an_unconfirmed_payment(coin, coin_node, daemon):
    p = daemon.create(currency=coin.currency, amount="0.5")
    txid = coin_node.pay(p["payment_address"], "0.5")
    daemon.wait_status(p["id"], "PENDING")
    coin_node.double_spend(txid)  # the conflict is mined; the payment drops out of the listing
    p = daemon.wait_status(p["id"], "UNPAID", timeout=30)
    assert p["amount_received"] == "0" and p["transactions"][0]["status"] == "conflicted"
    assert [h["status"] for h in p["status_history"]] == ["UNPAID", "PENDING", "UNPAID"]


@EVERY_COIN
def test_sendmany_to_several_payments(coin, coin_node, daemon):
    made = [daemon.create(currency=coin.currency, amount=a) for a in ("0.3", "0.7", "1.1")]
    txid = coin_node.sendmany({p["payment_address"]: p["amount"] for p in made})
    coin_node.mine(1)
    for p in made:
        paid = daemon.wait_status(p["id"], "PAID")
        assert [t["txid"] for t in paid["transactions"]] == [txid] and paid["amount_received"] == p["amount"]


# -- daemons of their own --------------------------------------------------------------


@pytest.mark.parametrize("coin", ["LTC", "BTC", "BTC28", "DOGE"], indirect=True, scope="module")
def test_watch_only_wallet_init_and_payments(tmp_path, coin, coin_node):
    """``transient wallet init`` makes the node's wallet watch the key; the pool (150) is
    larger than what Bitcoin Core stores on the first import (its keypool: 100 here, 1000
    by default), so the second import must cover the stored range (refused before)."""
    wallet = keyless_wallet(coin_node, "watch_" + uuid.uuid4().hex[:8])
    db_url = "sqlite:///%s" % (tmp_path / "w.db")
    coins = coin_config(coin_node, wallet, currency=coin.currency, backend=coin.backend)
    coins += 'xpub = "%s"\naddress_pool = 150\ngap_limit = 5\n' % fresh_tpub()
    config = tmp_path / "config.toml"
    config.write_text('[database]\nurl = "%s"\nauto_migrate = true\n' % db_url + coins)
    init = as_json(run("wallet", "init", coin.currency, "--json", "--config", config))
    assert (init["next_index"], init["pooled"], init["registered"][0]) == (150, 150, 0)
    assert init["registered"][1] >= 155 and init["gap"] == 0
    status = run("wallet", "status", coin.currency, "--config", config)
    assert status.returncode == 0 and "indexes 0 to %d" % (init["registered"][1] - 1) in status.stdout, status

    d = Daemon(str(tmp_path), db_url, coins).start()
    try:
        made = [d.create(currency=coin.currency, amount="2") for _ in range(2)]
        assert [p["derivation_index"] for p in made] == [0, 1]
        txid = coin_node.pay(made[1]["payment_address"], "2")
        d.wait_status(made[1]["id"], "PENDING")
        coin_node.mine(1)
        assert d.wait_status(made[1]["id"], "PAID")["transactions"][0]["txid"] == txid
    finally:
        d.kill()
    report = json.loads(run("doctor", "--json", "--no-roundtrip", "--config", config).stdout)
    checks = {c["name"]: (c["status"], c["detail"]) for c in report["checks"]}
    key = checks["%s watch-only key" % coin.currency]
    assert key[0] == "ok" and "next index 150" in key[1], checks
    assert checks["%s network" % coin.currency][0] == "ok", checks


@EVERY_COIN
def test_kill_9_in_the_middle_of_a_sync(coin, coin_node, start_coin_daemon, db_url):
    d = start_coin_daemon(poll=3600)
    pays = [d.create(currency=coin.currency, amount=n) for n in ("0.1", "0.2", "0.3")]
    d.stop()
    coin_node.sendmany({p["payment_address"]: p["amount"] for p in pays})
    coin_node.mine(1)
    db = open_database(db_url)
    cursor_before = ChainState.get_by_id(coin.currency).cursor_hash
    # The worker kills itself (SIGKILL) after writing the ledger and before the commit;
    # gunicorn respawns it and it dies again. Then the master is killed too.
    crashing = start_coin_daemon(poll=3600, env={"TRANSIENT_FAULTS": "sync.before_commit"}, healthy=False)
    wait_for(lambda: crashing.log().count("sync start") >= 2, timeout=30)
    crashing.kill()
    # Ours only: on Dogecoin Core's one wallet the daemon also books what earlier tests received.
    ids = [p["id"] for p in pays]
    assert Receipt.select().where(Receipt.payment.in_(ids)).count() == 0
    assert [e.type for e in Event.select().where(Event.payment.in_(ids))] == ["payment.created"] * 3
    assert ChainState.get_by_id(coin.currency).cursor_hash == cursor_before
    db.close()
    d = start_coin_daemon(poll=3600)
    for p in pays:
        assert d.wait_status(p["id"], "PAID")["amount_received"] == p["amount"]
    db = open_database(db_url)
    assert Receipt.select().where(Receipt.payment.in_(ids)).count() == 3
    for p in pays:  # no change without its events
        types = [e.type for e in Event.select().where(Event.payment == p["id"]).order_by(Event.sequence)]
        assert types == ["payment.created", "payment.received", "payment.confirmed", "payment.status_changed"]
    db.close()


@EVERY_COIN
def test_node_outage(coin, coin_node, start_coin_daemon):
    # Without an address pool, creating a payment needs the node (the pool has its own tests).
    d = start_coin_daemon(address_pool=0)
    p = d.create(currency=coin.currency, amount="0.2")
    coin_node.stop()
    try:
        health = d.get("/healthz")
        assert health.status_code == 503 and health.json()["coins"][coin.currency]["node"] == "unreachable"
        assert d.get("/payments/%s" % p["id"]).status_code == 200  # reads keep working
        resp = d.post("/payments", json={"currency": coin.currency, "amount": "1"})
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "node_unreachable"
        wait_for(lambda: "node unavailable" in d.log(), timeout=15)
    finally:
        start_with_wallets(coin_node)
    coin_node.pay(p["payment_address"], "0.2")
    coin_node.mine(1)
    d.wait_status(p["id"], "PAID", timeout=90)
    assert d.log().count("node unavailable") == 1  # logged once, not once per retry
    assert "reachable again" in d.log()
