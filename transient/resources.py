"""HTTP resources: parse the request, call the service, render. No payment logic here."""
import hmac
import ipaddress
import json
import logging
import re
from decimal import Decimal

import falcon

from . import deliveries, health
from .errors import BadRequest, NotFound, Unauthorized, UnknownCurrency, ValidationError
from .payments import check_url

log = logging.getLogger("transient.api")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


# -- errors ---------------------------------------------------------------------

def _error_body(code, message, field=None):
    return {"success": False, "error": {"code": code, "message": message, "field": field}}


def domain_error_body(exc):
    """The error body of a TransientError (HTTP and the AMQP commands answer the same)."""
    message = "%s %s" % (exc.field, exc.message) if exc.field and exc.http_status in (400, 409, 422) else exc.message
    return _error_body(exc.code, message, exc.field)


def handle_domain_error(req, resp, exc, params):
    resp.status = falcon.code_to_http_status(exc.http_status)
    resp.media = domain_error_body(exc)
    if isinstance(exc, Unauthorized):
        resp.set_header("WWW-Authenticate", "Bearer")


def handle_unexpected_error(req, resp, exc, params):
    # Falcon picks the most specific handler, so its own HTTPErrors never get here.
    log.exception("unexpected error on %s %s", req.method, req.path)
    resp.status = falcon.HTTP_500
    resp.media = _error_body("internal_error", "internal error; the server log has the details")


def serialize_http_error(req, resp, exc):
    # Falcon titles read "415 Unsupported Media Type": keep the words as the code.
    words = (exc.title or "error").split()
    code = "_".join(w.lower() for w in words if not w.isdigit()) or "error"
    resp.media = _error_body(code, exc.description or exc.title)


# -- request helpers ------------------------------------------------------------

def read_json(req, max_body):
    """Return the request body parsed as JSON with exact decimals, or raise 4xx."""
    if req.content_length is not None and req.content_length > max_body:
        raise falcon.HTTPContentTooLarge(description="the request body is larger than %d bytes" % max_body)
    if req.content_type and not req.content_type.split(";")[0].strip().lower().endswith("json"):
        raise falcon.HTTPUnsupportedMediaType(description="send the body as application/json")
    raw = req.bounded_stream.read(max_body + 1)
    if len(raw) > max_body:
        raise falcon.HTTPContentTooLarge(description="the request body is larger than %d bytes" % max_body)
    return parse_json(raw)


def parse_json(raw):
    """Return the bytes ``raw`` parsed as JSON with exact decimals, or raise BadRequest."""
    try:
        return json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the request body is not valid JSON: %s" % exc) from None


def _no_constant(name):
    raise ValueError("%s is not allowed" % name)


class ApiKeys:
    """Middleware: with keys configured, creating and listing payments need a Bearer key."""

    def __init__(self, keys):
        self.keys = [k.encode() for k in keys]

    def process_resource(self, req, resp, resource, params):
        if not self.keys or not getattr(resource, "needs_key", False):
            return
        self.check(req.get_header("Authorization"))

    def check(self, given):
        """Raise Unauthorized unless keys are off or ``given`` is "Bearer <a configured key>"."""
        if not self.keys:
            return
        scheme, _, token = (given or "").partition(" ")
        token = token.strip().encode()
        # Compare against every key so the time taken says nothing about which matched.
        ok = False
        for key in self.keys:
            ok |= hmac.compare_digest(token, key)
        if scheme.lower() != "bearer" or not ok:
            raise Unauthorized("a valid API key is required (Authorization: Bearer <key>)")


# -- resources ------------------------------------------------------------------

class Payments:
    needs_key = True

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
        resp.media = {"success": True, "payment": self.service.render(payment, new=created)}

    def on_get(self, req, resp):
        payments, cursor = self.service.list(
            status=req.get_param("status"), currency=req.get_param("currency"),
            limit=req.get_param("limit"), cursor=req.get_param("cursor"))
        resp.media = {"success": True, "payments": self.service.render_many(payments), "next_cursor": cursor}


class PaymentItem:
    def __init__(self, service):
        self.service = service

    def on_get(self, req, resp, payment_id):
        resp.data = self.service.get_json(payment_id)
        resp.content_type = falcon.MEDIA_JSON


class PaymentEvents:
    """The payment's outbox: events with their webhook deliveries and attempts."""

    needs_key = True

    def __init__(self, service):
        self.service = service

    def on_get(self, req, resp, payment_id):
        payment = self.service.get(payment_id)
        resp.media = {"success": True, "events": deliveries.event_log(payment, self.service)}


class Redeliver:
    needs_key = True

    def __init__(self, runtime):
        self.runtime = runtime

    def on_post(self, req, resp, delivery_id):
        delivery = deliveries.redeliver(delivery_id, self.runtime.db)
        self.runtime.outbox.written_one()
        resp.status = falcon.HTTP_202
        resp.media = {"success": True, "delivery": deliveries.render_delivery(delivery, [])}


class WebhookTest:
    """Send a signed ``ping`` event to the webhook URL (or ``{"url": ...}``) now."""

    needs_key = True

    def __init__(self, runtime, max_body):
        self.runtime = runtime
        self.max_body = max_body

    def on_post(self, req, resp):
        body = read_json(req, self.max_body) if req.content_length else {}
        if not isinstance(body, dict) or set(body) - {"url"}:
            raise ValidationError("the body may only hold a url", "url")
        url = check_url(body.get("url"), "url") or self.runtime.config["webhook.url"]
        if not url:
            raise ValidationError("is required: no [webhook] url is configured", "url")
        outcome = deliveries.ping(self.runtime.sender, url)
        resp.media = {"success": outcome.ok, "url": url, "status_code": outcome.status, "error": outcome.error,
                      "duration_ms": outcome.duration_ms, "response": outcome.response,
                      "signed": bool(self.runtime.config["webhook.secret"])}


class Notify:
    """Targets of walletnotify/blocknotify: mark the coin for a sync, return at once."""

    KINDS = ("transaction", "block")

    def __init__(self, runtime, token):
        self.runtime = runtime
        self.token = token.encode() if token else None

    def on_post(self, req, resp, currency, kind, value):
        self._check_caller(req)
        if kind not in self.KINDS:
            raise NotFound("no such notification kind %r (transaction or block)" % kind, "kind")
        if currency.upper() not in self.runtime.backends:
            raise UnknownCurrency("%r is not configured (configured: %s)"
                                  % (currency, ", ".join(sorted(self.runtime.backends))), "currency")
        if not _HEX64.match(value):
            raise ValidationError("must be 64 hexadecimal characters", "txid" if kind == "transaction" else "hash")
        self.runtime.wake(currency.upper())
        resp.status = falcon.HTTP_202
        resp.media = {"success": True}

    on_get = on_post  # some notify scripts can only GET

    def _check_caller(self, req):
        given = (req.get_header("X-Transient-Token") or req.get_param("token") or "").encode()
        if self.token and hmac.compare_digest(given, self.token):
            return
        try:
            if ipaddress.ip_address(req.remote_addr).is_loopback:
                return
        except ValueError:
            pass
        raise Unauthorized("notifications are accepted from loopback or with the notify token")


class Health:
    def __init__(self, runtime):
        self.runtime = runtime

    def on_get(self, req, resp):
        report = health.report(self.runtime)
        resp.status = falcon.HTTP_200 if report["ok"] else falcon.HTTP_503
        resp.media = report
