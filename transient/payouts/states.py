"""A payout's states and the moves between them: the one place that says which change
is allowed (the service, the sender and the watcher all ask ``move``)."""

from ..core.errors import Conflict

AWAITING_APPROVAL = "awaiting_approval"
APPROVED = "approved"
AWAITING_SIGNATURE = "awaiting_signature"
BROADCAST = "broadcast"
COMPLETED = "completed"
CANCELLED = "cancelled"
FAILED = "failed"
STATES = (AWAITING_APPROVAL, APPROVED, AWAITING_SIGNATURE, BROADCAST, COMPLETED, CANCELLED, FAILED)
OPEN = (AWAITING_APPROVAL, APPROVED, AWAITING_SIGNATURE, BROADCAST)  # may still be paid
COUNTED = (AWAITING_APPROVAL, APPROVED, AWAITING_SIGNATURE, BROADCAST, COMPLETED, FAILED)  # against a claim

# A payout is completed by any transaction paying it that confirms, whoever sent it, so
# every state that is not final may move to completed; a reorg takes completed back to
# broadcast; a conflict (double spend) makes broadcast failed, and failed goes back to approved.
MOVES = {
    AWAITING_APPROVAL: {APPROVED, CANCELLED, BROADCAST, COMPLETED},
    APPROVED: {AWAITING_SIGNATURE, BROADCAST, COMPLETED, CANCELLED},
    AWAITING_SIGNATURE: {APPROVED, BROADCAST, COMPLETED, CANCELLED},
    BROADCAST: {COMPLETED, FAILED},
    COMPLETED: {BROADCAST},
    FAILED: {APPROVED},
    CANCELLED: set(),
}

# Greenfield's payout states (PHP client: AwaitingApproval, AwaitingPayment, InProgress,
# Completed, Cancelled).
GREENFIELD = {
    AWAITING_APPROVAL: "AwaitingApproval",
    APPROVED: "AwaitingPayment",
    AWAITING_SIGNATURE: "AwaitingPayment",
    FAILED: "AwaitingPayment",
    BROADCAST: "InProgress",
    COMPLETED: "Completed",
    CANCELLED: "Cancelled",
}


def can_move(state, to):
    return to in MOVES[state]


def move(state, to):
    """Return ``to`` when a payout in ``state`` may move there, else raise Conflict."""
    if not can_move(state, to):
        raise Conflict("a payout that is %s cannot become %s" % (state, to), "state")
    return to
