"""The payouts service's cases (the writes of each change with its outbox event and
deliveries in one transaction; hostile input refused with nothing written; claims racing
for the last unit; the daily cap under the coin's lock), on the database ``payouts_url``:
SQLite in tests/unit/test_payouts.py, PostgreSQL in tests/integration/test_payouts_postgres.py."""

import datetime
import json
import threading

import pytest
from fakes import FakeBackend, segwit_address

from transient.core.errors import Conflict, NotFound, UnknownCurrency, ValidationError
from transient.delivery.outbox import Outbox
from transient.payouts import states
from transient.payouts.service import Limits, PayoutService
from transient.store import migrations
from transient.store.db import open_database
from transient.store.models import Delivery, Event
from transient.store.payouts import Payout, PullPayment

HOOK = "http://127.0.0.1:9/hook"
NOW = datetime.datetime(2026, 12, 7, 12, 0, 0)


# -- the service ------------------------------------------------------------------------


@pytest.fixture
def world(payouts_url):
    db = open_database(payouts_url)
    migrations.apply(db)
    backend = FakeBackend("LTC", {})
    woken = []
    service = PayoutService(
        {"LTC": (backend, {})},
        Outbox(webhook_url=HOOK),
        db=db,
        limits=Limits(auto_approve_below={"LTC": 10_000}, daily_cap={"LTC": 1_000_000}),
        clock=lambda: NOW,
        public_url="http://127.0.0.1:8080",
        wake=woken.append,
    )
    service.woken = woken
    yield service, backend
    db.close()


def body(backend, amount="0.001", **extra):
    return {"currency": "LTC", "amount": amount, "destination": backend.new_address(), **extra}


def test_a_payout_is_recorded_with_its_event_and_delivery(world):
    service, backend = world
    payout, created = service.create(body(backend))
    assert created and payout.state == states.AWAITING_APPROVAL and payout.amount == 100_000
    events = list(Event.select().where(Event.payout_id == payout.id))
    assert [e.type for e in events] == ["payout.created"] and events[0].payment_id is None
    delivery = Delivery.get(Delivery.payout_id == payout.id)
    sent = json.loads(delivery.body)
    assert delivery.url == HOOK and sent["payout"]["amount"] == "0.001" and sent["event"]["type"] == "payout.created"
    approved = service.approve(payout.id, revision=payout.revision)
    assert approved.state == states.APPROVED and approved.approved_at == NOW
    assert [e.type for e in Event.select().where(Event.payout_id == payout.id).order_by(Event.sequence)] == [
        "payout.created",
        "payout.approved",
    ]
    assert service.woken == ["LTC"]
    with pytest.raises(Conflict):
        service.approve(payout.id)  # approved already
    cancelled = service.cancel(payout.id)
    assert cancelled.state == states.CANCELLED
    assert json.loads(Delivery.select().order_by(Delivery.id.desc()).get().body)["event"]["data"] == {
        "from": "approved",
        "to": "cancelled",
    }


def test_a_small_payout_is_approved_at_once_until_the_daily_cap(world):
    service, backend = world
    small, _ = service.create(body(backend, "0.00009999"))
    assert small.state == states.APPROVED and Payout.get_by_id(small.id).approved_by == "auto:limit"
    big, _ = service.create(body(backend, "0.0099"))
    assert big.state == states.AWAITING_APPROVAL and big.approved_by is None  # not below auto_approve_below
    service.approve(big.id, by="cli:alice")  # 999 999 units approved today: the cap is 1 000 000
    assert Payout.get_by_id(big.id).approved_by == "cli:alice"
    tiny, _ = service.create(body(backend, "0.00000002"))
    assert tiny.state == states.AWAITING_APPROVAL  # below auto_approve_below, but above the cap
    with pytest.raises(Conflict) as err:
        service.approve(tiny.id)
    assert "cap" in err.value.message
    assert Payout.get_by_id(tiny.id).state == states.AWAITING_APPROVAL  # nothing written
    service.cancel(big.id)  # a cancelled approval no longer counts
    assert service.approve(tiny.id).state == states.APPROVED


def test_a_wrong_revision_is_refused(world):
    service, backend = world
    payout, _ = service.create(body(backend))
    with pytest.raises(Conflict) as err:
        service.approve(payout.id, revision=payout.revision + 1)
    assert err.value.field == "revision"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"destination": segwit_address("tb", bytes(20))}, "destination"),  # another network's
        ({"destination": "DRSqEwcnJX3GZWH9Twtwk8D5ewqdJzi13k"}, "destination"),  # another coin's
        ({"destination": "x' OR 1=1"}, "destination"),
        ({"destination": None}, "destination"),
        ({"amount": "84000000.00000001"}, "amount"),  # above the coin's maximum
        ({"amount": "0"}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"amount": "1e400"}, "amount"),
        ({"amount": 0.1}, "amount"),  # a float is never money
        ({"amount": "0.000000001"}, "amount"),
        ({"currency": "DOGE"}, "currency"),
        ({"fee": "1"}, "fee"),
    ],
)
def test_hostile_payouts_are_refused_naming_the_field_with_nothing_written(world, change, field):
    service, backend = world
    with pytest.raises((ValidationError, UnknownCurrency)) as err:
        service.create({**body(backend), **change})
    assert err.value.field == field
    assert Payout.select().count() == 0 and Event.select().count() == 0


def test_an_idempotency_key_returns_the_same_payout(world):
    service, backend = world
    sent = body(backend)
    first, created = service.create(sent, idempotency_key="k1")
    again, created_again = service.create(sent, idempotency_key="k1")
    assert created and not created_again and again.id == first.id
    with pytest.raises(Conflict):
        service.create({**sent, "amount": "0.002"}, idempotency_key="k1")
    assert Payout.select().count() == 1


def test_claims_never_take_more_than_the_pull_payment(world):
    service, backend = world
    pull = service.create_pull("LTC", 1_000, NOW, name="refund")
    with pytest.raises(ValidationError) as err:
        service.claim(pull.id, backend.new_address(), "0.00001001")
    assert err.value.field == "amount"
    service.claim(pull.id, backend.new_address(), "0.00000600")
    # Two claims racing for what is left: one wins, the other is refused with nothing written.
    results = []

    def claim():
        try:
            results.append(service.claim(pull.id, backend.new_address(), "0.00000400").state)
        except (Conflict, ValidationError) as exc:  # raced (409), or saw the first one's claim (422)
            results.append(exc.field)

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted([states.APPROVED, "amount"])  # 400 units < auto_approve_below
    assert PullPayment.get_by_id(pull.id).claimed == 1_000
    assert Payout.select().count() == 2
    with pytest.raises(Conflict):
        service.claim(pull.id, backend.new_address())  # nothing left
    # A cancelled claim gives its amount back.
    payout = Payout.select().where(Payout.amount == 600).get()
    service.cancel(payout.id)
    assert PullPayment.get_by_id(pull.id).claimed == 400
    with pytest.raises(NotFound):
        service.claim("no-such-pull", backend.new_address())
