"""The outbox: events written in the same transaction as the change they describe."""
import json
import uuid

from .models import Event, Payment, utcnow


def record(payment, type, data=None, now=None, uuidgen=uuid.uuid4):
    """Append an event of ``type`` to ``payment``'s outbox; return the Event.

    Must be called inside the transaction that changes the payment: the
    per-payment sequence number is taken from the payment row, which that
    transaction already holds for writing.
    """
    payment.event_seq += 1
    Payment.update(event_seq=payment.event_seq).where(Payment.id == payment.id).execute()
    return Event.create(
        event_id=uuidgen(),
        payment=payment.id,
        sequence=payment.event_seq,
        type=type,
        data=json.dumps(data or {}, sort_keys=True),
        created_at=now or utcnow(),
    )


STATUS_CHANGED = "payment.status_changed"


def history(payment_id, type=None):
    """Return the payment's events (of ``type`` if given), oldest first."""
    query = Event.select().where(Event.payment == payment_id)
    if type is not None:
        query = query.where(Event.type == type)
    return list(query.order_by(Event.sequence))
