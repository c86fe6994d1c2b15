"""The names of the events a payment goes through (the outbox's ``type`` column and
the ``event.type`` of every webhook and AMQP message)."""

from typing import Final

STATUS_CHANGED: Final = "payment.status_changed"
CREATED: Final = "payment.created"
RECEIVED: Final = "payment.received"
CONFIRMED: Final = "payment.confirmed"
LATE: Final = "payment.late"
REVERTED: Final = "payment.reverted"
TYPES: Final[tuple[str, ...]] = (CREATED, STATUS_CHANGED, RECEIVED, CONFIRMED, LATE, REVERTED)
