"""The HTTP API in-process (Falcon's test client) on the FakeBackend: validation, errors,
idempotency, listing, auth, QR codes, notify, health, the read cache. The same flows
against the real node: tests/regtest/test_api_node.py."""

import json
import uuid

import pytest
from _api import post
from _api_cases import *  # noqa: F401,F403  (the shared cases: create, QR, health)
from fakes import fake_runtime

LOOPBACK_ALLOWED = '[webhook]\nallowed_networks = ["127.0.0.0/8", "::1/128"]\n'


def make_client(tmp_path, extra=""):
    """A TestClient and its Runtime on SQLite and the FakeBackend (``runtime.backends["LTC"]``)."""
    return fake_runtime(tmp_path, extra=extra)


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    # Loopback receivers and redirects in these tests: allowed as an operator would.
    client, runtime = make_client(tmp_path_factory.mktemp("api"), extra=LOOPBACK_ALLOWED)
    yield client
    runtime.close()


def test_callback_and_redirect_urls_are_kept(api):
    body = {
        "currency": "LTC",
        "amount": 1,
        "callback_url": "https://shop.example/hooks/transient?x=1",
        "redirect_url": "http://127.0.0.1:3000/thanks",
    }
    p = post(api, body).json["payment"]
    assert (p["callback_url"], p["redirect_url"]) == (body["callback_url"], body["redirect_url"])
    plain = post(api, {"currency": "LTC", "amount": 1}).json["payment"]
    assert plain["callback_url"] is None and plain["redirect_url"] is None


def test_amounts_are_exact(api):
    for given, shown in [("0.00000001", "0.00000001"), (0.1, None), ("84000000", "84000000"), ("12.30", "12.3")]:
        raw = '{"currency": "LTC", "amount": %s}' % (json.dumps(given) if isinstance(given, str) else given)
        resp = post(api, None, raw=raw)
        assert resp.status_code == 201, resp.text
        assert resp.json["payment"]["amount"] == (shown or "0.1")  # 0.1 as a JSON number is read as exact decimal


@pytest.mark.parametrize(
    "body, status, field",
    [
        ({"currency": "LTC", "amount": 0}, 422, "amount"),
        ({"currency": "LTC", "amount": "-1"}, 422, "amount"),
        ({"currency": "LTC", "amount": "1.000000001"}, 422, "amount"),
        ({"currency": "LTC", "amount": "84000000.00000001"}, 422, "amount"),
        ({"currency": "LTC", "amount": "NaN"}, 422, "amount"),
        ({"currency": "LTC", "amount": True}, 422, "amount"),
        ({"currency": "LTC", "amount": [1]}, 422, "amount"),
        ({"currency": "LTC"}, 422, "amount"),
        ({"amount": 1}, 422, "currency"),
        ({"currency": "XYZ", "amount": 1}, 422, "currency"),
        ({"currency": "LTC", "amount": 1, "metadata": [1]}, 422, "metadata"),
        ({"currency": "LTC", "amount": 1, "account": 5}, 422, "account"),
        ({"currency": "LTC", "amount": 1, "ammount": 1}, 422, "ammount"),
        ({"currency": "LTC", "amount": 1, "confirmations": -1}, 422, "confirmations"),
        ({"currency": "LTC", "amount": 1, "expires_in": 0}, 422, "expires_in"),
        ({"currency": "LTC", "amount": 1, "expires_in": 400 * 86400}, 422, "expires_in"),
        ({"currency": "LTC", "amount": 1, "expires_at": "2099-01-01T00:00:00"}, 422, "expires_at"),
        ({"currency": "LTC", "amount": 1, "underpayment_tolerance": "1.234"}, 422, "underpayment_tolerance"),
        ({"currency": "LTC", "amount": 1, "expires_in": 600, "expires_at": "2099-01-01T00:00:00Z"}, 422, "expires_at"),
        ({"currency": "LTC", "amount": 1, "expires_at": "2000-01-01T00:00:00Z"}, 422, "expires_at"),
        ({"currency": "LTC", "amount": 1, "underpayment_tolerance": "100"}, 422, "underpayment_tolerance"),
        ({"currency": "LTC", "amount": 1, "callback_url": "ftp://shop.example/hook"}, 422, "callback_url"),
        ({"currency": "LTC", "amount": 1, "callback_url": "/relative/hook"}, 422, "callback_url"),
        ({"currency": "LTC", "amount": 1, "callback_url": "http://shop.example:99999/"}, 422, "callback_url"),
        ({"currency": "LTC", "amount": 1, "callback_url": "http://shop example/"}, 422, "callback_url"),
        ({"currency": "LTC", "amount": 1, "callback_url": 7}, 422, "callback_url"),
        ({"currency": "LTC", "amount": 1, "redirect_url": "javascript:alert(1)"}, 422, "redirect_url"),
        ({"currency": "LTC", "amount": 1, "redirect_url": "https://" + "x" * 2100}, 422, "redirect_url"),
        ([1, 2], 400, None),
    ],
)
def test_bad_input_names_the_field_and_changes_nothing(api, body, status, field):
    before = api.simulate_get("/payments", params={"limit": 500}).json["payments"]
    resp = post(api, body)
    assert resp.status_code == status, resp.text
    assert resp.json["success"] is False
    assert resp.json["error"]["field"] == field
    assert resp.json["error"]["message"]
    assert api.simulate_get("/payments", params={"limit": 500}).json["payments"] == before


@pytest.mark.parametrize(
    "raw, ctype, status",
    [
        ('{"currency": "LTC", "amount": NaN}', "application/json", 400),
        ('{"currency": "LTC", "amount": Infinity}', "application/json", 400),
        ("{not json", "application/json", 400),
        ("\xff\xfe", "application/json", 400),
        ("currency=LTC", "application/x-www-form-urlencoded", 415),
        ('{"pad": "%s"}' % ("x" * 70000), "application/json", 413),
    ],
    ids=["nan", "infinity", "broken", "not-utf8", "form", "oversized"],
)
def test_unreadable_bodies(api, raw, ctype, status):
    resp = api.simulate_post("/payments", body=raw, headers={"Content-Type": ctype})
    assert resp.status_code == status, resp.text
    assert resp.json["success"] is False and resp.json["error"]["code"]
    assert not resp.json["error"]["code"][0].isdigit()


def test_unknown_payment_is_404_json(api):
    for path in ("/payments/%s" % uuid.uuid4(), "/payments/not-a-uuid", "/nowhere"):
        resp = api.simulate_get(path)
        assert resp.status_code == 404 and resp.json["success"] is False


def test_idempotency_key(api):
    body = {"currency": "LTC", "amount": "3"}
    first = post(api, body, {"Idempotency-Key": "order-77"})
    again = post(api, body, {"Idempotency-Key": "order-77"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json["payment"]["id"] == first.json["payment"]["id"]
    other = post(api, {"currency": "LTC", "amount": "4"}, {"Idempotency-Key": "order-77"})
    assert other.status_code == 409 and other.json["error"]["field"] == "Idempotency-Key"


def test_list_filters_and_cursor_pagination(api):
    ids = [post(api, {"currency": "LTC", "amount": "0.5"}).json["payment"]["id"] for _ in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "currency": "LTC", "status": "UNPAID"}
        if cursor:
            params["cursor"] = cursor
        page = api.simulate_get("/payments", params=params).json
        assert len(page["payments"]) <= 2
        seen += [p["id"] for p in page["payments"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert set(ids) <= set(seen) and len(seen) == len(set(seen))
    assert api.simulate_get("/payments", params={"status": "BOGUS"}).status_code == 422
    assert api.simulate_get("/payments", params={"limit": "0"}).status_code == 422
    assert api.simulate_get("/payments", params={"cursor": "!!"}).status_code == 422


def test_notify_validation(api):
    ok = api.simulate_post("/notify/LTC/transaction/" + "ab" * 32)
    assert ok.status_code == 202
    assert api.simulate_post("/notify/LTC/block/" + "00" * 32).status_code == 202
    assert api.simulate_post("/notify/XYZ/transaction/" + "ab" * 32).json["error"]["field"] == "currency"
    assert api.simulate_post("/notify/LTC/transaction/nothex").json["error"]["field"] == "txid"
    assert api.simulate_post("/notify/LTC/block/" + "ab" * 31).json["error"]["field"] == "hash"
    assert api.simulate_post("/notify/LTC/mempool/" + "ab" * 32).status_code == 404
    remote = api.simulate_post("/notify/LTC/block/" + "00" * 32, remote_addr="203.0.113.9")
    assert remote.status_code == 401


def test_api_keys(tmp_path):
    client, runtime = make_client(tmp_path, extra='[api]\nkeys = ["s3cret", "other"]\n')
    try:
        body = {"currency": "LTC", "amount": "1"}
        assert post(client, body).status_code == 401
        assert post(client, body, {"Authorization": "Bearer wrong"}).status_code == 401
        created = post(client, body, {"Authorization": "Bearer other"})
        assert created.status_code == 201
        assert client.simulate_get("/payments").status_code == 401
        assert client.simulate_get("/payments", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        # one payment by its unguessable id stays open: it feeds the checkout page
        pid = created.json["payment"]["id"]
        assert client.simulate_get("/payments/%s" % pid).status_code == 200
        # The event log (webhook URLs, receivers' answers) and webhook actions need the key.
        key = {"Authorization": "Bearer s3cret"}
        for method, path in [
            ("GET", "/payments/%s/events" % pid),
            ("POST", "/deliveries/1/redeliver"),
            ("POST", "/webhooks/test"),
        ]:
            assert client.simulate_request(method, path).status_code == 401, path
        events = client.simulate_get("/payments/%s/events" % pid, headers=key)
        assert events.status_code == 200 and [e["type"] for e in events.json["events"]] == ["payment.created"]
        assert events.json["events"][0]["deliveries"] == []  # no webhook URL configured
        assert client.simulate_post("/deliveries/1/redeliver", headers=key).status_code == 404
        no_url = client.simulate_post("/webhooks/test", headers=key)
        assert no_url.status_code == 422 and no_url.json["error"]["field"] == "url"
    finally:
        runtime.close()


def test_a_read_payment_is_never_served_stale(tmp_path):
    """GET bodies are kept per worker and served while the payment's row and the coin's
    tip are unchanged: a payment, its receipts and their confirmations still show every
    change at once, made in this process or in another one."""
    client, runtime = make_client(tmp_path)
    try:
        syncer, node = runtime.syncers["LTC"], runtime.backends["LTC"]
        syncer.run()
        p = post(client, {"currency": "LTC", "amount": "0.5"}).json["payment"]
        first = client.simulate_get("/payments/%s" % p["id"])
        assert client.simulate_get("/payments/%s" % p["id"]).content == first.content  # served again
        assert first.headers["content-type"] == "application/json" and first.json["payment"] == p

        txid = node.pay(p["payment_address"], 50_000_000)
        syncer.run()
        pending = client.simulate_get("/payments/%s" % p["id"]).json["payment"]
        assert pending["status"] == "PENDING" and [t["txid"] for t in pending["transactions"]] == [txid]
        assert pending["transactions"][0]["confirmations"] == 0

        node.mine(1)
        syncer.run()
        paid = client.simulate_get("/payments/%s" % p["id"]).json["payment"]
        assert paid["status"] == "PAID" and paid["transactions"][0]["confirmations"] == 1

        node.mine(2)  # the payment does not change, the tip does: confirmations follow it
        syncer.run()
        assert client.simulate_get("/payments/%s" % p["id"]).json["payment"]["transactions"][0]["confirmations"] == 3

        # Another process changes the payment (here, a connection of its own): seen at once.
        import sqlite3

        with sqlite3.connect(str(tmp_path / "api.db"), timeout=30) as other:
            other.execute("UPDATE payment SET account = 'changed elsewhere' WHERE id = ?", (uuid.UUID(p["id"]).hex,))
        assert client.simulate_get("/payments/%s" % p["id"]).json["payment"]["account"] == "changed elsewhere"
    finally:
        runtime.close()


def test_the_read_cache_is_bounded_and_keeps_the_recently_read():
    from transient.payments.rendering import RenderedCache

    cache = RenderedCache(size=3)
    for i in range(5):
        cache.put(i, ("row", i), b"body %d" % i)
        assert cache.get(i, ("row", i)) == b"body %d" % i
    assert [cache.get(i, ("row", i)) for i in range(5)] == [None, None, b"body 2", b"body 3", b"body 4"]
    assert cache.get(4, ("row", "changed")) is None
