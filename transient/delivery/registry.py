"""The delivery targets kept in the database: whichever process creates an event (the
daemon, a CLI with a bare environment) queues the same deliveries.

The daemon registers its configured webhook URL and AMQP exchange at start-up (and
retires the ones its config no longer names); Greenfield webhooks are rows of their own
kind, with their own secret and events, signed ``BTCPay-Sig: sha256=<hex>``.
"""

import threading
import time

from ..core.clock import utcnow
from ..store.db import write_transaction
from ..store.models import DeliveryTarget
from . import kinds

TTL = 5.0  # seconds a process trusts the secrets and retry rules it read (the dispatcher's sends)
# One integer that grows in the transaction of every change of delivery_target (a trigger
# of migration 0019): a process keeps the live targets and rereads them when it moved.
VERSION = 'SELECT "version" FROM "delivery_target_version" WHERE "id" = 1'


class TargetRegistry:
    """The ``delivery_target`` table of ``db``."""

    def __init__(self, db, clock=utcnow, monotonic=time.monotonic):
        self.db = db
        self.clock = clock
        self.monotonic = monotonic
        self._rows = {}  # target id -> (row, when read)
        self._lock = threading.Lock()
        self._live = (None, (), ())  # (version, config URLs, Greenfield rows) as last read

    def register_config(self, urls):
        """Make ``urls`` (the daemon's ``[webhook] url`` and ``amqp:<exchange>``) the
        registered config targets: add the new ones, retire the others. Return the URLs."""
        urls = [u for u in dict.fromkeys(urls) if u]
        now = self.clock()
        kinds = (DeliveryTarget.WEBHOOK, DeliveryTarget.AMQP)
        with write_transaction(self.db):
            rows = {r.url: r for r in DeliveryTarget.select().where(DeliveryTarget.kind.in_(kinds))}
            for url, row in rows.items():
                if url not in urls and row.deleted_at is None:
                    row.deleted_at = row.updated_at = now
                    row.save(only=[DeliveryTarget.deleted_at, DeliveryTarget.updated_at])
            for url in urls:
                kind = DeliveryTarget.AMQP if url.startswith("amqp:") else DeliveryTarget.WEBHOOK
                row = rows.get(url)
                if row is None:
                    DeliveryTarget.create(kind=kind, url=url, created_at=now, updated_at=now)
                elif row.deleted_at is not None:
                    row.deleted_at, row.updated_at = None, now
                    row.save(only=[DeliveryTarget.deleted_at, DeliveryTarget.updated_at])
        return urls

    def urls(self):
        """The registered config targets' URLs (checked in the event's transaction)."""
        return list(self._current()[1])

    def greenfield(self, store_id=None):
        """The live Greenfield webhooks (of ``store_id`` if given), oldest first. The rows
        are shared by every caller of this process: read them, never change them."""
        hooks = self._current()[2]
        return [h for h in hooks if store_id is None or h.store_id == store_id]

    def _current(self):
        """``(version, urls, greenfield rows)``: the kept ones while the version row says
        nothing changed (one integer read; an ORM select of the targets on every create
        was a seventh of its cost), else read again. Called inside the caller's
        transaction, so a target committed before it is seen by it."""
        version = self.db.execute_sql(VERSION).fetchone()[0]
        live = self._live
        if live[0] == version:
            return live
        rows = list(DeliveryTarget.select().where(DeliveryTarget.deleted_at.is_null()).order_by(DeliveryTarget.id))
        config = (DeliveryTarget.WEBHOOK, DeliveryTarget.AMQP)
        live = (
            version,
            tuple(r.url for r in rows if r.kind in config),
            tuple(r for r in rows if r.kind == DeliveryTarget.GREENFIELD),
        )
        with self._lock:
            self._live = live
        return live

    def row(self, target_id):
        """The target row ``target_id`` (kept for TTL seconds), or None."""
        now = self.monotonic()
        with self._lock:
            kept = self._rows.get(target_id)
        if kept is not None and now - kept[1] < TTL:
            return kept[0]
        row = DeliveryTarget.get_or_none(DeliveryTarget.id == target_id)
        with self._lock:
            self._rows[target_id] = (row, now)
        return row

    def forget(self, target_id):
        """Drop what this process kept of ``target_id`` (it was changed here)."""
        with self._lock:
            self._rows.pop(target_id, None)

    def headers(self, target_id, body):
        """Return ``(headers, retry)`` for a delivery to the target ``target_id``: a
        Greenfield webhook's are its own (``BTCPay-Sig`` under its secret), and it is
        retried only with ``automaticRedelivery``. None when the target was deleted or
        disabled since the delivery was queued."""
        row = self.row(target_id)
        kind = kinds.of(row.url, row) if row is not None else kinds.GREENFIELD
        headers = kind.headers(None, body, row, None)
        return None if headers is None else (headers, kind.retries(row))
