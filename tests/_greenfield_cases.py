"""Greenfield through the API in-process on the FakeBackend, written once: run on SQLite by
tests/unit/test_greenfield.py and on PostgreSQL by tests/integration/test_greenfield_postgres.py
(each gives the ``greenfield_url`` fixture). Shapes, types, error bodies, the webhooks the
outbox queues for an invoice (with their BTCPay-Sig), reorgs, double spends, marks, lists."""

import datetime
import hashlib
import hmac
import json

import pytest
from fakes import fake_coin_config, fake_plugin_manager
from falcon import testing

from transient import settings
from transient.delivery.kinds import greenfield_signature
from transient.greenfield import shapes
from transient.runtime import Runtime
from transient.store import migrations
from transient.store.models import Delivery, DeliveryTarget, Payment

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0)
PLUGIN_REQUIRED = {shapes.VIEW_INVOICES, shapes.CREATE_INVOICE, shapes.VIEW_STORE, shapes.MODIFY_INVOICES}


def plugin_accepts(permissions):
    """The WooCommerce plugin's check of api-keys/current (§6)."""
    split = [p.split(":") for p in permissions]
    if any(len(s) != 2 for s in split) or len({s[1] for s in split}) != 1:
        return False
    names = {s[0] for s in split} - {shapes.PULL_PAYMENTS, shapes.MODIFY_WEBHOOKS}
    return names == PLUGIN_REQUIRED


# -- the API in-process -----------------------------------------------------------

EXTRA = '[webhook]\nallowed_networks = ["127.0.0.0/8"]\n[greenfield]\nstore_name = "Shop"\n'


def greenfield_runtime(tmp_path, url, extra=""):
    """A TestClient and its Runtime on the database ``url`` with fake LTC and DOGE backends
    (``extra``: more lines of the [greenfield] section)."""
    path = tmp_path / "greenfield.toml"
    coins = fake_coin_config("LTC", confirmations=1) + fake_coin_config("DOGE")
    path.write_text('[database]\nurl = "%s"\n%s%s\n%s' % (url, EXTRA, extra, coins))
    runtime = Runtime(settings.load(str(path), environ={}), pm=fake_plugin_manager())
    migrations.apply(runtime.db)
    return testing.TestClient(runtime.app()), runtime


@pytest.fixture
def gf(tmp_path, greenfield_url):
    """The Greenfield API in-process on ``greenfield_url`` (each layer's module gives it)."""
    client, runtime = greenfield_runtime(tmp_path, greenfield_url)
    _, key = runtime.key_store.create(list(shapes.PLUGIN_SCOPES), "WooCommerce")
    _, reader = runtime.key_store.create(["payments:read"], "reader")
    api = Api(client, key)
    api.reader = reader
    api.runtime = runtime
    api.store = api.get("/api/v1/stores").json[0]["id"]
    yield api
    runtime.close()


class Api:
    def __init__(self, client, key):
        self.client, self.key = client, key

    def call(self, method, path, body=None, key=None, auth=None):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        headers["Authorization"] = auth or "token %s" % (key or self.key)
        if body is not None and not isinstance(body, str):  # a str is sent as it is (number literals)
            body = json.dumps(body)
        return self.client.simulate_request(method, path, headers=headers, body=body)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.call("POST", path, body, **kw)

    def ok(self, method, path, body=None):
        resp = self.call(method, path, body)
        assert resp.status_code == 200, (path, resp.status_code, resp.text)
        return resp.json


def test_auth_errors_in_greenfields_shapes(gf):
    for auth in ("", "token nope", "Basic dXNlcjpwYXNz", "token tk_aaaaaaaaaa_" + "b" * 43):
        resp = gf.get("/api/v1/server/info", auth=auth or " ")
        assert resp.status_code == 401, auth
        assert resp.json["code"] == "unauthenticated" and resp.json["message"]
    denied = gf.post("/api/v1/stores/%s/invoices" % gf.store, {"amount": "1", "currency": "LTC"}, key=gf.reader)
    assert denied.status_code == 403
    assert denied.json["code"] == "missing-permission"
    assert denied.json["missingPermission"] == shapes.CREATE_INVOICE
    assert shapes.CREATE_INVOICE in denied.json["message"]
    hooks = gf.get("/api/v1/stores/%s/webhooks" % gf.store, key=gf.reader)
    assert hooks.status_code == 403 and hooks.json["missingPermission"] == shapes.MODIFY_WEBHOOKS


def test_store_key_and_server(gf):
    current = gf.ok("GET", "/api/v1/api-keys/current")
    assert plugin_accepts(current["permissions"]) and current["label"] == "WooCommerce"
    assert gf.key not in json.dumps(current)  # the key is never echoed
    assert all(p.endswith(":" + gf.store) for p in current["permissions"])
    store = gf.ok("GET", "/api/v1/stores/%s" % gf.store)
    assert (store["id"], store["name"], store["defaultCurrency"], store["invoiceExpiration"]) == (
        gf.store,
        "Shop",
        "USD",
        900,
    )
    assert gf.ok("GET", "/api/v1/stores/%s/payment-methods" % gf.store) == [
        {"paymentMethodId": "DOGE-CHAIN", "enabled": True},
        {"paymentMethodId": "LTC-CHAIN", "enabled": True},
    ]
    info = gf.ok("GET", "/api/v1/server/info")
    assert info["version"] == "2.0.0" and info["fullySynched"] is False  # no coin synced yet
    gf.runtime.syncers["LTC"].run()
    gf.runtime.syncers["DOGE"].run()
    info = gf.ok("GET", "/api/v1/server/info")
    assert info["fullySynched"] is True
    assert {s["paymentMethodId"]: s["chainHeight"] for s in info["syncStatus"]} == {"DOGE-CHAIN": 200, "LTC-CHAIN": 200}
    # The store id is generated once and kept.
    assert gf.runtime.greenfield.store_id == gf.store
    missing = gf.get("/api/v1/stores/nope")
    assert missing.status_code == 404 and missing.json["code"] == "store-not-found"
    # No redirect on API paths: a trailing slash is the same resource.
    assert gf.get("/api/v1/stores/").status_code == 200


def test_errors_and_out_of_scope_answers(gf):
    base = "/api/v1/stores/%s" % gf.store
    bad = gf.post(base + "/invoices", {"amount": "0", "currency": "LTC", "checkout": {"paymentMethods": ["XMR_CHAIN"]}})
    assert bad.status_code == 422
    assert {e["path"] for e in bad.json} == {"amount", "checkout.paymentMethods"}
    assert all(isinstance(e["message"], str) and e["message"] for e in bad.json)
    too_precise = gf.post(base + "/invoices", {"amount": "0.000000001", "currency": "LTC"})
    assert too_precise.status_code == 422 and too_precise.json[0]["path"] == "amount"
    unknown = gf.get(base + "/invoices/nope")
    assert unknown.status_code == 404 and unknown.json == {
        "code": "invoice-not-found",
        "message": "The invoice was not found",
    }
    assert gf.get(base + "/webhooks/nope").json["code"] == "webhook-not-found"
    assert gf.get("/api/v1/nothing/here").json["code"] == "not-found"
    assert gf.call("PATCH", base).status_code == 405 and gf.call("PATCH", base).json["code"]
    refund = gf.post(base + "/pull-payments", {"name": "Refund", "amount": "1", "currency": "USD"}, key=gf.reader)
    assert refund.status_code == 403 and refund.json["missingPermission"] == shapes.PULL_PAYMENTS
    refund = gf.post(base + "/pull-payments", {"name": "Refund", "amount": "1", "currency": "USD"})
    assert refund.status_code == 422 and refund.json[0]["path"] == "currency"  # no rates here
    # A fiat without rates is refused naming the field, nothing written; a coin whose
    # node is down is a 503.
    from transient.store.models import Invoice, Payment

    before = Payment.select().count()
    fiat = gf.post(base + "/invoices", {"amount": "40", "currency": "USD"})
    assert fiat.status_code == 422 and fiat.json[0]["path"] == "currency" and "rates" in fiat.json[0]["message"]
    gf.runtime.backends["DOGE"].down = True
    down = gf.post(base + "/invoices", {"amount": "1", "currency": "DOGE"})
    assert down.status_code == 503 and down.json["message"]
    assert (Payment.select().count(), Invoice.select().count()) == (before, 0)
    wizard = gf.client.simulate_get("/api-keys/authorize", query_string="permissions=x")
    assert wizard.status_code == 404 and "transient keys create --greenfield" in wizard.text
    assert gf.client.simulate_get("/modal/btcpay.js").status_code == 404
    assert gf.client.simulate_get("/i/nope").status_code == 404


def _deliveries():
    return [json.loads(d.body) for d in Delivery.select().where(Delivery.target.is_null(False)).order_by(Delivery.id)]


def test_an_invoice_paid_settles_with_the_webhooks_in_order(gf):
    base = "/api/v1/stores/%s" % gf.store
    hook = gf.ok(
        "POST",
        base + "/webhooks",
        {
            "enabled": True,
            "automaticRedelivery": True,
            "url": "http://127.0.0.1:9/wc-api/btcpaygf_default/",
            "authorizedEvents": {"everything": True},
        },
    )
    assert len(hook["secret"]) >= 24
    assert "secret" not in gf.ok("GET", base + "/webhooks/" + hook["id"])
    invoice = gf.ok(
        "POST",
        base + "/invoices",
        {
            "amount": "1.5",
            "currency": "LTC",
            "metadata": {"orderId": "77", "posData": '{"a":1}', "taxIncluded": 3.20},
            "checkout": {
                "speedPolicy": None,
                "paymentMethods": ["LTC_CHAIN"],
                "expirationMinutes": None,
                "monitoringMinutes": None,
                "paymentTolerance": None,
                "redirectURL": "http://127.0.0.1/shop/thanks",
                "redirectAutomatically": None,
                "defaultLanguage": None,
            },
        },
    )
    assert invoice["metadata"] == {"orderId": "77", "posData": '{"a":1}', "taxIncluded": 3.2}
    assert (invoice["status"], invoice["additionalStatus"], invoice["amount"]) == ("New", "None", "1.5")
    assert invoice["expirationTime"] - invoice["createdTime"] == 900
    assert invoice["checkout"]["paymentMethods"] == ["LTC-CHAIN"]
    assert invoice["checkoutLink"].endswith("/i/" + invoice["id"])
    page = gf.client.simulate_get("/i/" + invoice["id"])
    methods = gf.ok("GET", base + "/invoices/%s/payment-methods" % invoice["id"])
    assert page.status_code == 303 and page.headers["location"].startswith("/pay/")
    (ltc,) = methods
    assert (ltc["paymentMethodId"], ltc["amount"], ltc["due"], ltc["rate"], ltc["payments"]) == (
        "LTC-CHAIN",
        "1.5",
        "1.5",
        "1",
        [],
    )
    node, sync = gf.runtime.backends["LTC"], gf.runtime.syncers["LTC"]
    txid = node.pay(ltc["destination"], 150_000_000)
    sync.run()
    assert gf.ok("GET", base + "/invoices/" + invoice["id"])["status"] == "Processing"
    node.mine(1)
    sync.run()
    settled = gf.ok("GET", base + "/invoices/" + invoice["id"])
    assert (settled["status"], settled["additionalStatus"]) == ("Settled", "None")
    bodies = _deliveries()
    assert [b["type"] for b in bodies] == [
        "InvoiceCreated",
        "InvoiceReceivedPayment",
        "InvoiceProcessing",
        "InvoicePaymentSettled",
        "InvoiceSettled",
    ]
    for b in bodies:
        assert (b["invoiceId"], b["storeId"], b["webhookId"], b["metadata"]["orderId"]) == (
            invoice["id"],
            gf.store,
            hook["id"],
            "77",
        )
        assert b["deliveryId"] == b["originalDeliveryId"] and b["isRedelivery"] is False
        assert isinstance(b["timestamp"], int)
    received = bodies[1]
    assert received["afterExpiration"] is False and received["paymentMethodId"] == "LTC-CHAIN"
    assert received["payment"]["id"] == "%s-0" % txid and received["payment"]["value"] == "1.5"
    assert bodies[2]["overPaid"] is False
    assert bodies[4]["overPaid"] is False and bodies[4]["manuallyMarked"] is False
    after = gf.ok("GET", base + "/invoices/%s/payment-methods" % invoice["id"])[0]
    assert (after["paymentMethodPaid"], after["due"], after["payments"][0]["status"]) == ("1.5", "0", "Settled")
    assert isinstance(after["payments"][0]["receivedDate"], int)
    # The dispatcher signs each with the webhook's secret: HMAC-SHA256 of the exact body.
    row = Delivery.select().where(Delivery.target.is_null(False)).first()
    headers, retry = gf.runtime.targets.headers(row.target_id, row.body.encode())
    want = "sha256=" + hmac.new(hook["secret"].encode(), row.body.encode(), hashlib.sha256).hexdigest()
    assert headers["BTCPay-Sig"] == want == greenfield_signature(hook["secret"], row.body.encode())
    assert retry is True

    # A reorg takes the block away: the invoice is Processing again, and says so.
    node.blocks.pop()
    node.blocks.append(node._hash("block", "reorg"))
    node.txs[txid].block_height = None
    sync.run()
    again = gf.ok("GET", base + "/invoices/" + invoice["id"])
    assert again["status"] == "Processing"
    assert _deliveries()[-1]["type"] == "InvoiceProcessing"

    # Marking: Invalid, with its webhook; marking it Invalid again is refused.
    marked = gf.ok("POST", base + "/invoices/%s/status" % invoice["id"], {"status": "Invalid"})
    assert (marked["status"], marked["additionalStatus"]) == ("Invalid", "Marked")
    last = _deliveries()[-1]
    assert (last["type"], last["manuallyMarked"]) == ("InvoiceInvalid", True)
    twice = gf.post(base + "/invoices/%s/status" % invoice["id"], {"status": "Invalid"})
    assert twice.status_code == 400 and twice.json["code"] == "invoice-invalid-state"
    assert gf.post(base + "/invoices/%s/status" % invoice["id"], {"status": "New"}).status_code == 422


def test_listing_filters_and_pages(gf):
    base = "/api/v1/stores/%s" % gf.store
    made = [
        gf.ok("POST", base + "/invoices", {"amount": "1", "currency": "DOGE", "metadata": {"orderId": o}})
        for o in ("a", "b", "a")
    ]
    listed = gf.ok("GET", base + "/invoices?orderId=a")
    assert [i["id"] for i in listed] == [made[2]["id"], made[0]["id"]]  # newest first
    assert all(i["metadata"]["orderId"] == "a" for i in listed)
    assert len(gf.ok("GET", base + "/invoices?orderId=a&orderId=b")) == 3
    assert [i["id"] for i in gf.ok("GET", base + "/invoices?skip=1&take=1")] == [made[1]["id"]]
    assert gf.ok("GET", base + "/invoices?status=Settled") == []
    assert len(gf.ok("GET", base + "/invoices?status=New")) == 3
    assert [i["id"] for i in gf.ok("GET", base + "/invoices?status=New&skip=1&take=1")] == [made[1]["id"]]
    assert gf.ok("GET", base + "/invoices?endDate=1") == []
    assert [i["id"] for i in gf.ok("GET", base + "/invoices?textSearch=" + made[1]["id"])] == [made[1]["id"]]
    assert len(gf.ok("GET", base + "/invoices?textSearch=b")) == 1  # in the metadata
    assert gf.get(base + "/invoices?status=Paid").status_code == 422
    assert gf.get(base + "/invoices?take=x").status_code == 422


def test_webhook_management(gf):
    base = "/api/v1/stores/%s/webhooks" % gf.store
    body = {
        "url": "http://127.0.0.1:9/hook",
        "authorizedEvents": {"everything": False, "specificEvents": ["InvoiceSettled", "InvoiceExpired"]},
    }
    hook = gf.ok("POST", base, body)
    assert hook["authorizedEvents"] == {"everything": False, "specificEvents": ["InvoiceSettled", "InvoiceExpired"]}
    assert hook["enabled"] is True and hook["automaticRedelivery"] is True
    assert [h["id"] for h in gf.ok("GET", base)] == [hook["id"]]
    secret = DeliveryTarget.get(DeliveryTarget.public_id == hook["id"]).secret
    updated = gf.ok("PUT", base + "/" + hook["id"], {**body, "secret": None, "automaticRedelivery": False})
    assert updated["automaticRedelivery"] is False and "secret" not in updated
    assert DeliveryTarget.get(DeliveryTarget.public_id == hook["id"]).secret == secret  # null keeps it
    # Only the subscribed events are queued: this invoice's creation is not one.
    gf.ok("POST", "/api/v1/stores/%s/invoices" % gf.store, {"amount": "1", "currency": "LTC"})
    assert gf.ok("GET", base + "/%s/deliveries" % hook["id"]) == []
    for bad in (
        {"url": "ftp://x"},
        {"url": "http://127.0.0.1/", "enabled": "yes"},
        {"authorizedEvents": {"everything": False, "specificEvents": ["Nope"]}, "url": "http://127.0.0.1/"},
    ):
        resp = gf.post(base, bad)
        assert resp.status_code == 422 and resp.json[0]["path"], bad
    assert gf.post(base, {"url": "http://93.184.216.34/hook"}).status_code == 200  # public, or allowed...
    private = gf.post(base, {"url": "http://192.168.1.1/hook"})
    assert private.status_code == 422 and private.json[0]["path"] == "url"  # ...the SSRF guard
    assert gf.ok("DELETE", base + "/" + hook["id"]) == {}
    assert gf.get(base + "/" + hook["id"]).status_code == 404


def test_a_webhook_without_automatic_redelivery_is_not_retried(gf):
    """A failed attempt to a Greenfield webhook with automaticRedelivery off fails for good;
    with it on, it is retried on the dispatcher's schedule (a closed loopback port: no answer)."""
    from transient.delivery.dispatcher import Claimed

    base = "/api/v1/stores/%s/webhooks" % gf.store
    dispatcher = gf.runtime.dispatcher
    for redeliver, want in ((True, Delivery.PENDING), (False, Delivery.FAILED)):
        hook = gf.ok("POST", base, {"url": "http://127.0.0.1:9/hook", "automaticRedelivery": redeliver})
        target = DeliveryTarget.get(DeliveryTarget.public_id == hook["id"])
        claimed = Claimed(1, target.url, '{"type":"InvoiceSettled"}', 0, 1, None, "e", "x", target_id=target.id)
        outcome = dispatcher.send(claimed)
        assert outcome.status is None and outcome.retryable  # refused connection
        assert dispatcher._next(outcome, 1, NOW)[0] == want


def test_a_double_spend_makes_the_invoice_invalid_until_paid_again(gf):
    base = "/api/v1/stores/%s" % gf.store
    gf.ok("POST", base + "/webhooks", {"url": "http://127.0.0.1:9/hook"})
    invoice = gf.ok("POST", base + "/invoices", {"amount": "1", "currency": "LTC"})
    (ltc,) = gf.ok("GET", base + "/invoices/%s/payment-methods" % invoice["id"])
    node, sync = gf.runtime.backends["LTC"], gf.runtime.syncers["LTC"]
    txid = node.pay(ltc["destination"], 100_000_000)
    sync.run()
    assert gf.ok("GET", base + "/invoices/" + invoice["id"])["status"] == "Processing"
    node.txs[txid].conflicted = True  # a conflicting transaction won
    node.mine(1)
    sync.run()
    invalid = gf.ok("GET", base + "/invoices/" + invoice["id"])
    assert (invalid["status"], invalid["additionalStatus"]) == ("Invalid", "None")
    last = _deliveries()[-1]
    assert (last["type"], last["manuallyMarked"]) == ("InvoiceInvalid", False)
    (after,) = gf.ok("GET", base + "/invoices/%s/payment-methods" % invoice["id"])
    assert after["payments"][0]["status"] == "Invalid" and after["due"] == "1"
    node.pay(ltc["destination"], 100_000_000)  # the customer pays again
    sync.run()
    assert gf.ok("GET", base + "/invoices/" + invoice["id"])["status"] == "Processing"
    assert _deliveries()[-1]["type"] == "InvoiceProcessing"


def test_our_redelivery_of_a_greenfield_delivery_is_greenfields_own(gf):
    """POST /deliveries/{id}/redeliver (ours) of a Greenfield webhook's delivery queues what
    Greenfield's own redeliver queues: a new deliveryId naming the first, isRedelivery, and
    the row's public id, so the webhook's delivery list shows it and the plugin can tell it apart."""
    base = "/api/v1/stores/%s" % gf.store
    hook = gf.ok("POST", base + "/webhooks", {"url": "http://127.0.0.1:9/hook"})
    gf.ok("POST", base + "/invoices", {"amount": "1", "currency": "LTC"})
    (first,) = Delivery.select().where(Delivery.target.is_null(False))
    resp = gf.client.simulate_post(
        "/deliveries/%d/redeliver" % first.id, headers={"Authorization": "Bearer %s" % gf.key}
    )
    assert resp.status_code == 202, resp.text
    copy = Delivery.get(Delivery.redelivery_of == first.id)
    assert copy.public_id and copy.public_id != first.public_id
    assert (copy.target_id, copy.url, copy.event_id) == (first.target_id, first.url, first.event_id)
    body, was = json.loads(copy.body), json.loads(first.body)
    assert (body["deliveryId"], body["originalDeliveryId"], body["isRedelivery"]) == (
        copy.public_id,
        first.public_id,
        True,
    )
    assert {k: v for k, v in body.items() if k not in ("deliveryId", "isRedelivery", "timestamp")} == {
        k: v for k, v in was.items() if k not in ("deliveryId", "isRedelivery", "timestamp")
    }
    listed = gf.ok("GET", base + "/webhooks/%s/deliveries" % hook["id"])
    assert [d["id"] for d in listed] == [copy.public_id, first.public_id]
    # Greenfield's redeliver of the copy names the same first delivery.
    again = gf.ok("POST", base + "/webhooks/%s/deliveries/%s/redeliver" % (hook["id"], copy.public_id))
    third = Delivery.get(Delivery.public_id == again)
    assert json.loads(third.body)["originalDeliveryId"] == first.public_id


def test_metadata_numbers_are_echoed_as_their_text_and_bounded(gf):
    # Hostile numbers: 1e20000 became a 20 001-digit int that json.dumps refused (a 500
    # after the payment was made, which stayed listed); 1.5e999999 an infinite float that
    # every answer then wrote as Infinity (not JSON). 1e600000 held the GIL for seconds.
    base = "/api/v1/stores/%s" % gf.store
    gf.ok(
        "POST",
        base + "/webhooks",
        {"enabled": True, "url": "http://127.0.0.1:9/hook", "authorizedEvents": {"everything": True}},
    )
    before = (Payment.select().count(), Delivery.select().count())
    for number, path in [
        ("1e20000", "metadata.n"),
        ("1.5e999999", "metadata.n"),
        ("-1e-600000", "metadata.n"),
        ("1" * 45, "metadata.n"),
        ('[1, {"x": 0.%s1}]' % ("0" * 400), "metadata.n[1].x"),
    ]:
        resp = gf.post(base + "/invoices", '{"amount": "1", "currency": "LTC", "metadata": {"n": %s}}' % number)
        assert resp.status_code == 422, (number, resp.status_code, resp.text)
        assert [e["path"] for e in resp.json] == [path]
    assert (Payment.select().count(), Delivery.select().count()) == before  # nothing made for them
    exact = '{"price": 3.20, "big": 12345678901234567890.123456789, "e": 1E+5, "n": -0.000, "i": 10}'
    resp = gf.post(base + "/invoices", '{"amount": "1", "currency": "LTC", "metadata": %s}' % exact)
    assert resp.status_code == 200, resp.text
    wanted = '"metadata": %s' % exact
    assert wanted in resp.text
    invoice_id = resp.json["id"]
    assert wanted in gf.get(base + "/invoices/" + invoice_id).text
    assert wanted in gf.get(base + "/invoices").text
    (sent,) = [d.body for d in Delivery.select().where(Delivery.target.is_null(False))]
    assert wanted.replace(": ", ":").replace(", ", ",") in sent  # the webhook's body too


def test_a_create_only_key_cannot_mark_an_invoice_paid(gf):
    # canmodifyinvoices was granted by payments:create: a key made to create invoices
    # marked an unpaid one Settled, and InvoiceSettled (goods ship) was queued.
    base = "/api/v1/stores/%s" % gf.store
    _, creator = gf.runtime.key_store.create(["payments:create", "payments:read"], "creator")
    invoice = gf.ok("POST", base + "/invoices", {"amount": "1", "currency": "LTC"})
    queued = Delivery.select().count()
    denied = gf.post(base + "/invoices/%s/status" % invoice["id"], {"status": "Settled"}, key=creator)
    assert denied.status_code == 403 and denied.json["missingPermission"] == shapes.MODIFY_INVOICES
    assert gf.ok("GET", base + "/invoices/" + invoice["id"])["status"] == "New"
    assert Delivery.select().count() == queued
    current = gf.get("/api/v1/api-keys/current", key=creator).json
    assert not any(p.startswith(shapes.MODIFY_INVOICES) for p in current["permissions"])
    _, marker = gf.runtime.key_store.create(["payments:mark"], "marker")
    marked = gf.post(base + "/invoices/%s/status" % invoice["id"], {"status": "Settled"}, key=marker)
    assert marked.status_code == 200 and marked.json["status"] == "Settled"


def test_numbers_and_dates_the_native_api_refuses_are_422_here_too(gf):
    base = "/api/v1/stores/%s" % gf.store
    before = Payment.select().count()
    for amount in ("1_000", "١", "１", "1.5\u0660", " 1 000"):
        resp = gf.post(base + "/invoices", {"amount": amount, "currency": "LTC"})
        assert resp.status_code == 422 and [e["path"] for e in resp.json] == ["amount"], (amount, resp.text)
        tolerance = gf.post(
            base + "/invoices", {"amount": "1", "currency": "LTC", "checkout": {"paymentTolerance": amount}}
        )
        assert tolerance.status_code == 422, (amount, tolerance.text)
    assert Payment.select().count() == before
    # A date past year 9999 overflowed datetime: a 500.
    for query in ("startDate=999999999999", "endDate=999999999999", "startDate=253402300800"):
        resp = gf.get(base + "/invoices?" + query)
        assert resp.status_code == 422 and resp.json[0]["path"] in ("startDate", "endDate"), (query, resp.text)
    assert gf.get(base + "/invoices?startDate=0&endDate=253402300799").status_code == 200


def test_a_store_has_at_most_max_webhooks(tmp_path, greenfield_url):
    # 2 000 webhooks made every invoice's create 0.2 s and 2 000 deliveries.
    client, runtime = greenfield_runtime(tmp_path, greenfield_url, "max_webhooks = 3\n")
    try:
        _, key = runtime.key_store.create(list(shapes.PLUGIN_SCOPES), "WooCommerce")
        api = Api(client, key)
        base = "/api/v1/stores/%s/webhooks" % api.get("/api/v1/stores").json[0]["id"]
        hook = {"url": "https://93.184.216.34/hook"}
        made = [api.ok("POST", base, hook) for _ in range(3)]
        over = api.post(base, hook)
        assert over.status_code == 400 and over.json["code"] == "webhook-limit", over.text
        assert "max_webhooks" in over.json["message"]
        assert len(api.ok("GET", base)) == 3
        api.ok("DELETE", base + "/" + made[0]["id"])
        api.ok("POST", base, hook)  # room again
    finally:
        runtime.close()


# -- refunds: pull payments and payouts (§3.11-3.12) -----------------------------------

WOO_REFUND = {
    "name": "Refund of order 77; damaged item",
    "description": None,
    "amount": "0.25",
    "currency": "LTC",
    "period": None,
    "BOLT11Expiration": None,
    "autoApproveClaims": False,
    "startsAt": None,
    "expiresAt": None,
    "paymentMethods": ["BTC_CHAIN", "LTC_LN", "LTC_CHAIN"],
    "payoutMethods": ["BTC_CHAIN", "LTC_LN", "LTC_CHAIN"],
}


def test_the_plugins_refund_claimed_approved_and_marked_paid(gf):
    from transient.store.models import Delivery, Event
    from transient.store.payouts import Payout, PullPayment

    hook = gf.ok(
        "POST",
        "/api/v1/stores/%s/webhooks" % gf.store,
        {
            "url": "http://127.0.0.1:9/hook",
            "authorizedEvents": {
                "everything": False,
                "specificEvents": ["PayoutCreated", "PayoutApproved", "PayoutUpdated"],
            },
        },
    )
    current = gf.ok("GET", "/api/v1/api-keys/current")
    assert "%s:%s" % (shapes.PULL_PAYMENTS, gf.store) in current["permissions"]  # the refund button is on
    assert plugin_accepts(current["permissions"])
    assert gf.ok("GET", "/api/v1/server/info")["version"] >= "1.7.6"
    base = "/api/v1/stores/%s" % gf.store
    pull = gf.ok("POST", base + "/pull-payments", WOO_REFUND)  # BTC_CHAIN and LTC_LN are not offered: ignored
    assert isinstance(pull["id"], str) and pull["viewLink"].endswith("/claim/%s" % pull["id"])
    assert (pull["amount"], pull["currency"], pull["description"], pull["period"], pull["BOLT11Expiration"]) == (
        "0.25",
        "LTC",
        "",
        0,
        30,
    )
    assert pull["archived"] is False
    assert gf.ok("GET", "/api/v1/pull-payments/%s" % pull["id"])["id"] == pull["id"]  # public: the link
    backend = gf.runtime.backends["LTC"]
    claim = "/api/v1/pull-payments/%s/payouts" % pull["id"]
    # Hostile claims: another network's address, more than remains, garbage: a 4xx, nothing written.
    for body, path in (
        ({"destination": "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "amount": "0.1"}, "destination"),
        ({"destination": backend.new_address(), "amount": "0.25000001"}, "amount"),
        ({"destination": backend.new_address(), "amount": "-1"}, "amount"),
        ({"destination": backend.new_address(), "amount": "1e999"}, "amount"),
        ({"destination": backend.new_address(), "payoutMethodId": "DOGE-CHAIN"}, "payoutMethodId"),
    ):
        bad = gf.call("POST", claim, body, auth=" ")
        assert bad.status_code == 422 and bad.json[0]["path"] == path, (body, bad.text)
    assert Payout.select().count() == 0
    address = backend.new_address()
    payout = gf.ok(
        "POST",
        claim,
        {"destination": address, "amount": "0.2", "paymentMethod": "LTC-CHAIN", "payoutMethodId": "LTC-CHAIN"},
    )
    assert (payout["state"], payout["amount"], payout["destination"], payout["cryptoCode"]) == (
        "AwaitingApproval",
        "0.2",
        address,
        "LTC",
    )
    assert isinstance(payout["revision"], int) and isinstance(payout["date"], str)
    over = gf.call("POST", claim, {"destination": backend.new_address(), "amount": "0.06"})
    assert over.status_code == 422 and over.json[0]["path"] == "amount"  # 0.05 remains
    listed = gf.ok("GET", claim)
    assert [p["id"] for p in listed] == [payout["id"]]
    # The merchant approves with the current revision (a stale one is refused), then marks it paid.
    woo = gf.call("POST", base + "/payouts/%s" % payout["id"], {"revision": payout["revision"]})
    assert woo.status_code == 403  # the plugin's key creates refunds; it does not approve them
    key_row, merchant = gf.runtime.key_store.create(["payouts:approve", "payouts:read", "payments:read"], "merchant")
    stale = gf.call(
        "POST",
        base + "/payouts/%s" % payout["id"],
        {"revision": payout["revision"] + 1, "rateRule": None},
        key=merchant,
    )
    assert stale.status_code == 409
    approved = gf.call("POST", base + "/payouts/%s" % payout["id"], {"revision": payout["revision"]}, key=merchant)
    assert approved.status_code == 200 and approved.json["state"] == "AwaitingPayment"
    assert Payout.get_by_id(payout["id"]).approved_by == "api-key:%s" % key_row.public_id  # the report's column
    assert [p["id"] for p in gf.call("GET", base + "/payouts", key=merchant).json] == [payout["id"]]
    assert gf.call("POST", base + "/payouts/%s/mark-paid" % payout["id"], key=merchant).status_code == 200
    assert gf.ok("GET", claim)[0]["state"] == "Completed"
    types = [e.type for e in Event.select().where(Event.payout_id == payout["id"]).order_by(Event.sequence)]
    assert types == ["payout.created", "payout.approved", "payout.updated"]
    sent = [json.loads(d.body) for d in Delivery.select().where(Delivery.target.is_null(False)).order_by(Delivery.id)]
    assert [(b["type"], b["payoutState"]) for b in sent] == [
        ("PayoutCreated", "AwaitingApproval"),
        ("PayoutApproved", "AwaitingPayment"),
        ("PayoutUpdated", "Completed"),
    ]
    assert {(b["webhookId"], b["storeId"], b["payoutId"], b["pullPaymentId"]) for b in sent} == {
        (hook["id"], gf.store, payout["id"], pull["id"])
    }
    # Archived: no more claims.
    assert gf.call("DELETE", base + "/pull-payments/%s" % pull["id"]).status_code == 200
    late = gf.call("POST", claim, {"destination": backend.new_address(), "amount": "0.01"})
    assert late.status_code == 409 and PullPayment.get_by_id(pull["id"]).claimed == 20_000_000
    none = dict(WOO_REFUND, paymentMethods=["BTC_CHAIN", "BTC_LN"], payoutMethods=["BTC_CHAIN", "BTC_LN"])
    refused = gf.call("POST", base + "/pull-payments", none)
    assert refused.status_code == 422 and refused.json[0]["path"] == "payoutMethods"


def test_invoice_ninjas_refund_of_an_invoice(gf):
    from transient.store.payouts import PullPayment

    base = "/api/v1/stores/%s" % gf.store
    invoice = gf.ok("POST", base + "/invoices", {"amount": "1", "currency": "LTC"})
    method = gf.ok("GET", base + "/invoices/%s/payment-methods" % invoice["id"])
    ltc = next(m for m in method if m["paymentMethodId"] == "LTC-CHAIN")
    backend = gf.runtime.backends["LTC"]
    backend.pay(ltc["destination"], 130_000_000)  # 0.3 LTC over
    backend.mine()
    gf.runtime.syncers["LTC"].run()
    body = {
        "name": None,
        "description": None,
        "paymentMethod": "LTC",
        "refundVariant": "OverpaidAmount",
        "subtractPercentage": 0,
        "customAmount": None,
        "customCurrency": None,
    }
    refund = gf.ok("POST", base + "/invoices/%s/refund" % invoice["id"], body)
    assert refund["amount"] == "0.3" and refund["currency"] == "LTC"
    ten = gf.ok(
        "POST",
        base + "/invoices/%s/refund" % invoice["id"],
        dict(body, refundVariant="RateThen", subtractPercentage=12.5),
    )
    assert ten["amount"] == "0.875"
    custom = gf.ok(
        "POST",
        base + "/invoices/%s/refund" % invoice["id"],
        dict(body, refundVariant="Custom", customAmount="0.12345678", customCurrency="LTC"),
    )
    assert custom["amount"] == "0.12345678"
    for bad, path in (
        (dict(body, refundVariant="Everything"), "refundVariant"),
        (dict(body, subtractPercentage=101), "subtractPercentage"),
        (dict(body, paymentMethod="XMR"), "paymentMethod"),
    ):
        resp = gf.call("POST", base + "/invoices/%s/refund" % invoice["id"], bad)
        assert resp.status_code == 422 and resp.json[0]["path"] == path, resp.text
    assert gf.call("POST", base + "/invoices/nope/refund", body).status_code == 404
    assert PullPayment.select().count() == 3


def test_one_error_mapping_answers_each_api_in_its_own_shape(gf):
    """The app maps errors once (api.errors.ErrorShapes): Greenfield's shape under /api/v1/,
    ours elsewhere, for the domain's errors and for Falcon's own (415, 413) alike."""
    auth = {"Authorization": "Bearer %s" % gf.key, "Content-Type": "text/plain"}
    ours = gf.client.simulate_post("/payments", headers=auth, body="{}")
    assert ours.status_code == 415 and ours.json["success"] is False and ours.json["error"]["code"]
    theirs = gf.client.simulate_post("/api/v1/stores/%s/invoices" % gf.store, headers=auth, body="{}")
    assert theirs.status_code == 415 and theirs.json == {
        "code": "unsupported-media-type",
        "message": "send the body as application/json",
    }
    big = gf.post("/api/v1/stores/%s/invoices" % gf.store, {"metadata": {"x": "y" * 70000}})
    assert big.status_code == 413 and big.json["code"] == "content-too-large"
    unknown = gf.get("/payments/nope", key=None, auth="Bearer %s" % gf.key)
    assert unknown.status_code == 404 and unknown.json["success"] is False
    assert gf.get("/api/v1/stores/%s/invoices/nope" % gf.store).json == {
        "code": "invoice-not-found",
        "message": "The invoice was not found",
    }


def test_an_invoice_and_its_payments_are_written_in_one_transaction(gf):
    """An invoice that cannot be written (here its id is taken) leaves none of its payments,
    their events or deliveries behind: they are stored in the invoice's transaction."""
    from peewee import IntegrityError

    from transient.store.models import Event, Invoice

    base = "/api/v1/stores/%s" % gf.store
    gf.ok("POST", base + "/webhooks", {"url": "http://127.0.0.1:9/hook"})
    taken = gf.ok("POST", base + "/invoices", {"amount": "1", "currency": "LTC"})["id"]
    counts = [m.select().count() for m in (Payment, Event, Delivery, Invoice)]
    service = gf.runtime.greenfield
    service.idgen = lambda: taken
    body = {"amount": "1", "currency": "LTC", "checkout": {"paymentMethods": ["LTC", "DOGE"]}}
    with pytest.raises(IntegrityError):
        service.create(gf.store, body)
    assert [m.select().count() for m in (Payment, Event, Delivery, Invoice)] == counts


def test_lists_filter_on_the_status_the_projection_keeps(gf):
    """The status a list filters on (in SQL) is the one the projection stored at each payment
    event, the same the status rule gives from the payments; the clock alone moves New to
    Expired at expiresAt, which lists and reads both see."""
    from transient.greenfield.projection import payments_of, state_of
    from transient.store.models import Invoice

    base = "/api/v1/stores/%s" % gf.store
    new, paid, marked, late = (gf.ok("POST", base + "/invoices", {"amount": "1", "currency": "LTC"}) for _ in range(4))
    (ltc,) = gf.ok("GET", base + "/invoices/%s/payment-methods" % paid["id"])
    gf.runtime.backends["LTC"].pay(ltc["destination"], 100_000_000)
    gf.runtime.syncers["LTC"].run()
    gf.ok("POST", base + "/invoices/%s/status" % marked["id"], {"status": "Invalid"})
    Invoice.update(expires_at=datetime.datetime(2000, 1, 1)).where(Invoice.id == late["id"]).execute()
    stored = {i.id: (i.status, i.additional_status) for i in Invoice.select()}
    assert stored[paid["id"]] == ("Processing", "None") and stored[late["id"]] == ("New", "None")

    def listed(*statuses):
        query = "&".join("status=" + s for s in statuses)
        return [i["id"] for i in gf.ok("GET", base + "/invoices?" + query)]

    assert listed("New") == [new["id"]]
    assert listed("Processing") == [paid["id"]]
    assert listed("Invalid") == [marked["id"]]
    assert listed("Expired") == [late["id"]]  # New past its expiry, though stored as New
    assert listed("Expired", "New", "Settled") == [late["id"], new["id"]]
    assert gf.ok("GET", base + "/invoices/" + late["id"])["status"] == "Expired"
    now = datetime.datetime.utcnow()
    for invoice in Invoice.select().where(Invoice.id != late["id"]):
        payments = payments_of([invoice.id])[invoice.id]
        assert state_of(invoice, payments, now) == stored[invoice.id], invoice.id  # kept true
