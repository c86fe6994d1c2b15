"""The OpenAPI 3.1 document of the native HTTP API, built from Python (``paths``, ``schemas``)
so that its names come from the code, and served at ``GET /openapi.json``. scripts/gen-docs
writes it into the documentation; tests/unit/test_openapi.py checks it against the app's routes."""

import hashlib
import json

import falcon

from ... import __version__
from ...core import events
from .paths import paths
from .schemas import components

DESCRIPTION = (
    "Transient's own HTTP API: payments, their events and deliveries, payouts and refunds, reports,"
    " rates and the operator's routes. Amounts are exact decimal strings. Every error is the `Error`"
    " shape with a status naming its kind (400 unreadable, 401/403 key, 404 unknown id, 409 conflict,"
    " 413 too large, 422 refused, 503 unavailable with Retry-After). BTCPay's Greenfield subset under"
    " /api/v1/ has its own document, `GET /api/v1/openapi.json`."
)


def document():
    """Return the OpenAPI document (a dict)."""
    hooks = {
        "payment-event": {
            "post": {
                "summary": "A payment's event (one of: %s)" % ", ".join(events.TYPES),
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Webhook"}}}},
                "responses": {"200": {"description": "Any 2xx: delivered; else retried with back-off."}},
            }
        },
        "payout-event": {
            "post": {
                "summary": "A payout's event (one of: %s)" % ", ".join(events.PAYOUT_TYPES),
                "requestBody": {
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PayoutWebhook"}}}
                },
                "responses": {"200": {"description": "Any 2xx: delivered; else retried with back-off."}},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Transient",
            "version": __version__,
            "description": DESCRIPTION,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "paths": paths(),
        "webhooks": hooks,
        "components": components(),
    }


class OpenApiDocument:
    """``GET /openapi.json``: public (it holds no secret), the same bytes for the daemon's
    life, so a client revalidates with its ETag."""

    def __init__(self, build=None):
        self.body = json.dumps((build or document)(), indent=1, sort_keys=False).encode()
        self.etag = '"%s"' % hashlib.sha256(self.body).hexdigest()[:32]

    def on_get(self, req, resp):
        resp.set_header("Cache-Control", "public, max-age=3600")
        resp.set_header("ETag", self.etag)
        if self.etag in (req.get_header("If-None-Match") or ""):
            resp.status = falcon.HTTP_304
            return
        resp.content_type = falcon.MEDIA_JSON
        resp.data = self.body
