"""HTTP resources: parse the request, call the service, render. No payment logic here.

Each resource is given the collaborators and values it uses, never the whole config.
"""

import hmac
import re

import falcon

from ..core.errors import BadRequest, NotFound, Unauthorized, UnknownCurrency, ValidationError
from ..core.exactjson import parse_json
from ..core.keys import PAYMENTS_CREATE, PAYMENTS_READ, WEBHOOKS_MANAGE
from ..core.redact import redact
from ..delivery import admin
from ..ops import metrics
from ..payments.validation import check_url
from .peers import Peers

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def has_body(req):
    """True when the request says it carries a body: a Content-Length above 0, or chunked."""
    return bool(req.content_length) or "chunked" in (req.get_header("Transfer-Encoding") or "").lower()


def read_json(req, max_body, optional=False):
    """Return the request body parsed as JSON with exact decimals, or raise 4xx; an empty
    body is None when it is ``optional`` (the service then names what is missing).

    A chunked body has no Content-Length: it is read from the server's stream (which
    ends where the body ends), never more than ``max_body`` + 1 bytes."""
    if req.content_length is not None and req.content_length > max_body:
        raise falcon.HTTPContentTooLarge(description="the request body is larger than %d bytes" % max_body)
    if req.content_type and not req.content_type.split(";")[0].strip().lower().endswith("json"):
        raise falcon.HTTPUnsupportedMediaType(description="send the body as application/json")
    chunked = req.content_length is None and has_body(req)
    raw = (req.stream if chunked else req.bounded_stream).read(max_body + 1)
    if len(raw) > max_body:
        raise falcon.HTTPContentTooLarge(description="the request body is larger than %d bytes" % max_body)
    if optional and not raw.strip():
        return None
    return parse_json(raw)


class Payments:
    scopes = {"POST": PAYMENTS_CREATE, "GET": PAYMENTS_READ}

    def __init__(self, service, max_body):
        self.service = service
        self.max_body = max_body

    def on_post(self, req, resp):
        body = read_json(req, self.max_body)
        payment, created = self.service.create(body, req.get_header("Idempotency-Key"))
        resp.status = falcon.HTTP_201 if created else falcon.HTTP_200
        if not created:
            resp.set_header("Idempotent-Replayed", "true")
        resp.location = "/payments/%s" % payment.id
        resp.media = {"success": True, "payment": self.service.renderer.render(payment, new=created, private=True)}

    def on_get(self, req, resp):
        payments, cursor = self.service.list(
            status=req.get_param("status"),
            currency=req.get_param("currency"),
            limit=req.get_param("limit"),
            cursor=req.get_param("cursor"),
        )
        resp.media = {
            "success": True,
            "payments": self.service.renderer.render_many(payments, private=True),
            "next_cursor": cursor,
        }


class PaymentItem:
    """One payment: in full with payments:read (or with keys off), else its public view
    (what the checkout page shows: the id is unguessable and handed to the customer)."""

    scopes = {}

    def __init__(self, service):
        self.service = service

    def on_get(self, req, resp, payment_id):
        view = req.get_param("view")
        if view not in (None, "public"):
            raise BadRequest("must be public (or left out)", "view")
        public = view == "public" or not req.context.grant.allows(PAYMENTS_READ)  # ?view=public: the page's
        resp.data = self.service.renderer.get_json(payment_id, public=public)
        resp.content_type = falcon.MEDIA_JSON


class PaymentEvents:
    """The payment's outbox: events with their webhook deliveries and attempts."""

    scopes = {"GET": PAYMENTS_READ}

    def __init__(self, service):
        self.service = service

    def on_get(self, req, resp, payment_id):
        payment = self.service.get(payment_id)
        resp.media = {"success": True, "events": admin.event_log(payment, self.service.renderer)}


class Redeliver:
    """Queue a delivery again; the ``outbox`` tells its listeners (the dispatcher) at once."""

    scopes = {"POST": WEBHOOKS_MANAGE}

    def __init__(self, db, outbox):
        self.db = db
        self.outbox = outbox

    def on_post(self, req, resp, delivery_id):
        delivery = admin.redeliver(delivery_id, self.db)
        self.outbox.written_one()
        resp.status = falcon.HTTP_202
        resp.media = {"success": True, "delivery": admin.render_delivery(delivery, [])}


class WebhookTest:
    """Send a signed ``ping`` event to the webhook URL (or ``{"url": ...}``) now."""

    scopes = {"POST": WEBHOOKS_MANAGE}

    def __init__(self, sender, webhook_url, max_body):
        self.sender = sender
        self.webhook_url = webhook_url
        self.max_body = max_body

    def on_post(self, req, resp):
        body = read_json(req, self.max_body) if has_body(req) else {}
        if not isinstance(body, dict) or set(body) - {"url"}:
            raise ValidationError("the body may only hold a url", "url")
        given = body.get("url")
        url = check_url(given, "url", self.sender.guard if self.sender.guarded(given) else None) or self.webhook_url
        if not url:
            raise ValidationError("is required: no [webhook] url is configured", "url")
        outcome = admin.ping(self.sender, url)
        resp.media = {
            "success": outcome.ok,
            "url": redact(url),
            "status_code": outcome.status,
            "error": outcome.error,
            "duration_ms": outcome.duration_ms,
            "response": outcome.response,
            "signed": bool(self.sender.secret),
        }


class Notify:
    """Targets of walletnotify/blocknotify: mark the coin for a sync, return at once."""

    KINDS = ("transaction", "block")

    def __init__(self, currencies, wake, token, peers=None):
        self.currencies = frozenset(currencies)
        self.wake = wake  # wake(currency): ask for a sync of that coin now
        self.token = token.encode() if token else None
        self.peers = peers or Peers()  # who is local (api/peers.py): a proxy's clients are not

    def on_post(self, req, resp, currency, kind, value):
        self._check_caller(req)
        if kind not in self.KINDS:
            raise NotFound("no such notification kind %r (transaction or block)" % kind, "kind")
        if currency.upper() not in self.currencies:
            raise UnknownCurrency(
                "%r is not configured (configured: %s)" % (currency, ", ".join(sorted(self.currencies))), "currency"
            )
        if not _HEX64.fullmatch(value):
            raise ValidationError("must be 64 hexadecimal characters", "txid" if kind == "transaction" else "hash")
        code = currency.upper()
        metrics.NOTIFY_PINGS.labels(code, kind).inc()
        if self.wake(code) is False:  # a sync was running or queued already: this ping joined it
            metrics.NOTIFY_COALESCED.labels(code).inc()
        resp.status = falcon.HTTP_202
        resp.media = {"success": True}

    on_get = on_post  # some notify scripts can only GET

    def _check_caller(self, req):
        given = (req.get_header("X-Transient-Token") or req.get_param("token") or "").encode()
        if self.token and hmac.compare_digest(given, self.token):
            return
        if self.peers.is_local(req):
            return
        raise Unauthorized("notifications are accepted from loopback or with the notify token")


class Health:
    """``report()`` returns the health report (a :class:`~transient.api.health.HealthReport`)."""

    def __init__(self, report):
        self.report = report

    def on_get(self, req, resp):
        report = self.report()
        resp.status = falcon.HTTP_200 if report["ok"] else falcon.HTTP_503
        resp.media = report


class Rates:
    """A pair's current rate, each source's quote and age, and why it is unusable."""

    def __init__(self, book):
        self.book = book  # a RateBook

    def on_get(self, req, resp, currency, fiat):
        code, fiat = currency.upper(), fiat.upper()
        if code not in self.book.coins:
            raise UnknownCurrency(
                "%r is not configured (configured: %s)" % (currency, ", ".join(self.book.coins)), "currency"
            )
        if fiat not in self.book.fiat:
            raise NotFound(
                "%s/%s is not a configured pair ([rates] fiat: %s)" % (code, fiat, ", ".join(self.book.fiat) or "none"),
                "fiat",
            )
        report = self.book.report(code, fiat)
        resp.status = falcon.HTTP_200 if report["usable"] else falcon.HTTP_503
        resp.media = {"success": report["usable"], "rate": report}
