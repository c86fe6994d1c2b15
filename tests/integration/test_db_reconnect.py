"""A lost PostgreSQL connection (pg_terminate_backend on the session's test database) is
replaced on the next use; a transaction lost half-way runs again whole, once."""

import pytest
from _ledger_cases import T0, FakeNode, make_payment, out, tip
from _outbox import OutboxHarness
from _pg_faults import terminate_backends
from _receiver import Receiver

from transient.chain.backend import Changes
from transient.chain.sync import Syncer
from transient.core import faults
from transient.core import status as S
from transient.delivery.dispatcher import Dispatcher
from transient.delivery.sender import Sender
from transient.store.models import Delivery, DeliveryAttempt, Event, Payment, Receipt

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


def test_reads_and_writes_work_again_after_the_backends_are_terminated(db, db_url):
    make_payment()
    assert Payment.select().count() == 1
    assert terminate_backends(db_url) >= 1
    assert Payment.select().count() == 1  # before: InterfaceError / OperationalError for good
    make_payment(address="addr2")  # a write outside a transaction
    assert Payment.select().count() == 2
    report = db.outages.report()
    assert report["outages"] == 1 and report["down_since"] is None
    assert report["last_error"] and "OperationalError" in report["last_error"]
    assert report["last_recovered_at"] is not None


def test_every_thread_gets_a_new_connection(db, db_url):
    from concurrent.futures import ThreadPoolExecutor

    make_payment()
    with ThreadPoolExecutor(4) as pool:  # the same four threads, each with its own connection
        assert list(pool.map(lambda _: Payment.select().count(), range(8))) == [1] * 8
        terminate_backends(db_url)
        assert list(pool.map(lambda _: Payment.select().count(), range(8))) == [1] * 8


def test_a_sync_whose_connection_is_lost_half_way_runs_again_whole(db, db_url, monkeypatch):
    p = make_payment(amount=100)
    listing = Changes(tip=tip(5), outputs=[out("t1", 100, 1, height=5)], removed=[])
    node = FakeNode(listing, listing)
    terminated = []
    real_point = faults.point

    def point(name):
        # Inside the sync's write transaction, after the ledger changed rows: the
        # connection goes away, as in a database restart.
        if name == "sync.after_apply" and not terminated:
            terminated.append(terminate_backends(db_url))
        real_point(name)

    monkeypatch.setattr(faults, "point", point)
    syncer = Syncer("LTC", node, 1, db, outbox=OutboxHarness(db).outbox, clock=lambda: T0)
    assert syncer.run() == 1  # before: the error escaped and the payment stayed UNPAID
    assert terminated == [1]
    assert len(node.cursors) == 2  # listed again from the stored cursor: the round ran twice
    assert Payment.get_by_id(p.id).status == S.PAID
    assert Receipt.select().count() == 1
    types = [e.type for e in Event.select().where(Event.payment == p.id).order_by(Event.sequence)]
    assert types.count("payment.received") == 1 and types.count("payment.confirmed") == 1
    assert len(types) == len(set((e.sequence) for e in Event.select().where(Event.payment == p.id)))


def test_the_dispatcher_records_once_when_the_connection_is_lost_before_the_record(db, db_url):
    receiver = Receiver().start()
    try:
        h = OutboxHarness(db, receiver.url)
        payment = h.payment()
        h.emit(payment, "payment.created", "payment.received")
        dispatcher = Dispatcher(db, Sender(None, 5), [0.05], 4)

        real_record = dispatcher.record

        def record(outcomes):
            if not getattr(record, "done", False):
                record.done = True
                terminate_backends(db_url)  # between the attempts and their record
            real_record(outcomes)

        dispatcher.record = record
        outcomes = dispatcher.run_once()
        outcomes += dispatcher.run_once()
        assert [o.status for o in outcomes] == [200, 200]
        assert Delivery.select().where(Delivery.state == Delivery.DELIVERED).count() == 2
        assert DeliveryAttempt.select().count() == 2
        assert len(receiver.received()) == 2
    finally:
        receiver.stop()
