"""Greenfield conformance: a client of BTCPay's Greenfield API (as the WooCommerce plugin
and the PHP client call it, /work's greenfield-SPEC) against ONE transientd on the
litecoind regtest node, shared by the module's tests (they use their own invoices).

The shop is a real HTTP server on loopback: it checks each webhook's BTCPay-Sig with the
secret the server returned at registration and, like the plugin, calls back into the API
(the invoice's payment-methods) before it answers. Prices in USD come from the exchange
stand-in (tests/_exchange.py). Also here: issue 15's point, a payment created by the CLI
with a bare environment is delivered to the daemon's webhook."""

import hashlib
import hmac
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler

import pytest
import requests
from _cli import as_json, run
from _daemon import Daemon, coin_config, wait_for
from _exchange import Exchange
from _http import close, serve
from _receiver import Receiver

from transient.devnet.node import find_free_port

pytestmark = pytest.mark.regtest

PLUGIN_EVENTS = [
    "InvoiceReceivedPayment",
    "InvoicePaymentSettled",
    "InvoiceProcessing",
    "InvoiceExpired",
    "InvoiceSettled",
    "InvoiceInvalid",
]
REQUIRED = {
    "btcpay.store.canviewinvoices",
    "btcpay.store.cancreateinvoice",
    "btcpay.store.canviewstoresettings",
    "btcpay.store.canmodifyinvoices",
}
OPTIONAL = {"btcpay.store.cancreatenonapprovedpullpayments", "btcpay.store.webhooks.canmodifywebhooks"}


class Shop:
    """A WooCommerce-like webhook endpoint: verifies BTCPay-Sig, calls back, answers 200."""

    path = "/wc-api/btcpaygf_default/"

    def __init__(self):
        self.port = find_free_port()
        self.secret = None
        self.api = None  # (base url, store id, key): set once the key is made
        self.events = []  # (payload, signature ok, callback status)
        self.lock = threading.Lock()
        self.server = None

    @property
    def url(self):
        return "http://127.0.0.1:%d%s" % (self.port, self.path)

    def start(self):
        shop = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sig = {k.lower(): v for k, v in self.headers.items()}.get("btcpay-sig", "")
                want = "sha256=" + hmac.new((shop.secret or "").encode(), body, hashlib.sha256).hexdigest()
                payload = json.loads(body)
                callback = None
                if payload["type"] in ("InvoiceReceivedPayment", "InvoicePaymentSettled", "InvoiceSettled"):
                    base, store, key = shop.api
                    callback = requests.get(
                        "%s/api/v1/stores/%s/invoices/%s/payment-methods" % (base, store, payload["invoiceId"]),
                        headers={"Authorization": "token " + key},
                        timeout=10,
                    ).status_code
                with shop.lock:
                    shop.events.append((payload, hmac.compare_digest(sig, want), callback))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = serve(self.port, Handler)
        return self

    def stop(self):
        close(self.server)

    def of(self, invoice_id, type=None):
        with self.lock:
            return [
                e for e in self.events if e[0]["invoiceId"] == invoice_id and (type is None or e[0]["type"] == type)
            ]

    def wait(self, invoice_id, type, count=1, timeout=40):
        return wait_for(lambda: len(self.of(invoice_id, type)) >= count and self.of(invoice_id, type), timeout)


class Client:
    """Greenfield calls as the PHP client makes them."""

    def __init__(self, base, key):
        self.base, self.key = base, key
        self.http = requests.Session()

    def call(self, method, path, body=None, key=None, auth=None):
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        headers["Authorization"] = auth if auth is not None else "token " + (key or self.key)
        data = None if body is None else json.dumps(body)
        return self.http.request(
            method, self.base + "/api/v1" + path, data=data, headers=headers, timeout=30, allow_redirects=False
        )

    def ok(self, method, path, body=None):
        resp = self.call(method, path, body)
        assert resp.status_code == 200, (method, path, resp.status_code, resp.text)  # exactly 200
        assert resp.headers["Content-Type"].startswith("application/json")
        return resp.json()


@pytest.fixture(scope="module")
def gf(tmp_path_factory, regtest):
    work = tmp_path_factory.mktemp("greenfield")
    exchange = Exchange().start()
    for name, price in (("kraken", "80.10"), ("coinbase", "80.20"), ("bitstamp", "80.40")):
        exchange.set("LTC/USD", price, only=[name])
    plain, shop = Receiver().start(), Shop().start()
    wallet = regtest.create_wallet("gf_" + uuid.uuid4().hex[:8])
    rates = '[rates]\nfiat = ["USD"]\nrefresh_interval = 1\nmax_age = 120\n' + "".join(
        '[rates.%s]\nurl = "%s"\n' % (n, exchange.url(n)) for n in ("kraken", "coinbase", "bitstamp")
    )
    extra = (
        rates + '[webhook]\nurl = "%s"\nallowed_networks = ["127.0.0.0/8"]\nretry_schedule = ["1s", "1s", "2s"]\n'
        '[greenfield]\nstore_name = "Test shop"\n' % plain.url
    )
    db_url = "sqlite:///%s" % (work / "gf.db")
    coins = coin_config(regtest, wallet, poll=1, confirmations=1)
    daemon = Daemon(str(work), db_url, coins, extra=extra, log_level="INFO")
    try:
        daemon.start()
        made = as_json(run("--json", "keys", "create", "--greenfield", "--config", daemon.config_path, cwd=str(work)))
        shop.api = (daemon.base, made["store_id"], made["key"])
        ns = type("GF", (), {})()
        ns.daemon, ns.regtest, ns.shop, ns.plain, ns.work = daemon, regtest, shop, plain, work
        ns.made, ns.store, ns.client = made, made["store_id"], Client(daemon.base, made["key"])
        ns.bare = (db_url, coins)
        yield ns
    finally:
        daemon.kill()
        exchange.stop()
        plain.stop()
        shop.stop()


def is_money(value):
    return isinstance(value, str) and value.replace(".", "", 1).isdigit()


def check_invoice(inv, store):
    """The types the clients insist on (§3.5)."""
    assert isinstance(inv["id"], str) and inv["storeId"] == store
    assert is_money(inv["amount"]) and isinstance(inv["currency"], str)
    assert inv["status"] in ("New", "Processing", "Settled", "Expired", "Invalid")
    assert inv["additionalStatus"] in ("None", "PaidLate", "PaidPartial", "PaidOver", "Marked", "Invalid")
    for key in ("createdTime", "expirationTime", "monitoringExpiration"):
        assert isinstance(inv[key], int) and not isinstance(inv[key], bool), key
    assert inv["checkoutLink"].startswith("http://127.0.0.1:") and "/i/" + inv["id"] in inv["checkoutLink"]
    assert isinstance(inv["checkout"]["paymentMethods"], list) and isinstance(inv["metadata"], dict)
    assert inv["type"] == "Standard" and inv["archived"] is False
    assert isinstance(inv["availableStatusesForManualMarking"], list)


def check_method(m):
    """§3.8's types."""
    for key in ("destination", "rate", "paymentMethodPaid", "totalPaid", "due", "amount", "paymentMethodFee"):
        assert isinstance(m[key], str), key
    assert isinstance(m["paymentMethodId"], str) and isinstance(m["payments"], list)
    for p in m["payments"]:
        assert isinstance(p["id"], str) and "-" in p["id"] and isinstance(p["receivedDate"], int)
        assert is_money(p["value"]) and p["fee"] == "0" and p["destination"] == m["destination"]
        assert p["status"] in ("Invalid", "Processing", "Settled")


def test_the_key_check_of_the_plugin(gf):
    c = gf.client
    info = wait_for(lambda: (lambda i: i if i["fullySynched"] else None)(c.ok("GET", "/server/info")), timeout=30)
    assert info["version"] >= "1.7.6" and info["onion"] is None
    assert info["syncStatus"][0]["paymentMethodId"] == "LTC-CHAIN" and info["syncStatus"][0]["available"] is True
    current = c.ok("GET", "/api-keys/current")
    split = [p.split(":") for p in current["permissions"]]
    assert all(len(s) == 2 and s[1] == gf.store for s in split)
    assert {s[0] for s in split} - OPTIONAL == REQUIRED
    assert isinstance(current["apiKey"], str) and current["label"] == "WooCommerce"
    assert gf.made["key"] not in json.dumps(current)
    stores = c.ok("GET", "/stores")
    assert [s["id"] for s in stores] == [gf.store] and stores[0]["name"] == "Test shop"
    store = c.ok("GET", "/stores/%s" % gf.store)
    assert (store["id"], store["name"], store["invoiceExpiration"]) == (gf.store, "Test shop", 900)
    methods = c.ok("GET", "/stores/%s/payment-methods?includeConfig=true" % gf.store)
    assert [(m["paymentMethodId"], m["enabled"]) for m in methods] == [("LTC-CHAIN", True)]


def test_each_error_shape(gf):
    c = gf.client
    for auth in ("", "token wrong", "Basic dXNlcjpwYXNz"):
        resp = c.call("GET", "/stores", auth=auth)
        assert resp.status_code == 401 and resp.json()["code"] == "unauthenticated", auth
    reader = as_json(run("--json", "keys", "create", "--scope", "payments:read", "--config", gf.daemon.config_path))
    denied = c.call("POST", "/stores/%s/invoices" % gf.store, {"amount": "1", "currency": "LTC"}, key=reader["key"])
    assert denied.status_code == 403
    assert denied.json()["code"] == "missing-permission"
    assert denied.json()["missingPermission"] == "btcpay.store.cancreateinvoice"
    unknown = c.call("GET", "/stores/%s/invoices/nope" % gf.store)
    assert unknown.status_code == 404 and unknown.json()["code"] == "invoice-not-found"
    assert c.call("GET", "/stores/other/invoices").status_code == 404
    bad = c.call("POST", "/stores/%s/invoices" % gf.store, {"amount": "abc", "currency": "LTC", "checkout": None})
    assert bad.status_code == 422 and bad.json() == [
        {"path": "amount", "message": 'must be a decimal number, e.g. "1.5"'}
    ]
    assert c.call("GET", "/stores/").status_code == 200  # no redirect on a trailing slash
    refund = c.call("POST", "/stores/%s/pull-payments" % gf.store, {"amount": "1", "currency": "USD"})
    assert refund.status_code == 200, refund.text  # refunds are on (issue 27): 1 USD at the market rate
    assert (refund.json()["currency"], refund.json()["amount"]) == ("USD", "1") and refund.json()["viewLink"]
    wizard = requests.get(gf.daemon.base + "/api-keys/authorize?permissions=x", timeout=10)
    assert wizard.status_code == 404 and "--greenfield" in wizard.text


def test_the_woocommerce_flow_in_usd_paid_in_ltc(gf):
    c, shop = gf.client, gf.shop
    hook = c.ok(
        "POST",
        "/stores/%s/webhooks" % gf.store,
        {
            "enabled": True,
            "automaticRedelivery": True,
            "url": shop.url,
            "authorizedEvents": {"everything": False, "specificEvents": PLUGIN_EVENTS},
        },
    )
    assert isinstance(hook["id"], str) and hook["url"] == shop.url and isinstance(hook["secret"], str)
    shop.secret, gf.hook = hook["secret"], hook
    got = c.ok("GET", "/stores/%s/webhooks/%s" % (gf.store, hook["id"]))
    assert got["id"] == hook["id"] and shop.url in got["url"] and "secret" not in got

    body = {
        "amount": "16.03",
        "currency": "USD",
        "metadata": {"taxIncluded": "1.20", "posData": '{"WooCommerce":{"Order ID":77}}', "orderId": "77"},
        "checkout": {
            "speedPolicy": None,
            "paymentMethods": ["LTC_CHAIN"],
            "expirationMinutes": None,
            "monitoringMinutes": None,
            "paymentTolerance": None,
            "redirectURL": "http://127.0.0.1/checkout/order-received/77/",
            "redirectAutomatically": None,
            "defaultLanguage": None,
        },
    }
    invoice = wait_for(
        lambda: (lambda r: r.status_code == 200 and r.json())(c.call("POST", "/stores/%s/invoices" % gf.store, body)),
        timeout=30,
    )
    check_invoice(invoice, gf.store)
    assert (invoice["status"], invoice["amount"], invoice["currency"]) == ("New", "16.03", "USD")
    assert invoice["metadata"] == body["metadata"] and invoice["checkout"]["paymentMethods"] == ["LTC-CHAIN"]
    assert c.ok("GET", "/stores/%s/invoices/%s" % (gf.store, invoice["id"]))["id"] == invoice["id"]
    page = requests.get(invoice["checkoutLink"], allow_redirects=False, timeout=10)
    assert page.status_code == 303 and page.headers["Location"].startswith("/pay/")
    assert requests.get(gf.daemon.base + page.headers["Location"], timeout=10).status_code == 200
    (ltc,) = c.ok("GET", "/stores/%s/invoices/%s/payment-methods" % (gf.store, invoice["id"]))
    check_method(ltc)
    assert ltc["rate"] == "80.2" and ltc["due"] == ltc["amount"] == "0.19987532"  # 16.03 / 80.2, rounded up
    assert ltc["paymentLink"] == "litecoin:%s?amount=0.19987532" % ltc["destination"]

    txid = gf.regtest.pay(ltc["destination"], ltc["due"])
    (received,) = shop.wait(invoice["id"], "InvoiceReceivedPayment")
    payload, signed, callback = received
    assert signed and callback == 200  # the shop called back into the API while handling it
    assert payload["afterExpiration"] is False and payload["paymentMethodId"] == "LTC-CHAIN"
    assert payload["payment"]["id"].split("-")[0] == txid and payload["payment"]["value"] == "0.19987532"
    assert payload["metadata"]["orderId"] == "77" and payload["storeId"] == gf.store
    shop.wait(invoice["id"], "InvoiceProcessing")
    gf.regtest.mine(1)
    shop.wait(invoice["id"], "InvoiceSettled")
    events = shop.of(invoice["id"])
    assert [e[0]["type"] for e in events] == [
        "InvoiceReceivedPayment",
        "InvoiceProcessing",
        "InvoicePaymentSettled",
        "InvoiceSettled",
    ]
    assert all(signed for _, signed, _ in events)
    settled = events[-1][0]
    assert settled["overPaid"] is False and settled["manuallyMarked"] is False
    inv = c.ok("GET", "/stores/%s/invoices/%s" % (gf.store, invoice["id"]))
    assert (inv["status"], inv["additionalStatus"]) == ("Settled", "None")
    (after,) = c.ok("GET", "/stores/%s/invoices/%s/payment-methods" % (gf.store, invoice["id"]))
    check_method(after)
    assert (after["paymentMethodPaid"], after["due"], after["payments"][0]["status"]) == ("0.19987532", "0", "Settled")
    listed = c.ok("GET", "/stores/%s/invoices?orderId=77" % gf.store)
    assert [i["id"] for i in listed] == [invoice["id"]] and listed[0]["status"] == "Settled"
    assert c.ok("GET", "/stores/%s/invoices?orderId=77&status=Expired" % gf.store) == []


def test_an_expiry_then_a_late_payment(gf):
    c, shop = gf.client, gf.shop
    invoice = c.ok(
        "POST",
        "/stores/%s/invoices" % gf.store,
        {"amount": "0.05", "currency": "LTC", "metadata": {"orderId": "late"}, "checkout": {"expirationMinutes": 0.05}},
    )
    check_invoice(invoice, gf.store)
    assert invoice["expirationTime"] - invoice["createdTime"] == 3
    ((expired, signed, _),) = shop.wait(invoice["id"], "InvoiceExpired")
    assert signed and expired["partiallyPaid"] is False
    assert c.ok("GET", "/stores/%s/invoices/%s" % (gf.store, invoice["id"]))["status"] == "Expired"
    (ltc,) = c.ok("GET", "/stores/%s/invoices/%s/payment-methods" % (gf.store, invoice["id"]))
    gf.regtest.pay(ltc["destination"], "0.05")
    ((late, _, _),) = shop.wait(invoice["id"], "InvoiceReceivedPayment")
    assert late["afterExpiration"] is True  # the plugin: "expired, paid partially/late"
    gf.regtest.mine(1)
    shop.wait(invoice["id"], "InvoicePaymentSettled")
    shop.wait(invoice["id"], "InvoiceSettled")
    inv = c.ok("GET", "/stores/%s/invoices/%s" % (gf.store, invoice["id"]))
    assert (inv["status"], inv["additionalStatus"]) == ("Settled", "PaidLate")  # credited, never lost


def test_mark_invalid(gf):
    c, shop = gf.client, gf.shop
    invoice = c.ok("POST", "/stores/%s/invoices" % gf.store, {"amount": "0.01", "currency": "LTC"})
    marked = c.ok("POST", "/stores/%s/invoices/%s/status" % (gf.store, invoice["id"]), {"status": "Invalid"})
    check_invoice(marked, gf.store)
    assert (marked["status"], marked["additionalStatus"]) == ("Invalid", "Marked")
    ((payload, signed, _),) = shop.wait(invoice["id"], "InvoiceInvalid")
    assert signed and payload["manuallyMarked"] is True
    again = c.call("POST", "/stores/%s/invoices/%s/status" % (gf.store, invoice["id"]), {"status": "Invalid"})
    assert again.status_code == 400 and again.json()["code"] == "invoice-invalid-state"


def test_webhook_deliveries_redelivery_update_delete(gf):
    c, shop, hook = gf.client, gf.shop, gf.hook
    base = "/stores/%s/webhooks/%s" % (gf.store, hook["id"])
    assert [h["id"] for h in c.ok("GET", "/stores/%s/webhooks" % gf.store)] == [hook["id"]]
    deliveries = c.ok("GET", base + "/deliveries?count=50")
    assert deliveries and all(d["status"] == "HttpSuccess" and d["httpCode"] == 200 for d in deliveries)
    first = deliveries[-1]
    assert isinstance(first["timestamp"], int) and isinstance(first["errorMessage"], str)
    assert c.ok("GET", base + "/deliveries/%s" % first["id"])["id"] == first["id"]
    sent = c.ok("GET", base + "/deliveries/%s/request" % first["id"])
    assert sent["deliveryId"] == first["id"]
    new_id = c.ok("POST", base + "/deliveries/%s/redeliver" % first["id"])
    assert isinstance(new_id, str) and new_id != first["id"]
    redelivered = wait_for(lambda: [e for e in shop.events if e[0]["deliveryId"] == new_id], timeout=30)
    payload, signed, _ = redelivered[0]
    assert signed and payload["isRedelivery"] is True and payload["originalDeliveryId"] == first["id"]
    updated = c.ok("PUT", base, {"url": shop.url, "secret": None, "enabled": True, "authorizedEvents": None})
    assert updated["authorizedEvents"] == {"everything": True, "specificEvents": []}
    assert c.ok("DELETE", base) == {} and c.call("GET", base).status_code == 404


def test_a_payment_made_by_a_bare_cli_is_delivered_by_the_daemon(gf):
    """Issue 15: the CLI's environment has no [webhook] url; the daemon's target is in the database."""
    db_url, coins = gf.bare
    bare = gf.work / "bare.toml"
    # Only where the daemon listens (the CLI checks that it runs) and the shared database.
    bare.write_text('[server]\nbind = "127.0.0.1:%d"\n[database]\nurl = "%s"\n%s' % (gf.daemon.port, db_url, coins))
    created = as_json(
        run("--json", "payments", "create", "--currency", "LTC", "--amount", "0.01", "--config", str(bare))
    )
    got = wait_for(lambda: [r for r in gf.plain.requests if r.json["payment_id"] == created["id"]], timeout=30)
    assert got[0].json["event"]["type"] == "payment.created"
