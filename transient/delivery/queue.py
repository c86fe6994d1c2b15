"""The one writer of delivery rows: every delivery (an event's, a projection's, a
redelivery) is inserted here, in the caller's transaction.

A row is a dict of ``event``, ``payment``, ``sequence``, ``url``, ``body`` and, where
they apply, ``target`` (a registered target's row id), ``public_id`` (the id its body
carries), ``redelivery_of``, ``payout_id`` (a payout's event: ``payment`` is None),
``next_attempt_at`` and ``created_at`` (both default to ``now``). What goes in the body
and who gets which event is the kind's (:mod:`.kinds`)."""

from ..store.db import chunks
from ..store.models import Delivery, DeliveryTarget
from . import kinds as target_kinds

# Rows per INSERT: each binds 12 values, so 200 rows stay under SQLite's (3.32+) and
# PostgreSQL's parameter limits, and a block's thousands of deliveries take a few statements.
CHUNK = 200
_COLUMNS = (
    "event",
    "payment",
    "sequence",
    "url",
    "body",
    "state",
    "next_attempt_at",
    "created_at",
    "target",
    "public_id",
    "redelivery_of",
    "payout_id",
)
_OPTIONAL = {"target": None, "public_id": None, "redelivery_of": None, "payout_id": None, "state": Delivery.PENDING}


def queue(rows, now=None):
    """Insert the delivery ``rows`` (dicts, see the module); return how many. The
    statement's text is written here: building it with the ORM cost more than running it
    (a block's settling queues thousands)."""
    if not rows:
        return 0
    fields = [Delivery._meta.fields[c] for c in _COLUMNS]
    db = Delivery._meta.database
    one = "(%s, 0)" % ", ".join([db.param] * len(fields))
    head = 'INSERT INTO "delivery" (%s, "attempts") VALUES ' % ", ".join('"%s"' % f.column_name for f in fields)
    for part in chunks(rows, CHUNK):
        values = []
        for row in part:
            full = {"next_attempt_at": now, "created_at": now, **_OPTIONAL, **row}
            values += [f.db_value(full[f.name]) for f in fields]
        db.execute_sql(head + ", ".join([one] * len(part)), values)
    return len(rows)


def redeliver(original, now, kinds=target_kinds.KINDS):
    """Queue a new delivery of ``original``'s event to its target, as its kind copies it
    (a Greenfield webhook's gets a new ``deliveryId``); return the new Delivery row."""
    target = None
    if original.target_id is not None:
        target = DeliveryTarget.get_or_none(DeliveryTarget.id == original.target_id)
    kind = target_kinds.of(original.url, target, kinds)
    row = dict(
        event=original.event_id,
        payment=original.payment_id,
        payout_id=original.payout_id,
        sequence=original.sequence,
        target=original.target_id,
        redelivery_of=original.id,
        **kind.redelivery(original, target, now),
    )
    # One row, and its id wanted: the ORM's insert (RETURNING on PostgreSQL, lastrowid on SQLite).
    new = Delivery.insert(**{"next_attempt_at": now, "created_at": now, **_OPTIONAL, **row}).execute()
    return Delivery.get_by_id(new)
