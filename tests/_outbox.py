"""Shared by the delivery tests: payments and events written through the real outbox."""
import uuid

from _daemon import wait_for
from transient import status as S
from transient.db import write_transaction
from transient.models import Delivery, Event, Payment, utcnow
from transient.payments import PaymentService


class OutboxHarness:
    """An outbox on the test database; subclasses add the transport that drains it."""

    def __init__(self, db, outbox_factory):
        self.db = db
        self.service = PaymentService({}, db=db)
        self.outbox = outbox_factory(self.service)

    def payment(self, currency="LTC", callback_url=None):
        now = utcnow()
        return Payment.create(id=uuid.uuid4(), currency=currency, amount=100, address=uuid.uuid4().hex,
                              status=S.UNPAID, confirmations_required=1, created_at=now, updated_at=now,
                              callback_url=callback_url)

    def emit(self, payment, *types):
        """Write events of ``types`` for ``payment`` in one transaction; return the Event rows."""
        batch = self.outbox.batch(utcnow())
        before = payment.event_seq
        with write_transaction(self.db):
            for type in types:
                data = {"n": payment.event_seq + 1}
                if type == "payment.status_changed":
                    data.update({"from": S.UNPAID, "to": S.PENDING, "cause": "received"})
                batch.add(payment, type, data)
            batch.write()
        self.outbox.written(batch)
        return list(Event.select().where((Event.payment == payment.id) & (Event.sequence > before))
                    .order_by(Event.sequence))


def settled(count):
    """Wait until ``count`` deliveries exist and none is pending; return them."""
    def done():
        rows = list(Delivery.select().order_by(Delivery.id))
        return len(rows) == count and all(r.state != Delivery.PENDING for r in rows) and rows
    return wait_for(done, timeout=30)
