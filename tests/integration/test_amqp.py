"""The AMQP API against the machine's RabbitMQ, in process: events from the outbox with
publisher confirms and broker outages. The settings: tests/unit/test_amqp_settings.py;
the command queue: test_amqp_commands.py; a real transientd with the regtest node (the
events of a payment, a broker restart, a worker killed before its reply):
tests/e2e/test_amqp_daemon.py."""

import json

import pytest
from _broker import URL, Client, broker, broker_shared, client, names, rabbitmqctl, wait_reachable  # noqa: F401  (fixtures)
from _daemon import wait_for
from _outbox import OutboxHarness, settled
from fakes import FakeBackend

from transient.amqp import link as amqp
from transient.amqp.publisher import CONFIRMED, Publisher
from transient.delivery.admin import event_log
from transient.devnet.node import find_free_port
from transient.ops import metrics
from transient.payouts.service import PayoutService
from transient.store.models import Delivery, DeliveryAttempt, Payment

# -- events: the publisher on the outbox ------------------------------------------------


class Harness(OutboxHarness):
    """An outbox whose only target is the test's exchange, and publishers draining it."""

    def __init__(self, db, names):
        super().__init__(db, extra_targets=[amqp.target(names.exchange)])
        self.publishers = []

    def publisher(self, url=URL, schedule=(0.05,), **kw):
        p = Publisher(self.db, amqp.parameters(url, "test"), list(schedule), **kw).start()
        self.publishers.append(p)
        self.listeners.append(p.wake)
        return p

    def close(self):
        for p in self.publishers:
            p.stop()


@pytest.fixture
def hub(db, names):
    h = Harness(db, names)
    yield h
    h.close()


def test_events_are_published_with_confirms_routing_keys_and_the_webhook_body(hub, client, names):
    client.bind_all(names)
    ltc, doge = hub.payment("LTC"), hub.payment("DOGE")
    ltc_events = hub.emit(ltc, "payment.created", "payment.received", "payment.status_changed")
    doge_events = hub.emit(doge, "payment.created")
    hub.publisher()
    rows = settled(4)
    got = client.take(names.events_queue, 4)
    assert all(r.state == Delivery.DELIVERED and r.url == "amqp:" + names.exchange for r in rows)
    by_id = {str(r.id): r for r in rows}
    keys = [
        (m.routing_key, json.loads(b)["event"]["sequence"])
        for m, p, b in got
        if json.loads(b)["payment_id"] == str(ltc.id)
    ]
    # Per payment in order, one event after another.
    assert keys == [("payment.LTC.created", 1), ("payment.LTC.received", 2), ("payment.LTC.status_changed", 3)]
    assert [m.routing_key for m, p, b in got if m.routing_key.startswith("payment.DOGE")] == ["payment.DOGE.created"]
    events = {str(e.event_id): e for e in ltc_events + doge_events}
    for _method, props, body in got:
        delivery = by_id[str(props.headers["Transient-Delivery-Id"])]
        assert body == delivery.body.encode()  # exactly the webhook body
        assert props.message_id in events and props.message_id == json.loads(body)["event"]["id"]
        assert props.delivery_mode == 2 and props.content_type == "application/json"
        assert props.type == events[props.message_id].type == props.headers["Transient-Event-Type"]
    attempts = list(DeliveryAttempt.select())
    assert len(attempts) == 4 and {a.response for a in attempts} == {CONFIRMED}
    (first, *_) = event_log(Payment.get_by_id(ltc.id), hub.renderer)
    assert first["deliveries"][0]["url"] == "amqp:" + names.exchange and first["deliveries"][0]["state"] == "delivered"


def test_an_unreachable_broker_loses_nothing_and_claims_nothing(hub, client, names):
    client.bind_all(names)
    p = hub.payment()
    hub.emit(p, "payment.created", "payment.received")
    down = hub.publisher(url="amqp://guest:guest@127.0.0.1:%d/" % find_free_port())
    wait_for(lambda: down.link.report()["state"] == "disconnected")
    hub.emit(p, "payment.status_changed")
    report = down.link.report()
    assert "Connect" in report["last_error"] and report["connects"] == 0
    rows = list(Delivery.select().order_by(Delivery.id))
    # Nothing was taken or tried while the broker was away: the rows just wait.
    assert [(r.state, r.attempts, r.lease_holder) for r in rows] == [(Delivery.PENDING, 0, None)] * 3
    down.stop()
    assert down.link.report()["state"] == "stopped"
    hub.publisher()
    settled(3)
    got = client.take(names.events_queue, 3)
    assert [json.loads(b)["event"]["sequence"] for m, p, b in got] == [1, 2, 3]


def test_refused_publishes_are_retried_until_the_broker_takes_them(hub, client, names):
    """A full queue with overflow=reject-publish makes the broker nack: a real refusal."""
    client.channel.exchange_declare(names.exchange, "topic", durable=True)
    client.channel.queue_declare(
        names.events_queue, durable=True, arguments={"x-max-length": 1, "x-overflow": "reject-publish"}
    )
    client.channel.queue_bind(names.events_queue, names.exchange, "#")
    payments = [hub.payment() for _ in range(3)]
    for p in payments:
        hub.emit(p, "payment.created")
    counted = {o: metrics.DELIVERIES.labels("amqp", o)._value.get for o in metrics.DELIVERY_OUTCOMES}
    before = {o: get() for o, get in counted.items()}
    hub.publisher(schedule=[0.05])  # one wait, repeated: an AMQP delivery never fails for good
    # The queue holds one message: the other two are refused at every try, past the schedule's end.
    wait_for(lambda: Delivery.select().where(Delivery.attempts >= 3).count() == 2)
    assert Delivery.select().where(Delivery.state == Delivery.FAILED).count() == 0
    got = []
    while len(got) < 3:
        got += client.take(names.events_queue, 1)  # makes room for the next retry
    rows = settled(3)
    assert {json.loads(b)["payment_id"] for m, p, b in got} == {str(p.id) for p in payments}
    assert all(r.state == Delivery.DELIVERED for r in rows)
    retried = [r for r in rows if r.attempts > 1]
    assert len(retried) >= 2 and len(retried[0].log) == retried[0].attempts  # one log row per attempt
    first = DeliveryAttempt.get((DeliveryAttempt.delivery == retried[0].id) & (DeliveryAttempt.number == 1))
    assert "nack" in first.error and first.retry_at is not None
    # transient_deliveries_total{kind="amqp"}: every attempt counted once, by its outcome.
    delta = {o: get() - before[o] for o, get in counted.items()}
    assert delta == {"sent": 3, "retried": sum(r.attempts for r in rows) - 3, "failed": 0}


def test_a_payouts_events_are_published_as_payout_routing_keys_in_order(hub, client, names):
    """Issue 27: a payout's events (no payment) go to the exchange as payout.<COIN>.<kind>."""
    client.bind_all(names)
    backend = FakeBackend("LTC", {})
    service = PayoutService({"LTC": (backend, {})}, hub.outbox, db=hub.db)
    payout, _ = service.create({"currency": "LTC", "amount": "0.25", "destination": backend.new_address()})
    service.approve(payout.id)
    hub.publisher()
    settled(2)
    got = client.take(names.events_queue, 2)
    assert [m.routing_key for m, p, b in got] == ["payout.LTC.created", "payout.LTC.approved"]
    bodies = [json.loads(b) for m, p, b in got]
    assert [(b["payout_id"], b["state"], b["payout"]["amount"]) for b in bodies] == [
        (payout.id, "awaiting_approval", "0.25"),
        (payout.id, "approved", "0.25"),
    ]
