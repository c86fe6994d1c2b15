"""Shared by the delivery tests: payments and events written through the real outbox."""

import uuid

from _daemon import wait_for

from transient.core import status as S
from transient.core.clock import utcnow
from transient.delivery.outbox import Outbox
from transient.payments.rendering import Renderer
from transient.store.db import write_transaction
from transient.store.models import Delivery, Event, Payment


class OutboxHarness:
    """An outbox on the test database; subclasses add the transport that drains it."""

    def __init__(self, db, webhook_url=None, extra_targets=()):
        self.db = db
        self.renderer = Renderer({})
        self.listeners = []  # the wake() of each transport the test started
        self.outbox = Outbox(self.renderer, webhook_url, extra_targets, listeners=[self._wake])

    def _wake(self):
        for wake in self.listeners:
            wake()

    def payment(self, currency="LTC", callback_url=None):
        now = utcnow()
        return Payment.create(
            id=uuid.uuid4(),
            currency=currency,
            amount=100,
            address=uuid.uuid4().hex,
            status=S.UNPAID,
            confirmations_required=1,
            created_at=now,
            updated_at=now,
            callback_url=callback_url,
        )

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
        return list(
            Event.select().where((Event.payment == payment.id) & (Event.sequence > before)).order_by(Event.sequence)
        )


def settled(count):
    """Wait until ``count`` deliveries exist and none is pending; return them."""

    def done():
        rows = list(Delivery.select().order_by(Delivery.id))
        return len(rows) == count and all(r.state != Delivery.PENDING for r in rows) and rows

    return wait_for(done, timeout=30)
