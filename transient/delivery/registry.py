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


class TargetRegistry:
    """The ``delivery_target`` table of ``db``."""

    def __init__(self, db, clock=utcnow, monotonic=time.monotonic):
        self.db = db
        self.clock = clock
        self.monotonic = monotonic
        self._rows = {}  # target id -> (row, when read)
        self._lock = threading.Lock()

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
        """The registered config targets' URLs (read in the event's transaction)."""
        query = DeliveryTarget.select(DeliveryTarget.url).where(
            DeliveryTarget.kind.in_((DeliveryTarget.WEBHOOK, DeliveryTarget.AMQP)) & DeliveryTarget.deleted_at.is_null()
        )
        return [r.url for r in query.order_by(DeliveryTarget.id)]

    def greenfield(self, store_id=None):
        """The live Greenfield webhooks (of ``store_id`` if given), oldest first."""
        query = DeliveryTarget.select().where(
            (DeliveryTarget.kind == DeliveryTarget.GREENFIELD) & DeliveryTarget.deleted_at.is_null()
        )
        if store_id is not None:
            query = query.where(DeliveryTarget.store_id == store_id)
        return list(query.order_by(DeliveryTarget.id))

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
