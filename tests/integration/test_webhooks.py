"""The outbox and the dispatcher, on SQLite and PostgreSQL, with a real HTTP receiver on
loopback. (Signatures: tests/unit/test_webhook_signatures.py; the daemon end to end:
tests/e2e/test_webhooks_e2e.py.)"""

import datetime
import json
import threading
import time

import pytest
from _daemon import wait_for
from _outbox import OutboxHarness, settled
from _receiver import Receiver

from transient import webhooks
from transient.core import status as S
from transient.core.clock import utcnow
from transient.delivery.admin import event_log, ping, redeliver
from transient.delivery.dispatcher import Dispatcher
from transient.delivery.sender import Sender
from transient.store.db import write_transaction
from transient.store.models import Delivery, DeliveryAttempt, Event, Payment

SECRET = "whsec_test"
FAST = [0.05, 0.05, 0.05]  # seconds: the retry schedule used here


# -- fixtures ----------------------------------------------------------------------


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


class Harness(OutboxHarness):
    """An outbox writing to the test database, and dispatchers draining it."""

    def __init__(self, db, url, extra_targets=()):
        super().__init__(db, url, extra_targets)
        self.dispatchers = []

    def payment(self, callback_url=None):
        return super().payment(callback_url=callback_url)

    def dispatcher(self, secret=SECRET, schedule=FAST, concurrency=4, timeout=5, start=True, **kw):
        d = Dispatcher(self.db, Sender(secret, timeout), schedule, concurrency, **kw)
        self.dispatchers.append(d)
        if start:
            d.start()
            self.listeners.append(d.wake)
        return d

    def close(self):
        for d in self.dispatchers:
            d.stop()


@pytest.fixture
def hub(db, receiver):
    h = Harness(db, receiver.url)
    yield h
    h.close()


# -- the outbox ----------------------------------------------------------------------


def test_event_and_delivery_are_written_together_or_not_at_all(hub, db):
    p = hub.payment()
    batch = hub.outbox.batch(utcnow())
    with pytest.raises(RuntimeError):
        with write_transaction(db):
            Payment.update(status=S.PAID).where(Payment.id == p.id).execute()
            batch.add(p, "payment.status_changed", {"from": S.UNPAID, "to": S.PAID})
            batch.write()
            raise RuntimeError("crash before commit")
    assert Event.select().count() == 0 and Delivery.select().count() == 0
    assert Payment.get_by_id(p.id).status == S.UNPAID and Payment.get_by_id(p.id).event_seq == 0
    events = hub.emit(Payment.get_by_id(p.id), "payment.created")
    assert [e.sequence for e in events] == [1]
    (d,) = Delivery.select()
    body = json.loads(d.body)
    assert list(body)[:2] == ["payment_id", "status"]  # the seed's fields first
    assert body["payment_id"] == str(p.id) and body["status"] == S.UNPAID
    assert body["event"] == {
        "id": str(events[0].event_id),
        "type": "payment.created",
        "sequence": 1,
        "created_at": body["event"]["created_at"],
        "data": {"n": 1},
    }
    assert body["payment"]["id"] == str(p.id) and body["payment"]["amount"] == "0.000001"


def test_no_target_no_delivery_and_callback_url_gets_its_own(db, receiver):
    hub = Harness(db, None)
    hub.emit(hub.payment(), "payment.created")
    assert Event.select().count() == 1 and Delivery.select().count() == 0
    own = hub.payment(callback_url=receiver.url + "?own")
    hub.emit(own, "payment.created")
    assert [d.url for d in Delivery.select()] == [receiver.url + "?own"]
    both = Harness(db, receiver.url)
    both.emit(both.payment(callback_url="http://127.0.0.1:1/x"), "payment.created")
    assert sorted(d.url for d in Delivery.select().where(Delivery.url != receiver.url + "?own")) == [
        "http://127.0.0.1:1/x",
        receiver.url,
    ]


# -- delivery ----------------------------------------------------------------------------


def test_delivered_signed_with_headers(hub, receiver):
    p = hub.payment()
    (event,) = hub.emit(p, "payment.created")
    hub.dispatcher()
    (d,) = settled(1)
    (req,) = receiver.received()
    assert d.state == Delivery.DELIVERED and d.attempts == 1 and d.last_status == 200
    assert webhooks.verify(req.body, req.headers["Transient-Signature"], SECRET)["payment_id"] == str(p.id)
    assert req.headers["Transient-Event-Id"] == str(event.event_id)
    assert req.headers["Transient-Event-Type"] == "payment.created"
    assert req.headers["Transient-Delivery-Id"] == str(d.id)
    assert req.headers["Content-Type"] == "application/json"
    assert req.body == d.body.encode()


def test_unsigned_without_a_secret(hub, receiver):
    hub.emit(hub.payment(), "payment.created")
    hub.dispatcher(secret=None)
    settled(1)
    (req,) = receiver.received()
    assert "Transient-Signature" not in req.headers and req.headers["Transient-Event-Id"]


def test_500_then_200_is_delivered_once_after_a_retry(hub, receiver):
    receiver.script(500)
    (event,) = hub.emit(hub.payment(), "payment.created")
    hub.dispatcher()
    (d,) = settled(1)
    first, second = receiver.received()
    assert d.state == Delivery.DELIVERED and d.attempts == 2
    assert first.body == second.body and first.event_id == second.event_id == str(event.event_id)
    assert (first.headers["Transient-Delivery-Attempt"], second.headers["Transient-Delivery-Attempt"]) == ("1", "2")
    log = list(DeliveryAttempt.select().order_by(DeliveryAttempt.number))
    assert [(a.number, a.status_code) for a in log] == [(1, 500), (2, 200)]
    assert log[0].retry_at is not None and log[1].retry_at is None
    assert '"ok": false' in log[0].response


@pytest.mark.parametrize("status", [408, 429, 502, 503])
def test_retryable_statuses(hub, receiver, status):
    receiver.script(status, status)
    hub.emit(hub.payment(), "payment.created")
    hub.dispatcher()
    (d,) = settled(1)
    assert d.state == Delivery.DELIVERED and d.attempts == 3 and len(receiver.received()) == 3


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422, 301])
def test_other_4xx_and_redirects_fail_at_once(hub, receiver, status):
    receiver.script(status)
    hub.emit(hub.payment(), "payment.created")
    hub.dispatcher()
    (d,) = settled(1)
    time.sleep(0.3)  # longer than the whole retry schedule: no retry may follow
    assert d.state == Delivery.FAILED and d.attempts == 1 and d.last_status == status
    assert len(receiver.received()) == 1
    if status == 301:
        assert "redirect" in d.last_error


def test_a_receiver_that_stays_down_fails_after_the_schedule(hub, receiver):
    receiver.stop()
    hub.emit(hub.payment(), "payment.created")
    hub.dispatcher()
    (d,) = settled(1)
    assert d.state == Delivery.FAILED and d.attempts == len(FAST) + 1 and d.last_status is None
    assert "Connection" in d.last_error
    assert DeliveryAttempt.select().count() == len(FAST) + 1


def test_a_timeout_is_retried(hub, receiver):
    receiver.script((200, 2.5))  # answers after the sender gave up
    hub.emit(hub.payment(), "payment.created")
    hub.dispatcher(timeout=1)
    (d,) = settled(1)
    assert d.state == Delivery.DELIVERED and d.attempts == 2
    first = DeliveryAttempt.get(DeliveryAttempt.number == 1)
    assert first.status_code is None and "timed out" in first.error


def test_order_per_payment_and_no_head_of_line_blocking(hub, receiver):
    slow, fast = hub.payment(), hub.payment()
    hub.emit(slow, "payment.created")
    receiver.script(503)  # slow's first event fails once
    d = hub.dispatcher(concurrency=1, schedule=[1.0], start=False)
    d.run_once(1)  # slow #1 -> 503; its retry is due in about a second
    hub.emit(slow, "payment.received", "payment.status_changed", "payment.confirmed")
    hub.emit(fast, "payment.created", "payment.received")
    d.start()
    hub.listeners.append(d.wake)
    d.wake()
    settled(6)
    got = [(r.json["payment_id"], r.json["event"]["sequence"]) for r in receiver.received()]
    s, f = str(slow.id), str(fast.id)
    # slow's later events waited for its first; fast's went through meanwhile.
    assert got == [(s, 1), (f, 1), (f, 2), (s, 1), (s, 2), (s, 3), (s, 4)]


def test_a_failed_delivery_lets_the_next_one_go(hub, receiver):
    p = hub.payment()
    receiver.script(410)
    hub.emit(p, "payment.created", "payment.received")
    hub.dispatcher()
    first, second = settled(2)
    assert (first.state, second.state) == (Delivery.FAILED, Delivery.DELIVERED)


def test_many_payments_concurrently_each_exactly_once_in_order(hub, receiver):
    payments = [hub.payment() for _ in range(30)]
    for p in payments:
        hub.emit(p, "payment.created", "payment.received", "payment.status_changed")
    hub.dispatcher(concurrency=8)
    settled(90)
    got = [(r.json["payment_id"], r.json["event"]["sequence"]) for r in receiver.received()]
    assert len(got) == len(set(got)) == 90
    for p in payments:
        assert [s for pid, s in got if pid == str(p.id)] == [1, 2, 3]


def test_two_dispatchers_send_each_delivery_once(hub, receiver):
    """Two processes' dispatchers (separate holders) share the queue through leases."""
    receiver.script(*[(200, 0.01)] * 200)
    for _ in range(40):
        hub.emit(hub.payment(), "payment.created", "payment.received")
    a, b = hub.dispatcher(concurrency=4), hub.dispatcher(concurrency=4)
    settled(80)
    ids = [r.event_id for r in receiver.received()]
    assert len(ids) == len(set(ids)) == 80
    assert a.sent + b.sent == 80 and a.sent and b.sent


def test_lease_of_a_crashed_dispatcher_runs_out_and_the_delivery_is_sent(hub, receiver):
    hub.emit(hub.payment(), "payment.created")
    crashed = hub.dispatcher(start=False)
    (claimed,) = crashed.claim(10)  # ... and the process dies before sending
    other = hub.dispatcher(start=False)
    assert other.claim(10) == []  # leased
    later = Dispatcher(
        hub.db, Sender(SECRET, 5), FAST, 2, clock=lambda: utcnow() + crashed.lease + datetime.timedelta(seconds=1)
    )
    (out,) = later.run_once()
    assert out.ok and Delivery.get_by_id(claimed.id).state == Delivery.DELIVERED
    assert len(receiver.received()) == 1


def test_stop_waits_for_the_attempt_in_flight_and_queued_ones_resume(hub, receiver):
    receiver.script((200, 1.0))
    p = hub.payment()
    hub.emit(p, "payment.created")
    for _ in range(5):
        hub.emit(hub.payment(), "payment.created")
    d = hub.dispatcher(concurrency=1)
    wait_for(lambda: receiver.received(), timeout=10)
    d.stop()
    states = {r.state for r in Delivery.select()}
    assert Delivery.select().where(Delivery.lease_holder.is_null(False)).count() == 0  # leases given back
    assert Delivery.DELIVERED in states and Delivery.PENDING in states
    hub.dispatcher()
    settled(6)
    assert len({r.event_id for r in receiver.received()}) == 6


def test_redelivery_sends_the_same_event_again_marked(hub, receiver):
    (event,) = hub.emit(hub.payment(), "payment.created")
    hub.dispatcher()
    (original,) = settled(1)
    again = redeliver(original.id, hub.db)
    hub.outbox.written_one()
    settled(2)
    first, second = receiver.received()
    assert second.event_id == first.event_id == str(event.event_id) and second.body == first.body
    assert second.headers["Transient-Redelivery-Of"] == str(original.id)
    assert "Transient-Redelivery-Of" not in first.headers
    assert Delivery.get_by_id(again.id).redelivery_of_id == original.id


def test_event_log_lists_events_with_deliveries_and_attempts(hub, receiver):
    p = hub.payment()
    receiver.script(500)
    hub.emit(p, "payment.created", "payment.received")
    hub.dispatcher()
    settled(2)
    log = event_log(Payment.get_by_id(p.id), hub.renderer)
    assert [e["type"] for e in log] == ["payment.created", "payment.received"]
    assert [e["sequence"] for e in log] == [1, 2]
    first = log[0]["deliveries"][0]
    assert first["state"] == "delivered" and first["attempts"] == 2
    assert [a["status_code"] for a in first["log"]] == [500, 200]


def test_ping_reaches_the_receiver_signed(receiver):
    out = ping(Sender(SECRET, 5), receiver.url)
    (req,) = receiver.received()
    assert out.ok and out.status == 200
    body = webhooks.verify(req.body, req.headers["Transient-Signature"], SECRET)
    assert body["event"]["type"] == "ping" and req.headers["Transient-Event-Type"] == "ping"
    receiver.stop()
    down = ping(Sender(SECRET, 5), receiver.url)
    assert not down.ok and down.status is None and down.error


def test_concurrent_writers_and_dispatcher(hub, receiver):
    """Events written while the dispatcher runs: none is lost or sent twice."""
    hub.dispatcher(concurrency=4)
    payments = [hub.payment() for _ in range(8)]

    def writer(p):
        for _ in range(5):
            hub.emit(Payment.get_by_id(p.id), "payment.received")

    threads = [threading.Thread(target=writer, args=(p,)) for p in payments]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    settled(40)
    got = [(r.json["payment_id"], r.json["event"]["sequence"]) for r in receiver.received()]
    assert len(got) == len(set(got)) == 40
    for p in payments:
        assert [s for pid, s in got if pid == str(p.id)] == [1, 2, 3, 4, 5]


def test_each_transport_claims_only_its_own_targets(db, receiver):
    hub = Harness(db, receiver.url, extra_targets=["amqp:transient.events"])
    hub.emit(hub.payment(), "payment.created")
    assert sorted(d.url for d in Delivery.select()) == ["amqp:transient.events", receiver.url]
    http = hub.dispatcher(start=False)
    assert [d.url for d in http.claim(10)] == [receiver.url]
    assert http.claim(10) == []  # the amqp row stays for its own dispatcher

    class Other(Dispatcher):
        prefix = "amqp"

    other = Other(db, Sender(None, 5), FAST)
    assert [d.url for d in other.claim(10)] == ["amqp:transient.events"]
