"""Shared by the delivery benchmarks: queue events through the real outbox."""

import time
import uuid

from transient.core import status as S
from transient.core.clock import utcnow
from transient.delivery.outbox import Outbox
from transient.payments.rendering import Renderer
from transient.store.db import write_transaction
from transient.store.models import Delivery, DeliveryAttempt, Event, Payment

EVENTS = ("payment.created", "payment.received", "payment.status_changed", "payment.confirmed")


def fill(db, target, n):
    """Empty the outbox, then queue ``n`` events for ``target`` (a webhook URL or
    "amqp:<exchange>"), 4 per payment, through the real outbox; return seconds taken."""
    DeliveryAttempt.delete().execute()
    Delivery.delete().execute()
    Event.delete().execute()
    Payment.delete().execute()
    outbox = Outbox(Renderer({}), None, extra_targets=[target])
    started = time.perf_counter()
    payments = n // len(EVENTS)
    for start in range(0, payments, 250):
        now = utcnow()
        batch = outbox.batch(now)
        with write_transaction(db):
            for _ in range(min(250, payments - start)):
                p = Payment.create(
                    id=uuid.uuid4(),
                    currency="LTC",
                    amount=100000,
                    address=uuid.uuid4().hex,
                    status=S.UNPAID,
                    confirmations_required=1,
                    created_at=now,
                    updated_at=now,
                )
                for type in EVENTS:
                    data = {"from": S.UNPAID, "to": S.PENDING, "cause": "received"} if type.endswith("changed") else {}
                    batch.add(p, type, data)
            batch.write()
    return time.perf_counter() - started
