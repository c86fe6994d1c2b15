"""The names of the events a payment goes through (the outbox's ``type`` column and
the ``event.type`` of every webhook and AMQP message)."""
STATUS_CHANGED = "payment.status_changed"
CREATED = "payment.created"
RECEIVED = "payment.received"
CONFIRMED = "payment.confirmed"
LATE = "payment.late"
REVERTED = "payment.reverted"
TYPES = (CREATED, STATUS_CHANGED, RECEIVED, CONFIRMED, LATE, REVERTED)
