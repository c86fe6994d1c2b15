"""The HTTP API in-process against the real regtest node: what the unit layer checks on
the FakeBackend (tests/unit/test_api.py), here with the node's own addresses, payments,
blocks and health answers."""

import uuid

import pytest
from _api import node_client as make_client
from _api import post
from _api_cases import *  # noqa: F401,F403  (the shared cases: create, QR, health)

pytestmark = pytest.mark.regtest


@pytest.fixture(scope="module")
def api(tmp_path_factory, regtest):
    wallet = regtest.create_wallet("api_" + uuid.uuid4().hex[:8])
    client, runtime = make_client(tmp_path_factory.mktemp("api"), regtest, wallet)
    yield client
    runtime.close()


def test_a_read_payment_is_never_served_stale(tmp_path, regtest, merchant_wallet):
    """GET bodies are kept per worker and served while the payment's row and the coin's
    tip are unchanged: a payment, its receipts and their confirmations still show every
    change at once, made in this process or in another one."""
    client, runtime = make_client(tmp_path, regtest, merchant_wallet)
    try:
        syncer = runtime.syncers["LTC"]
        syncer.run()
        p = post(client, {"currency": "LTC", "amount": "0.5"}).json["payment"]
        first = client.simulate_get("/payments/%s" % p["id"])
        assert client.simulate_get("/payments/%s" % p["id"]).content == first.content  # served again
        assert first.headers["content-type"] == "application/json" and first.json["payment"] == p

        txid = regtest.pay(p["payment_address"], "0.5")
        syncer.run()
        pending = client.simulate_get("/payments/%s" % p["id"]).json["payment"]
        assert pending["status"] == "PENDING" and [t["txid"] for t in pending["transactions"]] == [txid]
        assert pending["transactions"][0]["confirmations"] == 0

        regtest.mine(1)
        syncer.run()
        paid = client.simulate_get("/payments/%s" % p["id"]).json["payment"]
        assert paid["status"] == "PAID" and paid["transactions"][0]["confirmations"] == 1

        regtest.mine(2)  # the payment does not change, the tip does: confirmations follow it
        syncer.run()
        assert client.simulate_get("/payments/%s" % p["id"]).json["payment"]["transactions"][0]["confirmations"] == 3

        # Another process changes the payment (here, a connection of its own): seen at once.
        import sqlite3

        with sqlite3.connect(str(tmp_path / "api.db"), timeout=30) as other:
            other.execute("UPDATE payment SET account = 'changed elsewhere' WHERE id = ?", (uuid.UUID(p["id"]).hex,))
        assert client.simulate_get("/payments/%s" % p["id"]).json["payment"]["account"] == "changed elsewhere"
    finally:
        runtime.close()


def test_the_public_view_follows_a_real_payment_and_hides_the_merchants_data(tmp_path, regtest, merchant_wallet):
    """With keys set, the checkout page's view of a payment paid on the node: status,
    amounts, the node's txid and confirmations, the chosen description, and the
    redirect once paid; the merchant's metadata, account and callback URL never."""
    client, runtime = make_client(tmp_path, regtest, merchant_wallet, extra='[api]\nkeys = ["node-key"]\n')
    key = {"Authorization": "Bearer node-key"}
    try:
        syncer = runtime.syncers["LTC"]
        syncer.run()
        body = {
            "currency": "LTC",
            "amount": "0.25",
            "account": "order-99",
            "metadata": {"description": "Tea", "vip": True},
            "callback_url": "https://93.184.216.34/h?tok=zz",
            "redirect_url": "https://shop.test/ok",
        }
        p = post(client, body, key).json["payment"]
        txid = regtest.pay(p["payment_address"], "0.25")
        syncer.run()
        pending = client.simulate_get("/payments/%s" % p["id"]).json["payment"]
        assert pending["status"] == "PENDING" and pending["redirect_url"] is None
        assert [(t["txid"], t["amount"], t["confirmations"]) for t in pending["transactions"]] == [(txid, "0.25", 0)]
        regtest.mine(2)
        syncer.run()
        anon = client.simulate_get("/payments/%s" % p["id"])
        view = anon.json["payment"]
        assert view["status"] == "PAID" and view["confirmations"] == 1 and view["description"] == "Tea"
        assert view["transactions"][0]["confirmations"] == 2 and view["redirect_url"] == "https://shop.test/ok"
        for secret in ("order-99", "vip", "tok=zz", "93.184.216.34", "status_history"):
            assert secret not in anon.text
        page = client.simulate_get("/pay/%s" % p["id"]).text
        assert "Tea" in page and "order-99" not in page and "tok=zz" not in page
        full = client.simulate_get("/payments/%s" % p["id"], headers=key).json["payment"]
        assert full["account"] == "order-99" and full["transactions"][0]["txid"] == txid
    finally:
        runtime.close()
