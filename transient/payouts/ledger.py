"""The one writer of a payout's state: every change goes through :func:`change`, which
checks the move (states.move), stamps the row, queues its outbox event and saves it, in
the caller's transaction (the service's, the sender's or the watcher's)."""

import zlib

from ..core import events as event_types
from ..store.db import is_sqlite
from . import rendering, states


def change(payout, to, events, now, decimals=8, **fields):
    """Move ``payout`` to state ``to`` (raises Conflict when it may not), set ``fields``,
    queue its event in ``events`` (an outbox PayoutEvents) and save it."""
    before = payout.state
    payout.state = states.move(before, to)
    for name, value in fields.items():
        setattr(payout, name, value)
    payout.revision += 1
    payout.updated_at = now
    if to == states.APPROVED and payout.approved_at is None:
        payout.approved_at = now
    if to == states.COMPLETED:
        payout.completed_at = now
    elif payout.completed_at is not None:
        payout.completed_at = None  # a reorg took its block away
    kind = event_types.PAYOUT_APPROVED if to == states.APPROVED else event_types.PAYOUT_UPDATED
    events.add(payout, rendering.payout(payout, decimals), kind, {"from": before, "to": to})
    payout.save()
    return payout


def created(payout, events, decimals=8):
    """Queue the ``payout.created`` event of a payout about to be inserted."""
    events.add(payout, rendering.payout(payout, decimals), event_types.PAYOUT_CREATED, {"state": payout.state})


def lock_coin(db, currency):
    """Serialize the approvals of one coin until the transaction ends (the daily cap is
    read, then written). SQLite's write transaction is already exclusive; PostgreSQL
    takes a transaction-scoped advisory lock (works behind a transaction pooler)."""
    if not is_sqlite(db):
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (zlib.crc32(("payouts:" + currency).encode()),))
