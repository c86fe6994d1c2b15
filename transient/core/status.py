"""The status of a payment: a pure function of (amount, receipts, policy, now).

Nothing else in Transient decides a status. The sync loop and the expiry job
call :func:`evaluate` and store what it returns.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

UNPAID: Final = "UNPAID"
UNDERPAID: Final = "UNDERPAID"
PENDING: Final = "PENDING"
PAID: Final = "PAID"
OVERPAID: Final = "OVERPAID"
EXPIRED: Final = "EXPIRED"

STATUSES: Final[tuple[str, ...]] = (UNPAID, UNDERPAID, PENDING, PAID, OVERPAID, EXPIRED)
PAID_STATUSES: Final[tuple[str, ...]] = (PAID, OVERPAID)


@dataclass(frozen=True)
class Policy:
    confirmations: int = 1
    tolerance_bp: int = 0  # underpayment accepted, in basis points of the amount
    expires_at: datetime.datetime | None = None  # naive UTC


@dataclass(frozen=True)
class Coin:
    """What the status function needs to know of one output paid to the payment.

    ``confirmations`` is negative for an output whose transaction conflicts with
    the main chain; ``counted`` is False for one whose block was disconnected and
    that the node did not list again.
    """

    amount: int
    confirmations: int
    first_seen: datetime.datetime | None = None  # naive UTC
    counted: bool = True


@dataclass(frozen=True)
class Summary:
    status: str
    received: int  # seen and not conflicted: in the mempool or in a block
    pending: int  # part of ``received`` without the required confirmations
    confirmed: int
    due: int  # what the customer still has to send
    paid_late: bool = False

    @property
    def paid(self) -> bool:
        return self.status in PAID_STATUSES


def required_amount(amount: int, tolerance_bp: int) -> int:
    """Return the least amount that counts as paid in full (rounded up, exact)."""
    return -(-amount * (10000 - tolerance_bp) // 10000)


def evaluate(amount: int, coins: Iterable[Coin], policy: Policy, now: datetime.datetime) -> Summary:
    """Return the :class:`Summary` of a payment of ``amount`` base units."""
    live = [c for c in coins if c.counted and c.confirmations >= 0]
    received = sum(c.amount for c in live)
    confirmed = sum(c.amount for c in live if c.confirmations >= policy.confirmations)
    need = required_amount(amount, policy.tolerance_bp)
    due = max(0, amount - received) if received < need else 0
    expires = policy.expires_at
    if expires is not None and now >= expires:
        # Seen in time (even unconfirmed) means the customer paid in time.
        in_time = sum(c.amount for c in live if c.first_seen is None or c.first_seen < expires)
        if in_time < need:
            return Summary(EXPIRED, received, received - confirmed, confirmed, due, paid_late=received >= need)
    if received == 0:
        status = UNPAID
    elif received < need:
        status = UNDERPAID
    elif confirmed < need:
        status = PENDING
    elif confirmed > amount:
        status = OVERPAID
    else:
        status = PAID
    return Summary(status, received, received - confirmed, confirmed, due)


def receipt_state(confirmations: int, required: int) -> str:
    """Return the ledger state of an output with ``confirmations`` for a payment needing ``required``."""
    if confirmations < 0:
        return "conflicted"
    return "confirmed" if confirmations >= required else "pending"
