"""Payouts and refunds on SQLite and the FakeBackend: the pure refund amounts (hypothesis),
the state moves, the service's cases (tests/_payouts_cases.py, also on PostgreSQL), the HTTP
routes and the customers' claim page, in-process."""

import datetime
import json
from decimal import Decimal
from fractions import Fraction

import pytest
from _payouts_cases import *  # noqa: F401,F403  (the service's cases, on SQLite here)
from fakes import segwit_address
from hypothesis import given, settings
from hypothesis import strategies as st

from transient.core.errors import Conflict, RateUnavailable, ValidationError
from transient.payouts import amounts, states
from transient.store.models import Event
from transient.store.payouts import Payout, PullPayment

HOOK = "http://127.0.0.1:9/hook"
NOW = datetime.datetime(2026, 12, 7, 12, 0, 0)

# -- the refund dialog's amounts ------------------------------------------------------

prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2)
rates = st.decimals(min_value=Decimal("0.00001"), max_value=Decimal("100000"), places=8)
percents = st.decimals(min_value=Decimal(0), max_value=Decimal("99.99"), places=2)


@settings(max_examples=300, deadline=None)
@given(price=prices, rate=rates, percent=percents)
def test_a_fiat_refund_is_rounded_for_the_merchant_and_never_by_a_whole_unit(price, rate, percent):
    paid = amounts.Paid(amount=10**18, received=10**18, price=price, price_currency="USD", rate=rate)
    exact = Fraction(price) / Fraction(rate) * 10**8 * (100 - Fraction(percent)) / 100
    try:
        units = amounts.refund_units(amounts.CURRENT_RATE, paid, rate_now=rate, percent=percent)
    except ValidationError:
        assert exact < 1
        return
    assert isinstance(units, int)
    assert exact - 1 < units <= exact


@settings(max_examples=200, deadline=None)
@given(units=st.integers(min_value=1, max_value=10**18), percent=percents)
def test_subtracting_a_percentage_rounds_down_by_less_than_a_unit(units, percent):
    left = amounts.minus_percentage(units, percent)
    exact = Fraction(units) * (100 - Fraction(percent)) / 100
    assert exact - 1 < left <= exact


def test_each_variant_of_the_refund_dialog():
    priced = amounts.Paid(
        amount=2_000_000_01, received=2_500_000_00, price=Decimal("20"), price_currency="USD", rate=Decimal("10")
    )
    # Rate then: the price at the rate it was paid at (2 coins), not the rounded-up amount.
    assert amounts.refund_units(amounts.RATE_THEN, priced) == 2_000_000_00
    # Current rate: the price at today's rate; none is a refusal (fail closed), not a guess.
    assert amounts.refund_units(amounts.CURRENT_RATE, priced, rate_now=Decimal("40")) == 50_000_000
    with pytest.raises(RateUnavailable):
        amounts.refund_units(amounts.CURRENT_RATE, priced, rate_now=None)
    assert amounts.refund_units(amounts.FIAT, priced, rate_now=Decimal("3"), custom=Decimal("1")) == 33_333_333
    assert amounts.refund_units(amounts.OVERPAID, priced) == 49_999_999
    assert amounts.refund_units(amounts.CUSTOM, priced, custom=Decimal("0.12345678")) == 12_345_678
    assert amounts.refund_units(amounts.CUSTOM, priced, custom=Decimal("0.5"), percent=Decimal("10")) == 45_000_000
    # Never more than came in: the price at a collapsed rate is capped at what was received.
    assert amounts.refund_units(amounts.CURRENT_RATE, priced, rate_now=Decimal("0.001")) == 2_500_000_00
    coins = amounts.Paid(amount=100, received=100)
    assert amounts.refund_units(amounts.CURRENT_RATE, coins) == 100  # given in coins: no rate needed
    with pytest.raises(ValidationError) as err:
        amounts.refund_units(amounts.OVERPAID, coins)
    assert err.value.field == "refundVariant"
    with pytest.raises(ValidationError):
        amounts.refund_units(amounts.CUSTOM, coins, custom=Decimal("0.00000001"), percent=Decimal("50"))


def test_the_state_moves():
    assert states.move(states.AWAITING_APPROVAL, states.APPROVED) == states.APPROVED
    assert states.can_move(states.COMPLETED, states.BROADCAST)  # a reorg
    assert states.can_move(states.FAILED, states.APPROVED)  # a double spend: paid again, never lost
    for final in (states.CANCELLED,):
        assert not states.MOVES[final]
    with pytest.raises(Conflict):
        states.move(states.BROADCAST, states.CANCELLED)  # money that left cannot be cancelled
    with pytest.raises(Conflict):
        states.move(states.COMPLETED, states.APPROVED)


# -- the service: tests/_payouts_cases.py (also on PostgreSQL) ---------------------------


@pytest.fixture
def payouts_url(tmp_path):
    return "sqlite:///%s" % (tmp_path / "p.db")


# -- the HTTP routes (Falcon's TestClient on the FakeBackend) ---------------------------


@pytest.fixture
def api(tmp_path):
    from fakes import fake_runtime

    client, runtime = fake_runtime(tmp_path, extra='[payouts]\nauto_approve_below = { LTC = "0.0001" }\n')
    _, reader = runtime.key_store.create(["payouts:read"])
    row, approver = runtime.key_store.create(["payouts:approve", "payouts:read", "payments:create"])
    runtime.reader, runtime.approver, runtime.approver_id = reader, approver, row.public_id
    yield client, runtime
    runtime.close()


def call(client, method, path, key, body=None, headers=None):
    return client.simulate_request(
        method,
        path,
        body=None if body is None else json.dumps(body),
        headers={"Authorization": "Bearer %s" % key, "Content-Type": "application/json", **(headers or {})},
    )


def test_the_payout_routes(api):
    client, runtime = api
    backend = runtime.backends["LTC"]
    sent = {"currency": "LTC", "amount": "0.5", "destination": backend.new_address()}
    denied = call(client, "POST", "/payouts", runtime.reader, sent)
    assert denied.status_code == 403 and Payout.select().count() == 0
    created = call(client, "POST", "/payouts", runtime.approver, sent, {"Idempotency-Key": "p-1"})
    assert created.status_code == 201, created.text
    payout = created.json["payout"]
    assert payout["state"] == "awaiting_approval" and payout["amount"] == "0.5"
    assert payout["uri"] == "%s:%s?amount=0.5" % (backend.uri_scheme, sent["destination"])
    again = call(client, "POST", "/payouts", runtime.approver, sent, {"Idempotency-Key": "p-1"})
    assert again.status_code == 200 and again.json["payout"]["id"] == payout["id"]
    listed = call(client, "GET", "/payouts?state=awaiting_approval", runtime.reader)
    assert [p["id"] for p in listed.json["payouts"]] == [payout["id"]]
    assert call(client, "POST", "/payouts/%s/approve" % payout["id"], runtime.reader).status_code == 403
    stale = call(client, "POST", "/payouts/%s/approve" % payout["id"], runtime.approver, {"revision": 7})
    assert stale.status_code == 409 and stale.json["error"]["field"] == "revision"
    ok = call(client, "POST", "/payouts/%s/approve" % payout["id"], runtime.approver, {"revision": 0})
    assert ok.status_code == 200 and ok.json["payout"]["state"] == "approved"
    assert ok.json["payout"]["approved_by"] == "api-key:%s" % runtime.approver_id  # who, for the report
    assert ok.json["payout"]["fee"] is None  # not sent yet
    cancelled = call(client, "POST", "/payouts/%s/cancel" % payout["id"], runtime.approver)
    assert cancelled.json["payout"]["state"] == "cancelled"
    assert call(client, "POST", "/payouts/%s/cancel" % payout["id"], runtime.approver).status_code == 409
    assert call(client, "GET", "/payouts/nope", runtime.reader).status_code == 404
    assert call(client, "GET", "/payouts/%27%3B--", runtime.reader).status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        (
            {"currency": "LTC", "amount": "1", "destination": "tb1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"},
            "destination",
        ),
        ({"currency": "LTC", "amount": "1e9", "destination": None}, "amount"),
        ({"currency": "LTC", "amount": "99999999999", "destination": None}, "amount"),
        ({"currency": "XMR", "amount": "1", "destination": None}, "currency"),
        ([1, 2], None),
    ],
)
def test_hostile_payout_requests_are_4xx_with_nothing_written(api, body, field):
    client, runtime = api
    if isinstance(body, dict) and body.get("destination") is None:
        body["destination"] = runtime.backends["LTC"].new_address()
    resp = call(client, "POST", "/payouts", runtime.approver, body)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.json["error"]["field"] == field
    assert Payout.select().count() == 0 and Event.select().where(Event.payout_id.is_null(False)).count() == 0


def test_a_refund_of_a_paid_payment(api):
    client, runtime = api
    backend = runtime.backends["LTC"]
    made = call(client, "POST", "/payments", runtime.approver, {"currency": "LTC", "amount": "0.001"})
    assert made.status_code == 201, made.text
    payment = made.json["payment"]
    nothing = call(client, "POST", "/payments/%s/refund" % payment["id"], runtime.approver, {})
    assert nothing.status_code == 422 and nothing.json["error"]["field"] == "payment_id"  # nothing received
    backend.pay(payment["payment_address"], 150_000)  # overpaid by 0.0005
    backend.mine()
    runtime.syncers["LTC"].run()
    over = call(client, "POST", "/payments/%s/refund" % payment["id"], runtime.approver, {"variant": "OverpaidAmount"})
    assert over.status_code == 201, over.text
    assert over.json["pull_payment"]["amount"] == "0.0005" and over.json["payout"] is None
    pull_id = over.json["pull_payment"]["id"]
    assert over.json["pull_payment"]["view_link"].endswith("/claim/%s" % pull_id)
    to = backend.new_address()
    paid = call(
        client,
        "POST",
        "/payments/%s/refund" % payment["id"],
        runtime.approver,
        {"variant": "RateThen", "subtract_percentage": "10", "destination": to},
    )
    assert paid.status_code == 201, paid.text
    assert paid.json["pull_payment"]["amount"] == "0.0009"
    assert paid.json["payout"]["amount"] == "0.0009" and paid.json["payout"]["state"] == "awaiting_approval"
    shown = call(client, "GET", "/pull-payments/%s" % paid.json["pull_payment"]["id"], runtime.reader)
    assert shown.json["pull_payment"]["remaining"] == "0" and len(shown.json["payouts"]) == 1
    bad = call(client, "POST", "/payments/%s/refund" % payment["id"], runtime.approver, {"variant": "Bogus"})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "variant"
    fiat = call(client, "POST", "/payments/%s/refund" % payment["id"], runtime.approver, {"variant": "CurrentRate"})
    assert fiat.status_code == 201  # given in coins: no rate needed
    assert PullPayment.select().count() == 3


# -- the customers' claim page (/claim/{id}), in-process ------------------------------


def claim_form(client, path, cookie, **fields):
    from urllib.parse import urlencode

    return client.simulate_post(
        path,
        body=urlencode(fields),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": "transient_claim=%s" % cookie},
    )


def test_the_claim_page(api):
    client, runtime = api
    backend = runtime.backends["LTC"]
    pull = runtime.payouts.create_pull("LTC", 12_345_678, NOW, name="<script>alert(1)</script>")
    path = "/claim/%s" % pull.id
    page = client.simulate_get(path, headers={"Accept-Language": "de-CH, en;q=0.5"})
    assert page.status_code == 200 and page.headers["content-language"] == "de"
    assert "Rückerstattung anfordern" in page.text and "0.12345678" in page.text
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    assert "form-action 'self'" in page.headers["content-security-policy"] and "<script" not in page.text
    token = page.cookies["transient_claim"].value
    assert 'name="csrf" value="%s"' % token in page.text
    # No token, or another one: refused, nothing written.
    forged = claim_form(client, path, "x" * 32, csrf="y" * 32, destination=backend.new_address())
    assert forged.status_code == 403 and Payout.select().count() == 0
    # Another network's address: the page says so in its language, nothing written.
    wrong = claim_form(client, path + "?lang=fr", token, csrf=token, destination=segwit_address("tb", bytes(20)))
    assert wrong.status_code == 422 and "n&#x27;est pas une adresse LTC" in wrong.text
    assert Payout.select().count() == 0
    address = backend.new_address()
    done = claim_form(client, path + "?lang=es", token, csrf=token, destination=address)
    assert done.status_code == 303 and done.headers["location"].startswith(path + "?lang=es&claimed=")
    shown = client.simulate_get(done.headers["location"])
    assert "Su reclamación está registrada" in shown.text and address in shown.text
    assert 'data-state="done"' in shown.text
    again = claim_form(client, path, token, csrf=token, destination=backend.new_address())
    assert again.status_code == 409 and Payout.select().count() == 1  # nothing left: one claim only
    for lang, word in (("en", "Claim your refund"), ("pt", "Reclame o seu reembolso")):
        assert word in client.simulate_get(path + "?lang=" + lang).text
    missing = client.simulate_get("/claim/nope?lang=de")
    assert missing.status_code == 404 and "Keine solche Rückerstattung" in missing.text
