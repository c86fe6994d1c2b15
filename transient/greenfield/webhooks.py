"""Greenfield webhook management (§3.10): rows of the delivery-target table, each with
a secret the server generates (the plugin never sends one) and shows once, at creation.
Deliveries are the dispatcher's rows for the webhook; a redelivery is a new delivery
of the same event with a new ``deliveryId`` and ``isRedelivery: true``."""

import json
import secrets

from ..core.errors import ValidationError
from ..delivery import kinds, queue
from ..payments.validation import check_url
from ..store.db import write_transaction
from ..store.models import Delivery, DeliveryTarget
from . import shapes
from .invoices import Refused, Unknown

MAX_DELIVERIES = 100


def _bool(body, key, default, errors):
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        errors.append((key, "must be true, false or null"))
        return default
    return value


def read_webhook(body, guard, current=None):
    """Return the fields of a create/update body, or raise FieldErrors naming each path."""
    if not isinstance(body, dict):
        raise shapes.FieldErrors([("body", "must be a JSON object")])
    errors = []
    url = _url(body, guard, current, errors)
    everything, specific = _events(body.get("authorizedEvents"), errors)
    secret = body.get("secret")
    if secret is not None and (not isinstance(secret, str) or not 1 <= len(secret) <= 256):
        errors.append(("secret", "must be a string of 1-256 characters, or null"))
    enabled = _bool(body, "enabled", True, errors)
    redeliver = _bool(body, "automaticRedelivery", True, errors)
    if errors:
        raise shapes.FieldErrors(errors)
    return {
        "url": url,
        "events": None if everything else json.dumps(specific),
        "secret": secret,
        "enabled": enabled,
        "automatic_redelivery": redeliver,
    }


def _url(body, guard, current, errors):
    """The body's ``url`` (checked, and one ``guard`` lets us reach), required at creation."""
    url = body.get("url")
    try:
        url = check_url(url, "url", guard) if url is not None else None
    except ValidationError as exc:
        errors.append(("url", exc.message))
    if url is None and current is None and not errors:
        errors.append(("url", "is required"))
    return url


def _events(events, errors):
    """``(everything, specific event types)`` of an ``authorizedEvents`` object (None: all)."""
    everything, specific = True, None
    if events is None:
        return everything, specific
    if not isinstance(events, dict):
        errors.append(("authorizedEvents", "must be an object or null"))
        return everything, specific
    everything = _bool(events, "everything", True, errors)
    given = events.get("specificEvents")
    if given is not None and not (isinstance(given, list) and all(isinstance(e, str) for e in given)):
        errors.append(("authorizedEvents.specificEvents", "must be a list of event types"))
    elif not everything:
        unknown = [e for e in given or [] if e not in shapes.EVENT_TYPES]
        if unknown:
            errors.append(("authorizedEvents.specificEvents", "unknown event type %s" % unknown[0]))
        specific = list(dict.fromkeys(given or []))
    return everything, specific


def render(row, with_secret=False):
    events = None if row.events is None else json.loads(row.events)
    out = {
        "id": row.public_id,
        "enabled": bool(row.enabled),
        "automaticRedelivery": bool(row.automatic_redelivery),
        "url": row.url,
        "authorizedEvents": {"everything": events is None, "specificEvents": events or []},
    }
    if with_secret:
        out["secret"] = row.secret
    return out


def delivery_status(d):
    """Greenfield's delivery status: HttpSuccess, HttpError (an answer not 2xx) or Failed."""
    if d.state == Delivery.DELIVERED:
        return "HttpSuccess"
    return "HttpError" if d.last_status is not None else "Failed"


def render_delivery(d):
    # The client's getters are typed int/string: never null.
    return {
        "id": d.public_id,
        "timestamp": shapes.unix(d.created_at),
        "httpCode": d.last_status or 0,
        "errorMessage": d.last_error or ("" if d.state == Delivery.DELIVERED else "not sent yet"),
        "status": delivery_status(d) if d.attempts or d.state != Delivery.PENDING else "Failed",
    }


class Webhooks:
    """The store's Greenfield webhooks. ``guard`` checks their URLs (SSRF) as it checks a
    payment's callback; ``wake()`` tells the dispatcher of a queued redelivery."""

    def __init__(self, db, registry, guard, clock, wake, idgen=shapes.new_id, max_hooks=100):
        self.max_hooks = max_hooks  # per store: each one is a delivery of every event
        self.db = db
        self.registry = registry
        self.guard = guard
        self.clock = clock
        self.wake = wake
        self.idgen = idgen
        self.kinds = (kinds.Greenfield(idgen),)  # a redelivery's new deliveryId

    def _find(self, store_id, hook_id):
        row = DeliveryTarget.get_or_none(
            (DeliveryTarget.public_id == str(hook_id))
            & (DeliveryTarget.kind == DeliveryTarget.GREENFIELD)
            & (DeliveryTarget.store_id == store_id)
            & DeliveryTarget.deleted_at.is_null()
        )
        if row is None:
            raise Unknown("webhook")
        return row

    def create(self, store_id, body):
        fields = read_webhook(body, self.guard)
        now = self.clock()
        with write_transaction(self.db):
            live = DeliveryTarget.select().where(
                (DeliveryTarget.kind == DeliveryTarget.GREENFIELD)
                & (DeliveryTarget.store_id == store_id)
                & DeliveryTarget.deleted_at.is_null()
            )
            if live.count() >= self.max_hooks:
                # 2 000 of them made each invoice's create write 2 000 deliveries.
                raise Refused(
                    "webhook-limit",
                    "the store has %d webhooks, the most [greenfield] max_webhooks allows: delete one first"
                    % self.max_hooks,
                )
            row = DeliveryTarget.create(
                kind=DeliveryTarget.GREENFIELD,
                url=fields["url"],
                public_id=self.idgen(),
                store_id=store_id,
                secret=fields["secret"] or secrets.token_urlsafe(24),
                enabled=fields["enabled"],
                automatic_redelivery=fields["automatic_redelivery"],
                events=fields["events"],
                created_at=now,
                updated_at=now,
            )
        return render(row, with_secret=True)

    def get(self, store_id, hook_id):
        return render(self._find(store_id, hook_id))

    def list(self, store_id):
        return [render(r) for r in self.registry.greenfield(store_id)]

    def update(self, store_id, hook_id, body):
        """PUT: the create body; ``"secret": null`` keeps the current secret."""
        row = self._find(store_id, hook_id)
        fields = read_webhook(body, self.guard, current=row)
        with write_transaction(self.db):
            row.url = fields["url"] or row.url
            row.events = fields["events"]
            row.enabled, row.automatic_redelivery = fields["enabled"], fields["automatic_redelivery"]
            if fields["secret"]:
                row.secret = fields["secret"]
            row.updated_at = self.clock()
            row.save()
        self.registry.forget(row.id)
        return render(row)

    def delete(self, store_id, hook_id):
        """Delete the webhook: it gets no new delivery, and what was queued for it fails."""
        row = self._find(store_id, hook_id)
        now = self.clock()
        with write_transaction(self.db):
            row.deleted_at = row.updated_at = now
            row.save(only=[DeliveryTarget.deleted_at, DeliveryTarget.updated_at])
            Delivery.update(state=Delivery.FAILED, last_error="the webhook was deleted").where(
                (Delivery.target == row.id) & (Delivery.state == Delivery.PENDING)
            ).execute()
        self.registry.forget(row.id)
        return {}

    def deliveries(self, store_id, hook_id, count=None):
        row = self._find(store_id, hook_id)
        limit = MAX_DELIVERIES
        if count is not None:
            text = str(count).strip()
            if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_DELIVERIES:
                raise shapes.FieldErrors([("count", "must be a whole number from 1 to %d" % MAX_DELIVERIES)])
            limit = int(text)
        query = Delivery.select().where(Delivery.target == row.id).order_by(Delivery.id.desc()).limit(limit)
        return [render_delivery(d) for d in query]

    def _delivery(self, store_id, hook_id, delivery_id):
        row = self._find(store_id, hook_id)
        d = Delivery.get_or_none((Delivery.target == row.id) & (Delivery.public_id == str(delivery_id)))
        if d is None:
            raise Unknown("delivery")
        return row, d

    def delivery(self, store_id, hook_id, delivery_id):
        return render_delivery(self._delivery(store_id, hook_id, delivery_id)[1])

    def request(self, store_id, hook_id, delivery_id):
        """The exact body that was sent, parsed (the client wants JSON)."""
        return shapes.loads(self._delivery(store_id, hook_id, delivery_id)[1].body)

    def redeliver(self, store_id, hook_id, delivery_id):
        """Queue the event again with a new deliveryId; return that id (a JSON string)."""
        _, original = self._delivery(store_id, hook_id, delivery_id)
        with write_transaction(self.db):
            copy = queue.redeliver(original, self.clock(), self.kinds)
        self.wake()
        return copy.public_id
