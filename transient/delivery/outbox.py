"""The outbox: events written in the same transaction as the change they describe,
each with one delivery row per webhook target, holding the exact body to send.

A change collects its events in an :class:`EventBatch`; ``write()`` stores them,
at the end of the change's transaction, when the payment is in its final state:
every event of one transaction carries the same snapshot of the payment.
"""

import json
import sqlite3
import sys
import uuid

from ..core.events import CREATED as PAYMENT_CREATED
from ..core.ids import uuid4 as random_uuid
from ..ops import lifecycle
from ..store.db import is_sqlite
from ..store.models import Event, Payment
from . import kinds, queue

# Events per write() step: their rows and bodies are made and dropped per step.
CHUNK = 200


class Outbox:
    """Makes event batches and says when their deliveries are committed.

    ``renderer`` has ``render(payment, tip_height=...)`` and ``render_event(event,
    currency)`` (needed only when there are targets); ``webhook_url`` is the global
    webhook target, ``extra_targets`` other transports' (``amqp:<exchange>``);
    ``listeners`` are called, without arguments, after a commit that queued
    deliveries (the dispatcher's and the AMQP publisher's ``wake``).

    ``registry`` (a :class:`~transient.delivery.registry.TargetRegistry`) adds the targets
    registered in the database, so a process without the daemon's config queues the
    daemon's deliveries too. ``projections`` turn events into other views' deliveries in
    the same transaction: each has ``project(events, payments, now)`` (events: ``(event
    uuid, payment id, sequence, type, data)``) returning how many deliveries it queued.
    """

    def __init__(
        self,
        renderer=None,
        webhook_url=None,
        extra_targets=(),
        listeners=(),
        uuidgen=random_uuid,
        registry=None,
        projections=(),
    ):
        self.renderer = renderer
        self.webhook_url = webhook_url
        self.extra_targets = tuple(extra_targets)
        self.listeners = tuple(listeners)
        self.uuidgen = uuidgen
        self.registry = registry
        self.projections = list(projections)

    def batch(self, now, tip_height=None):
        return EventBatch(self, now, tip_height)

    def payout_batch(self, now):
        """A batch of payout events (see :class:`PayoutEvents`)."""
        return PayoutEvents(self, now)

    def targets(self, payment, registered=()):
        """The URLs ``payment``'s events go to: the registered ones (``registered``), this
        process's configured ones and the payment's own callback."""
        urls = [u for u in (self.webhook_url, payment.callback_url, *self.extra_targets, *registered) if u]
        return list(dict.fromkeys(urls))

    def registered(self):
        """The targets registered in the database (none without a registry)."""
        return self.registry.urls() if self.registry is not None else ()

    def written(self, batch):
        """Call after the batch's transaction committed: wake the dispatcher, then say
        what happened (ops.lifecycle: the lines and the counters, once per event)."""
        if batch.deliveries:
            self.written_one()
        lifecycle.committed(batch.added)
        batch.added = []

    def written_one(self):
        """A delivery was queued and committed: tell the listeners."""
        for listener in self.listeners:
            listener()


class EventBatch:
    """The events of one transaction."""

    def __init__(self, outbox, now, tip_height=None):
        self.outbox = outbox
        self.now = now
        self.tip_height = tip_height
        self.pending = []  # (payment id, sequence, type, data)
        self.payments = {}  # payment id -> the latest Payment instance seen
        self.seq = {}  # payment id -> last sequence number given out
        self.new = set()  # payments created in this transaction: no receipts, no history yet
        self.deliveries = 0
        self.added = []  # (payment id, currency, type, data) of every event, for ops.lifecycle

    def add(self, payment, type, data=None):
        """Queue an event of ``type``; its sequence number is taken at once."""
        pid = payment.id
        seq = max(self.seq.get(pid, 0), payment.event_seq) + 1
        self.seq[pid] = payment.event_seq = seq
        self.payments[pid] = payment
        if type == PAYMENT_CREATED:
            self.new.add(pid)
        self.pending.append((pid, seq, type, data or {}))
        # One string per currency, not one per row: the batch keeps these until the commit.
        self.added.append((pid, sys.intern(payment.currency), type, data or {}))

    def write(self):
        """Store the queued events and their deliveries; return how many events.

        Must run inside the transaction of the change, after the payments of the queued
        events reached their final state in it. It may run more than once in one
        transaction (a block's settling writes each chunk of payments' events), each time
        for what was queued since. Works CHUNK events at a time, rows and bodies made and
        dropped per chunk: a block that pays thousands must not hold them all at once
        (the worker would keep the memory of that peak).
        """
        if not self.pending:
            return 0
        last = {pid: i for i, (pid, _, _, _) in enumerate(self.pending)}
        registered = self.outbox.registered()
        for start, end in self._chunks(last):
            made = [
                (self.outbox.uuidgen(), pid, seq, type, json.dumps(data, sort_keys=True))
                for pid, seq, type, data in self.pending[start:end]
            ]
            targets = [self.outbox.targets(self.payments[pid], registered) for _, pid, _, _, _ in made]
            # The deliveries need the events' row ids; without any, one executemany is enough.
            ids = _insert_events(made, self.now, returning=any(targets))
            self.deliveries += queue.queue(self._rows(made, targets, ids), self.now)
            for projection in self.outbox.projections:
                self.deliveries += projection.project(made, self.payments, self.now, new=self.new)
        self._save_sequences(last)
        count, self.pending = len(self.pending), []
        return count

    def _rows(self, made, targets, ids):
        """The delivery rows of the chunk's events ``made`` to their ``targets`` (URLs):
        Transient's body, one snapshot of each payment for all its events in the chunk."""
        rows, snapshots = [], {}  # payment id -> its snapshot (a chunk holds all its events)
        receipts, changes = self._prefetch(made, targets)
        for (event_id, pid, seq, type, data), urls in zip(made, targets):
            if not urls:
                continue
            payment = self.payments[pid]
            snapshot = snapshots.get(pid)
            if snapshot is None:
                snapshot = snapshots[pid] = self.outbox.renderer.render(
                    payment,
                    receipts=receipts.get(pid, []) if receipts is not None else None,
                    tip_height=self.tip_height,
                    new=pid in self.new,
                    changes=changes.get(pid, []) if changes is not None else None,
                )
            event = Event(id=ids[event_id], event_id=event_id, payment=pid, sequence=seq, type=type, data=data)
            event.created_at = self.now
            rendered = self.outbox.renderer.render_event(event, payment.currency)
            for url in urls:
                kind = kinds.of(url)
                if kind.wants(None, type):
                    body = kind.body(snapshot, rendered)
                    rows.append(dict(event=event.id, payment=pid, sequence=seq, url=url, body=body))
        return rows

    def _save_sequences(self, last):
        """Store each touched payment's last sequence number (``last``: its payments) and
        forget them. A new payment's row was inserted with its sequence already."""
        moved = [(self.seq[pid], Payment.id.db_value(pid)) for pid in last if pid not in self.new]
        if moved:
            db = Payment._meta.database
            update = 'UPDATE "payment" SET "event_seq" = %s WHERE "id" = %s' % (db.param, db.param)
            db.cursor().executemany(update, moved)
        for pid in last:
            del self.payments[pid]

    def _prefetch(self, made, targets):
        """The receipts and status changes of the chunk's payments that get a snapshot and
        are not new, in one query each (``(None, None)``: the renderer fetches its own)."""
        pids = sorted({pid for (_, pid, _, _, _), urls in zip(made, targets) if urls and pid not in self.new}, key=str)
        prefetch = getattr(self.outbox.renderer, "prefetch", None)
        if prefetch is None:
            return None, None
        return prefetch(pids) if pids else ({}, {})

    def _chunks(self, last):
        """``(start, end)`` slices of ``pending`` of about CHUNK events that never split a
        payment's events (``last``: payment id -> index of its last event): its snapshot
        is rendered once all its events are stored, so its history shows them all."""
        start = 0
        while start < len(self.pending):
            end = min(start + CHUNK, len(self.pending))
            reach = max(last[pid] for pid, _, _, _ in self.pending[start:end]) + 1
            while reach > end:
                end, reach = reach, max(reach, max(last[pid] for pid, _, _, _ in self.pending[end:reach]) + 1)
            yield start, end
            start = end


class PayoutEvents:
    """The payout events of one transaction: each an ``Event`` row of the payout (its
    ``payout_id``; no payment) and one ``Delivery`` per registered and configured target,
    with the body ``{"payout_id", "state", "event", "payout"}`` (the payout as it is after
    the change). Greenfield's payout webhooks come from the projections' ``project_payouts``.
    """

    def __init__(self, outbox, now):
        self.outbox = outbox
        self.now = now
        self.pending = []  # (payout id, sequence, type, data, snapshot)
        self.deliveries = 0
        self.added = []  # ops.lifecycle speaks of payments only

    def add(self, payout, snapshot, type, data=None):
        """Queue an event of ``type`` for ``payout`` (a Payout row: its ``event_seq`` grows
        here, so the caller saves the row after) with ``snapshot``, its JSON-ready view."""
        payout.event_seq += 1
        self.pending.append((payout.id, payout.event_seq, type, data or {}, snapshot))

    def write(self):
        """Store the queued events and their deliveries, inside the change's transaction;
        return how many events."""
        registered = self.outbox.registered()
        urls = list(dict.fromkeys(u for u in (self.outbox.webhook_url, *self.outbox.extra_targets, *registered) if u))
        made = []
        for pid, seq, type, data, snapshot in self.pending:
            event = Event.create(
                event_id=self.outbox.uuidgen(),
                payment=None,
                payout_id=pid,
                sequence=seq,
                type=type,
                data=json.dumps(data, sort_keys=True),
                created_at=self.now,
            )
            made.append((event, snapshot))
            rendered = {
                "id": str(event.event_id),
                "type": type,
                "sequence": seq,
                "created_at": snapshot.get("updated_at"),
                "data": data,
            }
            body = json.dumps(
                {"payout_id": pid, "state": snapshot["state"], "event": rendered, "payout": snapshot},
                separators=(",", ":"),
            )
            rows = [dict(event=event.id, payment=None, payout_id=pid, sequence=seq, url=url, body=body) for url in urls]
            self.deliveries += queue.queue(rows, self.now)
        for projection in self.outbox.projections:
            project = getattr(projection, "project_payouts", None)
            if project is not None and made:
                self.deliveries += project(made, self.now)
        count, self.pending = len(self.pending), []
        return count


_EVENT_FIELDS = (Event.event_id, Event.payment, Event.sequence, Event.type, Event.data, Event.created_at)


def _insert_events(made, now, returning):
    """Insert the events ``made`` (``(uuid, payment id, sequence, type, data text)``);
    return ``{event uuid: row id}`` when ``returning``, else nothing. A few statements per
    CHUNK events, not one per event (a block can pay thousands), their text written here:
    building them with the ORM cost more than running them."""
    db = Event._meta.database
    insert = 'INSERT INTO "event" (%s) VALUES (%s)' % (
        ", ".join('"%s"' % f.column_name for f in _EVENT_FIELDS),
        ", ".join([db.param] * len(_EVENT_FIELDS)),
    )
    created_at = Event.created_at.db_value(now)
    values = [
        (Event.event_id.db_value(event_id), Payment.id.db_value(pid), seq, type, data, created_at)
        for event_id, pid, seq, type, data in made
    ]
    if not returning:
        db.cursor().executemany(insert, values)
        return {}
    return _insert_returning(db, insert, values, len(_EVENT_FIELDS))


def store_event(payment_id, type, data, now, uuidgen=random_uuid):
    """Store one event of the payment ``payment_id`` outside a batch (a merchant's mark of
    a Greenfield invoice: it has no Transient delivery), the next of its sequence; return
    ``(event row id, sequence)``. Runs in the caller's transaction."""
    payment = Payment.get(Payment.id == payment_id)
    seq = payment.event_seq + 1
    Payment.update(event_seq=seq).where(Payment.id == payment_id).execute()
    ids = _insert_events([(uuidgen(), payment_id, seq, type, json.dumps(data))], now, returning=True)
    return next(iter(ids.values())), seq


def _insert_returning(db, insert, values, width):
    """Insert the event rows ``values``; return ``{event uuid: row id}``. One statement
    (a multi-row INSERT ... RETURNING) where the database has RETURNING, else an
    executemany and a SELECT of the new ids."""
    if not is_sqlite(db) or sqlite3.sqlite_version_info >= (3, 35):
        row = "(%s)" % ", ".join([db.param] * width)
        head = insert.split(" VALUES ")[0]
        sql = '%s VALUES %s RETURNING "event_id", "id"' % (head, ", ".join([row] * len(values)))
        found = db.execute_sql(sql, [v for value in values for v in value]).fetchall()
    else:
        db.cursor().executemany(insert, values)
        keys = [value[0] for value in values]
        found = db.execute_sql(
            'SELECT "event_id", "id" FROM "event" WHERE "event_id" IN (%s)' % ", ".join([db.param] * len(keys)), keys
        ).fetchall()
    return {uuid.UUID(str(event_id)): rid for event_id, rid in found}
