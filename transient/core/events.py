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

# A payout's events (transient.payouts): created, approved, and every other change of state
# (data: {"from": state, "to": state}). Greenfield's PayoutCreated, PayoutApproved, PayoutUpdated.
PAYOUT_CREATED: Final = "payout.created"
PAYOUT_APPROVED: Final = "payout.approved"
PAYOUT_UPDATED: Final = "payout.updated"
PAYOUT_TYPES: Final[tuple[str, ...]] = (PAYOUT_CREATED, PAYOUT_APPROVED, PAYOUT_UPDATED)
