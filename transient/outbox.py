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


def history(payment_id):
    """Return the payment's events, oldest first."""
    return list(Event.select().where(Event.payment == payment_id).order_by(Event.sequence))
