"""The target kinds: one small policy object per kind of delivery target, saying which
events it gets, which body it is sent, how that body is signed and whether a failed
attempt is retried. The outbox, the projections, the dispatcher and redelivery ask
these; none of them knows a kind by its name.

A new kind (e-mail, a payout's notice) is a subclass of :class:`Kind` added to
``KINDS``, with its rows written by :func:`transient.delivery.queue.queue`: no other
module inserts deliveries.
"""

import hashlib
import hmac
import json
import re

from ..core import exactjson
from ..core.clock import unix
from ..core.ids import new_id
from ..store.models import DeliveryTarget
from . import signing

GREENFIELD_SIG = "BTCPay-Sig"


def greenfield_signature(secret, body):
    """Return the ``BTCPay-Sig`` value of ``body`` (bytes): ``sha256=<lowercase hex HMAC>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def envelope(payment, rendered_event):
    """Transient's body (webhooks, callbacks, AMQP): the seed's fields first, then the
    event and the payment."""
    return json.dumps(
        {"payment_id": payment["id"], "status": payment["status"], "event": rendered_event, "payment": payment},
        separators=(",", ":"),
    )


def transient_headers(secret, event_id, event_type, delivery_id=None, attempt=1, redelivery_of=None, body=b""):
    """The headers of Transient's own deliveries: the event, the attempt and the
    ``Transient-Signature`` of ``body`` under ``secret`` (none without a secret)."""
    headers = {
        "Content-Type": "application/json",
        "Transient-Event-Id": str(event_id),
        "Transient-Event-Type": event_type,
        "Transient-Delivery-Attempt": str(attempt),
    }
    if delivery_id is not None:
        headers["Transient-Delivery-Id"] = str(delivery_id)
    if redelivery_of is not None:
        headers["Transient-Redelivery-Of"] = str(redelivery_of)
    if secret:
        headers[signing.HEADER] = signing.sign(secret, body)
    return headers


class Kind:
    """A kind of delivery target. ``target`` below is its ``delivery_target`` row, or None
    for a delivery that names only a URL (the configured webhook, a payment's callback).

    - ``wants(target, event_type)``: which events it gets;
    - ``body(...)``: the exact text it is sent (each kind's own arguments);
    - ``redelivery(original, target, now)``: the columns a copy of ``original`` changes;
    - ``headers(delivery, body, target, secret)``: how it is signed (None: do not send);
    - ``retries(target)``: whether a failed attempt is tried again on the schedule;
    - ``noun``: what one delivery of the kind is called in log lines ("e-mail").
    """

    name = None
    noun = "delivery"

    def owns(self, url, target):
        return target is not None and target.kind == self.name

    def wants(self, target, event_type):
        return True

    def redelivery(self, original, target, now):
        return {"url": original.url, "body": original.body}

    def headers(self, delivery, body, target, secret):
        return transient_headers(
            secret, delivery.event_id, delivery.type, delivery.id, delivery.attempts + 1, delivery.redelivery_of, body
        )

    def retries(self, target):
        return True


class Webhook(Kind):
    """The operator's ``[webhook] url``: every event, Transient's body and signature."""

    name = DeliveryTarget.WEBHOOK
    noun = "webhook"
    body = staticmethod(envelope)

    def owns(self, url, target):
        return target is None or target.kind == self.name


class Callback(Webhook):
    """A payment's own ``callback_url``: as the webhook (the sender guards its URL)."""

    name = "callback"
    noun = "callback"

    def owns(self, url, target):
        return False  # a callback is sent as a webhook: nothing tells them apart once queued


class Amqp(Kind):
    """The AMQP exchange (``amqp:<exchange>``): every event, Transient's body; the publisher
    sends it with its own properties and retries until the broker confirms."""

    name = DeliveryTarget.AMQP
    noun = "AMQP message"
    body = staticmethod(envelope)

    def owns(self, url, target):
        return url.startswith("amqp:") if target is None else target.kind == self.name

    def headers(self, delivery, body, target, secret):
        return {}


class Greenfield(Kind):
    """A Greenfield webhook: its subscribed events, Greenfield's body with a ``deliveryId``
    of its own, ``BTCPay-Sig`` under the webhook's secret, retried only with
    ``automaticRedelivery``; a deleted or disabled webhook is sent nothing."""

    name = DeliveryTarget.GREENFIELD
    noun = "Greenfield webhook"

    def __init__(self, idgen=new_id):
        self.idgen = idgen

    def wants(self, target, event_type):
        events = None if target.events is None else json.loads(target.events)
        return events is None or event_type in events

    def body(self, target, event_type, subject, extra, delivery_id, now):
        """The JSON text of an event ``event_type`` about ``subject`` (``storeId``,
        ``invoiceId``, ``metadata``) with its ``extra`` fields, numbers written exactly."""
        return exactjson.dumps(
            {
                "deliveryId": delivery_id,
                "webhookId": target.public_id,
                "originalDeliveryId": delivery_id,
                "isRedelivery": False,
                "type": event_type,
                "timestamp": unix(now),
                **subject,
                **extra,
            },
            separators=(",", ":"),
        )

    def redelivery(self, original, target, now):
        """A new ``deliveryId`` naming the first one, to the webhook's URL of now."""
        payload = exactjson.loads(original.body)
        did = self.idgen()
        payload.update(
            deliveryId=did,
            originalDeliveryId=payload.get("originalDeliveryId") or original.public_id,
            isRedelivery=True,
            timestamp=unix(now),
        )
        url = original.url if target is None else target.url
        return {"url": url, "body": exactjson.dumps(payload, separators=(",", ":")), "public_id": did}

    def headers(self, delivery, body, target, secret):
        if target is None or target.deleted_at is not None or not target.enabled:
            return None
        headers = {"Content-Type": "application/json"}
        if target.secret:
            headers[GREENFIELD_SIG] = greenfield_signature(target.secret, body)
        return headers

    def retries(self, target):
        return bool(target.automatic_redelivery)


class Email(Kind):
    """An e-mail (``mailto:<address>``): the body is the whole message, made when the event
    was written (transient.email); the MailDispatcher sends it over SMTP. A redelivery is
    the same message with a Message-ID of its own (a new message, not a retry)."""

    name = "email"
    noun = "e-mail"

    def owns(self, url, target):
        return url.startswith("mailto:")

    def headers(self, delivery, body, target, secret):
        return {}

    def redelivery(self, original, target, now):
        head, sep, rest = original.body.partition("\r\n\r\n")
        lines = [
            re.sub(r"@", ".r%s@" % unix(now), line, count=1) if line.lower().startswith("message-id:") else line
            for line in head.split("\r\n")
        ]
        return {"url": original.url, "body": "\r\n".join(lines) + sep + rest}


WEBHOOK, CALLBACK, AMQP, GREENFIELD, EMAIL = Webhook(), Callback(), Amqp(), Greenfield(), Email()
KINDS = (GREENFIELD, EMAIL, AMQP, WEBHOOK, CALLBACK)  # asked in this order: the first that owns a delivery


def of(url, target=None, kinds=KINDS):
    """The kind of a delivery to ``url`` (of the registered ``target`` row, if any)."""
    for kind in kinds:
        if kind.owns(url, target):
            return kind
    raise LookupError("no delivery kind owns %s" % url)


def noun(url, target=None):
    """What a delivery to ``url`` is called in log lines: its kind's ``noun``."""
    try:
        return of(url, target).noun
    except LookupError:
        return Kind.noun


def named(name):
    """The kind called ``name`` (a dispatcher's ``kind``); the generic one when none is."""
    return next((kind for kind in KINDS if kind.name == name), Kind())
