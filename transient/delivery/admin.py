"""The outbox as the operator sees it: a payment's event log, one delivery rendered,
redelivery, the newest and the failed deliveries, and the test ping."""

import re
import uuid

from peewee import fn

from ..core.clock import iso, utcnow
from ..core.errors import NotFound
from ..core.redact import redact, scrub
from ..store.db import chunks, write_transaction
from ..store.models import Delivery, DeliveryAttempt, Event
from . import kinds, queue

_ID = re.compile(r"[0-9]{1,19}")


def event_log(payment, renderer):
    """Return the payment's events, oldest first, each with its deliveries and their attempts."""
    events = list(Event.select().where(Event.payment == payment.id).order_by(Event.sequence))
    deliveries = {}
    for d in Delivery.select().where(Delivery.payment == payment.id).order_by(Delivery.id):
        deliveries.setdefault(d.event_id, []).append(d)
    attempts = {}
    ids = [d.id for ds in deliveries.values() for d in ds]
    for part in chunks(ids):
        query = DeliveryAttempt.select().where(DeliveryAttempt.delivery.in_(part))
        for a in query.order_by(DeliveryAttempt.number, DeliveryAttempt.id):
            attempts.setdefault(a.delivery_id, []).append(a)
    out = []
    for event in events:
        item = renderer.render_event(event, payment.currency)
        item["deliveries"] = [render_delivery(d, attempts.get(d.id, [])) for d in deliveries.get(event.id, [])]
        out.append(item)
    return out


def render_delivery(d, attempts=None):
    """Return the JSON-ready dict of a delivery and its ``attempts``: the URL redacted,
    errors and answers scrubbed of its credentials (rows stored before were not)."""
    if attempts is None:
        attempts = list(d.log.order_by(DeliveryAttempt.number))
    return {
        "id": d.id,
        "url": redact(d.url),
        "state": d.state,
        "attempts": d.attempts,
        "next_attempt_at": iso(d.next_attempt_at) if d.state == Delivery.PENDING else None,
        "delivered_at": iso(d.delivered_at),
        "last_status": d.last_status,
        "last_error": scrub(d.last_error, d.url),
        "redelivery_of": d.redelivery_of_id,
        "created_at": iso(d.created_at),
        "log": [
            {
                "attempt": a.number,
                "at": iso(a.started_at),
                "status_code": a.status_code,
                "error": scrub(a.error, d.url),
                "duration_ms": a.duration_ms,
                "response": scrub(a.response, d.url),
                "retry_at": iso(a.retry_at),
            }
            for a in attempts
        ],
    }


def redeliver(delivery_id, db=None, now=None):
    """Queue a new delivery of the same event to the same target, as its kind copies it
    (the same body and URL for Transient's own; a new ``deliveryId`` for a Greenfield
    webhook's); return it."""
    text = str(delivery_id)
    # Ids are positive signed 64-bit integers of ASCII digits: anything else names no delivery
    # (and 2**63 would overflow SQLite's integer binding).
    if not _ID.fullmatch(text) or int(text) >= 2**63:
        raise NotFound("no delivery with that id", "id")
    did = int(text)
    with write_transaction(db):
        original = Delivery.get_or_none(Delivery.id == did)
        if original is None:
            raise NotFound("no delivery with id %s" % did, "id")
        return queue.redeliver(original, now or utcnow())


def recent(state=None, limit=50):
    """Return the newest deliveries (in ``state`` if given)."""
    query = Delivery.select()
    if state is not None:
        query = query.where(Delivery.state == state)
    return list(query.order_by(Delivery.id.desc()).limit(limit))


def failed_ids():
    """Ids of deliveries that failed for good and have no redelivery queued or made since."""
    again = Delivery.alias()
    redone = again.select(again.redelivery_of).where(again.redelivery_of.is_null(False))
    return [
        d.id
        for d in Delivery.select(Delivery.id)
        .where((Delivery.state == Delivery.FAILED) & Delivery.id.not_in(redone))
        .order_by(Delivery.id)
    ]


def ping(sender, url):
    """Send a signed test event to ``url`` now; return its Outcome (nothing is stored)."""
    event_id = uuid.uuid4()
    body = (
        '{"payment_id":null,"status":null,"event":{"id":"%s","type":"ping","created_at":"%s",'
        '"sequence":0,"data":{}},"payment":null}' % (event_id, iso(utcnow()))
    ).encode()
    return sender.post(url, body, kinds.transient_headers(sender.secret, event_id, "ping", body=body))


def backlog(now=None):
    """Return ``{kind: (count, oldest age in seconds or None)}`` of the deliveries not yet
    delivered nor given up, for ``webhook`` and ``amqp`` targets (the /metrics gauges)."""
    now = now or utcnow()
    out = {}
    amqp = Delivery.url.startswith("amqp:")
    for kind, where in (("webhook", ~amqp), ("amqp", amqp)):
        count, oldest = (
            Delivery.select(fn.COUNT(Delivery.id), fn.MIN(Delivery.created_at))
            .where((Delivery.state == Delivery.PENDING) & where)
            .tuples()
            .get()
        )
        if isinstance(oldest, str):  # SQLite hands an aggregate's datetime back as text
            oldest = Delivery.created_at.python_value(oldest)
        out[kind] = (count, max(0.0, (now - oldest).total_seconds()) if oldest else None)
    return out
