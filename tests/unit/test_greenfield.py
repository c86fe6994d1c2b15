"""Greenfield (BTCPay API v1) without a node: the pure rules (statuses, method ids,
permissions, reading a request), the invoice page, the delivery targets kept in the
database (issue 15), and the API cases of tests/_greenfield_cases.py on SQLite. The node
and a real daemon: tests/e2e/test_greenfield_conformance.py."""

import datetime
import json

import pytest
from _greenfield_cases import *  # noqa: F401,F403  (the API cases, on SQLite here)
from _greenfield_cases import plugin_accepts
from fakes import fake_runtime

from transient.core import status as st
from transient.greenfield import shapes
from transient.greenfield.reading import read_request
from transient.store.models import Delivery

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0)
LATER = NOW + datetime.timedelta(minutes=15)


def paid(status, amount=100, received=0, pending=0, need=None):
    return shapes.Paid(status, amount, received, pending, amount if need is None else need)


# -- the pure rules ---------------------------------------------------------------


@pytest.mark.parametrize(
    "payments, now, marked, want",
    [
        ([paid(st.UNPAID)], NOW, None, ("New", "None")),
        ([paid(st.UNDERPAID, received=40, pending=40)], NOW, None, ("New", "PaidPartial")),
        ([paid(st.PENDING, received=100, pending=100)], NOW, None, ("Processing", "None")),
        ([paid(st.PENDING, received=130, pending=130)], NOW, None, ("Processing", "PaidOver")),
        ([paid(st.PAID, received=100)], NOW, None, ("Settled", "None")),
        ([paid(st.OVERPAID, received=120)], NOW, None, ("Settled", "PaidOver")),
        # Whichever method is paid settles the invoice.
        ([paid(st.UNPAID), paid(st.PAID, received=100)], NOW, None, ("Settled", "None")),
        ([paid(st.EXPIRED)], LATER, None, ("Expired", "None")),
        ([paid(st.EXPIRED, received=30)], LATER, None, ("Expired", "PaidPartial")),
        # Time alone expires it, before the coin's sync has expired the payment.
        ([paid(st.UNPAID)], LATER, None, ("Expired", "None")),
        # Late funds: seen after expiry, then confirmed.
        ([paid(st.EXPIRED, received=100, pending=100)], LATER, None, ("Expired", "PaidLate")),
        ([paid(st.EXPIRED, received=100)], LATER, None, ("Settled", "PaidLate")),
        # A reorg reverts the confirmations: the invoice is Processing again (or New).
        ([paid(st.PENDING, received=100, pending=100)], NOW, None, ("Processing", "None")),
        ([paid(st.UNPAID)], NOW, None, ("New", "None")),
        # A double spend took the only payment away: Invalid (until something arrives).
        ([shapes.Paid(st.UNPAID, 100, 0, 0, 100, conflicted=True)], NOW, None, ("Invalid", "None")),
        (
            [shapes.Paid(st.UNPAID, 100, 0, 0, 100, True), paid(st.PENDING, received=100, pending=100)],
            NOW,
            None,
            ("Processing", "None"),
        ),
        # The merchant's mark wins over the payments.
        ([paid(st.PAID, received=100)], NOW, "Invalid", ("Invalid", "Marked")),
        ([paid(st.UNPAID)], NOW, "Settled", ("Settled", "Marked")),
        # Tolerance: 95 of 100 with a 5 % tolerance is paid.
        ([paid(st.PAID, received=95, need=95)], NOW, None, ("Settled", "None")),
    ],
)
def test_invoice_status_from_its_payments(payments, now, marked, want):
    assert shapes.invoice_status(payments, LATER, now, marked) == want


@pytest.mark.parametrize(
    "given, want",
    [
        ("LTC-CHAIN", "LTC"),
        ("LTC_CHAIN", "LTC"),
        ("DOGE_CHAIN", "DOGE"),
        ("doge-chain", "DOGE"),
        ("LTC", "LTC"),
        ("BTC-OnChain", "BTC"),
        ("BTC_LN", None),
        ("BTC-LightningNetwork", None),
        ("XMR_CHAIN", None),
        (None, None),
        (42, None),
    ],
)
def test_payment_method_ids_in_either_spelling(given, want):
    assert shapes.parse_method(given, {"LTC": 1, "DOGE": 1, "BTC": 1}) == want


def test_the_greenfield_key_holds_exactly_the_plugins_permissions():
    granted = shapes.permissions_of(shapes.PLUGIN_SCOPES, "S1")
    assert plugin_accepts(granted)
    assert "%s:S1" % shapes.MODIFY_WEBHOOKS in granted
    assert "%s:S1" % shapes.PULL_PAYMENTS in granted  # refunds on (issue 27): pull payments awaiting approval
    assert not plugin_accepts(shapes.permissions_of(["payments:read"], "S1"))


def test_money_and_times():
    assert shapes.money_text(shapes.decimal_of("40.00", "amount")) == "40"
    assert shapes.money_text(shapes.decimal_of(1, "amount")) == "1"
    assert shapes.unix(datetime.datetime(1970, 1, 2)) == 86400
    for bad in ("-1", "0", "abc", "NaN", True, [], None, "1e99"):
        with pytest.raises(shapes.FieldErrors):
            shapes.decimal_of(bad, "amount")


OPTIONS = {"expiration_minutes": 15, "monitoring_minutes": 60, "payment_tolerance": "0", "speed_policy": "MediumSpeed"}


def test_a_request_is_read_with_nulls_and_every_error_named():
    coins = {"LTC": 1, "DOGE": 1}
    req = read_request({"amount": "40.00", "currency": "usd", "metadata": None, "checkout": None}, coins, OPTIONS)
    assert (req["currency"], req["amount"], req["methods"], req["confirmations"]) == ("USD", "40", ["DOGE", "LTC"], 1)
    coin = read_request({"amount": 1, "currency": "LTC", "checkout": {"paymentMethods": ["LTC_CHAIN"]}}, coins, OPTIONS)
    assert coin["methods"] == ["LTC"]
    with pytest.raises(shapes.FieldErrors) as caught:
        read_request(
            {
                "amount": "-2",
                "currency": None,
                "metadata": [],
                "checkout": {"speedPolicy": "Fast", "paymentMethods": ["BTC_LN"], "expirationMinutes": "x"},
            },
            coins,
            OPTIONS,
        )
    paths = [p for p, _ in caught.value.errors]
    assert paths == [
        "currency",
        "amount",
        "metadata",
        "checkout.speedPolicy",
        "checkout.paymentMethods",
        "checkout.expirationMinutes",
    ]


@pytest.fixture
def greenfield_url(tmp_path):
    return "sqlite:///%s" % (tmp_path / "greenfield.db")


def test_delivery_targets_live_in_the_database(tmp_path):
    """Issue 15: a process without the daemon's webhook config queues the daemon's deliveries."""

    def runtime(extra=""):
        return fake_runtime(tmp_path, extra=extra, db_name="shared.db")[1]

    def create_in_a_bare_process():
        bare = runtime()  # a CLI with a bare environment: no [webhook] url
        try:
            payment, _ = bare.payments.create({"currency": "LTC", "amount": "1"})
            return [d.url for d in Delivery.select().where(Delivery.payment == payment.id)]
        finally:
            bare.close()

    daemon = runtime('[webhook]\nurl = "http://127.0.0.1:9/daemon"\n')
    daemon.register_targets()
    daemon.close()
    assert create_in_a_bare_process() == ["http://127.0.0.1:9/daemon"]
    # The daemon restarted without it: the target is retired, no process queues for it.
    again = runtime()
    again.register_targets()
    again.close()
    assert create_in_a_bare_process() == []


def test_the_invoice_page_offers_each_method_and_escapes():
    from transient.api.greenfield.page import render_page

    invoice = {
        "status": "New",
        "additionalStatus": "None",
        "amount": "40",
        "currency": "USD",
        "checkout": {"redirectURL": "http://shop/ok"},
        "metadata": {"itemDesc": "<b>mug</b>"},
    }
    choices = [
        {"payment_id": "p-doge", "currency": "DOGE", "amount": "320", "status": "UNPAID"},
        {"payment_id": "p-ltc", "currency": "LTC", "amount": "0.5", "status": "UNPAID"},
    ]
    html = render_page(invoice, choices, 5)
    assert 'href="/pay/p-doge"' in html and 'href="/pay/p-ltc"' in html and "DOGE-CHAIN" in html
    assert "&lt;b&gt;mug&lt;/b&gt;" in html and "<b>mug" not in html
    assert "<script" not in html and "http://shop/ok" not in html  # the way back once settled only
    settled = render_page({**invoice, "status": "Settled"}, choices, 5)
    assert 'url=http://shop/ok"' in settled and 'id="methods" aria-label="Choose how to pay" hidden' in settled


# -- hostile bodies ------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as hs  # noqa: E402

SCALARS = hs.one_of(
    hs.none(),
    hs.booleans(),
    hs.integers(-(10**20), 10**20),
    hs.text(max_size=12),
    hs.sampled_from(["1.5", "-1", "1e999", "NaN", "LTC_CHAIN", "DOGE-CHAIN", "USD", "Invalid", "Settled", "http://x/"]),
)
VALUES = hs.recursive(
    SCALARS,
    lambda inner: hs.lists(inner, max_size=3) | hs.dictionaries(hs.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
KEYS = hs.sampled_from(
    ["amount", "currency", "metadata", "checkout", "status", "url", "authorizedEvents", "secret", "enabled"]
)
BODIES = hs.one_of(
    hs.dictionaries(KEYS, VALUES, max_size=5),
    hs.fixed_dictionaries(
        {
            "amount": VALUES,
            "currency": hs.sampled_from(["LTC", "DOGE", "USD", "ltc"]),
            "checkout": hs.dictionaries(
                hs.sampled_from(
                    [
                        "speedPolicy",
                        "paymentMethods",
                        "expirationMinutes",
                        "monitoringMinutes",
                        "paymentTolerance",
                        "redirectURL",
                        "redirectAutomatically",
                    ]
                ),
                VALUES,
                max_size=4,
            ),
        }
    ),
    VALUES,
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    from _greenfield_cases import greenfield_runtime

    tmp = tmp_path_factory.mktemp("hostile")
    client, runtime = greenfield_runtime(tmp, "sqlite:///%s" % (tmp / "h.db"))
    store = client.simulate_get("/api/v1/stores").json[0]["id"]
    invoice = client.simulate_post("/api/v1/stores/%s/invoices" % store, json={"amount": "1", "currency": "LTC"}).json[
        "id"
    ]
    pull = client.simulate_post(
        "/api/v1/stores/%s/pull-payments" % store, json={"amount": "1000000", "currency": "LTC"}
    ).json["id"]
    yield client, store, invoice, pull
    runtime.close()


ROUTES = ["invoices", "status", "webhooks", "pull-payments", "claim", "refund"]


@given(body=BODIES, route=hs.sampled_from(ROUTES))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_body_answers_5xx(hostile, body, route):
    client, store, invoice, pull = hostile
    path = {
        "invoices": "/api/v1/stores/%s/invoices" % store,
        "status": "/api/v1/stores/%s/invoices/%s/status" % (store, invoice),
        "webhooks": "/api/v1/stores/%s/webhooks" % store,
        "pull-payments": "/api/v1/stores/%s/pull-payments" % store,
        "claim": "/api/v1/pull-payments/%s/payouts" % pull,
        "refund": "/api/v1/stores/%s/invoices/%s/refund" % (store, invoice),
    }[route]
    resp = client.simulate_post(path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    assert resp.status_code in (200, 400, 409, 422, 503), (resp.status_code, resp.text)
    if resp.status_code == 422:
        assert isinstance(resp.json, list) and all(e["path"] and e["message"] for e in resp.json), resp.json
