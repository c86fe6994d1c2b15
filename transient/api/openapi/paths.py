"""The OpenAPI document's paths: every route of the native API, one entry each, in the order
of ``api/app.py``. Each operation names the scope its resource declares (``x-scope``);
tests/unit/test_openapi.py checks both the routes and the scopes against the app."""

import re

from ...core import keys
from ...payments.service import LIST_LIMIT, LIST_MAX
from .schemas import AMOUNT, STATUSES

JSON = "application/json"
ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema, description):
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _envelope(**fields):
    return {"type": "object", "properties": {"success": {"const": True}, **fields}, "required": ["success", *fields]}


def _ref(name):
    return {"$ref": "#/components/schemas/%s" % name}


def _param(name, where, description, schema=None, required=None):
    return {
        "name": name,
        "in": where,
        "required": where == "path" if required is None else required,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _op(summary, responses, scope=None, params=(), body=None, tag="Payments", description=None):
    op = {"summary": summary, "tags": [tag], "parameters": list(params), "responses": dict(responses)}
    # Every error, whatever the route, is the one Error shape (api/errors.py).
    op["responses"].setdefault("default", _json(ERROR, "An error: a JSON body naming the field."))
    if description:
        op["description"] = description
    if scope:
        op["x-scope"] = scope
        op["security"] = [{"apiKey": []}]
        op["description"] = (description + " " if description else "") + "Needs a key with `%s`." % scope
    if body is not None:
        op["requestBody"] = body
    return op


def _body(schema, required=True):
    return {"required": required, "content": {JSON: {"schema": schema}}}


IDEMPOTENCY = _param("Idempotency-Key", "header", "Retries with the same key and body return the same object.")
PAYMENT_ID = _param("payment_id", "path", "The payment's id (a UUID).")
PAYOUT_ID = _param("payout_id", "path", "The payout's id.")
PULL_ID = _param("pull_id", "path", "The pull payment's id.")
LIMIT = _param(
    "limit",
    "query",
    "At most this many (default %d)." % LIST_LIMIT,
    {"type": "integer", "minimum": 1, "maximum": LIST_MAX},
    False,
)
PAGE = {"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}}
PAYOUT_ANSWER = _json(_envelope(payout=_ref("Payout")), "The payout.")
BATCH_ID = _param("batch_id", "path", "The payout batch's id.")
BATCH = {"200": _json(_envelope(batch={"type": "object"}), "The batch.")}
REVISION = _body(
    {"type": "object", "properties": {"revision": {"type": "integer"}}, "additionalProperties": False}, False
)


def payments():
    created = _json(_envelope(payment=_ref("Payment")), "The payment.")
    return {
        "/payments": {
            "post": _op(
                "Create a payment",
                {"201": created, "200": {**created, "description": "A replay of the same Idempotency-Key."}},
                keys.PAYMENTS_CREATE,
                [IDEMPOTENCY],
                _body(_ref("CreatePayment")),
            ),
            "get": _op(
                "List payments, newest first",
                {
                    "200": _json(
                        _envelope(
                            payments={"type": "array", "items": _ref("Payment")},
                            next_cursor={
                                "type": ["string", "null"],
                                "description": "Pass it as cursor for the next page.",
                            },
                        ),
                        "A page of payments.",
                    )
                },
                keys.PAYMENTS_READ,
                [
                    _param("status", "query", "Only this status.", {"enum": STATUSES}, False),
                    _param("currency", "query", "Only this coin.", None, False),
                    LIMIT,
                    _param("cursor", "query", "The cursor of the previous page.", None, False),
                ],
            ),
        },
        "/payments/{payment_id}": {
            "get": _op(
                "Read a payment",
                {
                    "200": _json(
                        _envelope(payment={"anyOf": [_ref("Payment"), _ref("PublicPayment")]}),
                        "The full object with `payments:read`, else the public view.",
                    )
                },
                params=[
                    PAYMENT_ID,
                    _param("view", "query", "`public`: the customer's view.", {"enum": ["public"]}, False),
                ],
            )
        },
        "/payments/{payment_id}/qrcode.{fmt}": {
            "get": _op(
                "The payment's QR code",
                {
                    "200": {
                        "description": "The image.",
                        "content": {
                            "image/png": {"schema": {"type": "string"}},
                            "image/svg+xml": {"schema": {"type": "string"}},
                        },
                    },
                    "304": {"description": "Unchanged (If-None-Match)."},
                },
                params=[
                    PAYMENT_ID,
                    _param("fmt", "path", "The format.", {"enum": ["png", "svg"]}),
                    _param("size", "query", "Pixels, 32 to 2048.", {"type": "integer"}, False),
                    _param("border", "query", "Quiet zone in modules, 0 to 16.", {"type": "integer"}, False),
                    _param("foreground", "query", "Hex colour.", None, False),
                    _param("background", "query", "Hex colour.", None, False),
                    _param("error_correction", "query", "L, M, Q or H.", {"enum": ["L", "M", "Q", "H"]}, False),
                    _param(
                        "content", "query", "The BIP21 URI or the bare address.", {"enum": ["uri", "address"]}, False
                    ),
                    _param("v", "query", "Ignored (cache busting).", None, False),
                ],
                tag="Checkout",
            )
        },
        "/pay/{payment_id}": {
            "get": _op(
                "The checkout page",
                {"200": PAGE, "404": PAGE},
                params=[PAYMENT_ID, _param("lang", "query", "en, de, es, fr or pt.", None, False)],
                tag="Checkout",
            )
        },
        "/pay/static/{name}": {
            "get": _op(
                "The checkout page's script, style sheet and logo",
                {"200": {"description": "The file."}, "304": {"description": "Unchanged."}},
                params=[_param("name", "path", "The file's name.")],
                tag="Checkout",
            )
        },
        "/payments/{payment_id}/events": {
            "get": _op(
                "A payment's events and their deliveries",
                {"200": _json(_envelope(events={"type": "array", "items": _ref("Event")}), "The events, in order.")},
                keys.PAYMENTS_READ,
                [PAYMENT_ID],
                tag="Events",
            )
        },
    }


def deliveries():
    return {
        "/deliveries/{delivery_id}/redeliver": {
            "post": _op(
                "Send an event's delivery again",
                {"202": _json({"type": "object"}, "Queued again.")},
                keys.WEBHOOKS_MANAGE,
                [_param("delivery_id", "path", "The delivery's id.", {"type": "integer"})],
                tag="Events",
            )
        },
        "/webhooks/test": {
            "post": _op(
                "Send a signed test ping to a webhook URL",
                {"200": _json({"type": "object", "required": ["success", "url"]}, "What the receiver answered.")},
                keys.WEBHOOKS_MANAGE,
                body=_body(
                    {"type": "object", "properties": {"url": {"type": "string"}}, "additionalProperties": False}, False
                ),
                tag="Events",
            )
        },
    }


def operations():
    notify = _op(
        "A walletnotify or blocknotify ping",
        {"202": _json({"type": "object"}, "Accepted: the coin's sync is woken.")},
        params=[
            _param("currency", "path", "A configured coin."),
            _param("kind", "path", "What changed.", {"enum": ["transaction", "block"]}),
            _param("value", "path", "The txid or block hash (64 hex characters)."),
            _param("token", "query", "[notify] token, for a ping from beyond loopback.", None, False),
            _param("X-Transient-Token", "header", "[notify] token, as a header.", None, False),
        ],
        tag="Operations",
        description="From loopback, or with the [notify] token.",
    )
    return {
        "/notify/{currency}/{kind}/{value}": {"post": notify, "get": notify},
        "/healthz": {
            "get": _op(
                "Liveness and each coin's sync",
                {
                    "200": _json({"type": "object", "required": ["ok"]}, "Healthy."),
                    "503": _json({"type": "object", "required": ["ok"]}, "Not healthy: the body says why."),
                },
                tag="Operations",
            )
        },
        "/metrics": {
            "get": _op(
                "Prometheus metrics",
                {"200": {"description": "The text format.", "content": {"text/plain": {"schema": {"type": "string"}}}}},
                tag="Operations",
                description="From loopback without a key; from elsewhere with a key holding `metrics:read`.",
            )
        },
        "/openapi.json": {
            "get": _op("This document", {"200": _json({"type": "object"}, "OpenAPI 3.1.")}, tag="Operations")
        },
        "/rates/{currency}/{fiat}": {
            "get": _op(
                "A fiat rate and its sources",
                {
                    "200": _json({"type": "object", "required": ["usable"]}, "The rate is usable."),
                    "503": _json({"type": "object", "required": ["usable"]}, "Unusable: `reason` says why."),
                },
                params=[
                    _param("currency", "path", "A configured coin."),
                    _param("fiat", "path", "A [rates] fiat code."),
                ],
                tag="Rates",
            )
        },
    }


def reports():
    text = {"description": "The file.", "content": {"text/csv": {"schema": {"type": "string"}}}}
    period = [
        _param(name, "query", text, None, False)
        for name, text in (
            ("from", "First day (YYYY-MM-DD), in tz."),
            ("to", "Last day (YYYY-MM-DD), in tz."),
            ("tz", "An IANA time zone (default UTC)."),
            ("currency", "Only this coin."),
        )
    ]
    return {
        "/reports/{kind}": {
            "get": _op(
                "A report file (CSV or JSON lines)",
                {"200": text},
                keys.REPORTS_READ,
                [
                    _param("kind", "path", "payments, receipts or payouts."),
                    *period,
                    _param("status", "query", "Only this status.", None, False),
                    _param("format", "query", "csv or jsonl.", {"enum": ["csv", "jsonl"]}, False),
                ],
                tag="Reports",
            )
        },
        "/reports/reconcile": {
            "get": _op(
                "The ledger against the node's wallet",
                {"200": _json({"type": "object"}, "What matches and what does not.")},
                keys.REPORTS_READ,
                period,
                tag="Reports",
            )
        },
    }


def payouts():
    def action(summary, body=None):
        return {"post": _op(summary, {"200": PAYOUT_ANSWER}, keys.PAYOUTS_APPROVE, [PAYOUT_ID], body, "Payouts")}

    return {
        "/payouts": {
            "get": _op(
                "List payouts",
                {"200": _json(_envelope(payouts={"type": "array", "items": _ref("Payout")}), "The payouts.")},
                keys.PAYOUTS_READ,
                [
                    _param("state", "query", "Only this state.", None, False),
                    _param("currency", "query", "Only this coin.", None, False),
                    LIMIT,
                ],
                tag="Payouts",
            ),
            "post": _op(
                "Record a payout (it awaits approval)",
                {
                    "201": PAYOUT_ANSWER,
                    "200": {**PAYOUT_ANSWER, "description": "A replay of the same Idempotency-Key."},
                },
                keys.PAYOUTS_APPROVE,
                [IDEMPOTENCY],
                _body(
                    {
                        "type": "object",
                        "properties": {
                            "currency": {"type": "string"},
                            "amount": {"oneOf": [AMOUNT, {"type": "number"}]},
                            "destination": {"type": "string", "description": "The address to pay."},
                            "metadata": {"type": "object"},
                        },
                        "required": ["currency", "amount", "destination"],
                    }
                ),
                tag="Payouts",
            ),
        },
        "/payouts/{payout_id}": {
            "get": _op("Read a payout", {"200": PAYOUT_ANSWER}, keys.PAYOUTS_READ, [PAYOUT_ID], tag="Payouts")
        },
        "/payouts/{payout_id}/approve": action("Approve a payout: the daemon sends it", REVISION),
        "/payouts/{payout_id}/cancel": action("Cancel a payout not yet sent", REVISION),
        "/payouts/{payout_id}/mark-paid": action("Mark a payout paid by other means", REVISION),
        "/payments/{payment_id}/refund": {
            "post": _op(
                "Refund a payment (a pull payment the customer claims)",
                {
                    "201": _json(
                        _envelope(
                            pull_payment=_ref("PullPayment"), payout={"oneOf": [_ref("Payout"), {"type": "null"}]}
                        ),
                        "The refund.",
                    )
                },
                keys.PAYOUTS_APPROVE,
                [PAYMENT_ID, IDEMPOTENCY],
                _body({"type": "object"}, False),
                tag="Payouts",
            )
        },
        "/pull-payments/{pull_id}": {
            "get": _op(
                "A pull payment and its payouts",
                {
                    "200": _json(
                        _envelope(pull_payment=_ref("PullPayment"), payouts={"type": "array", "items": _ref("Payout")}),
                        "The pull payment.",
                    )
                },
                keys.PAYOUTS_READ,
                [PULL_ID],
                tag="Payouts",
            )
        },
        "/payout-batches": {
            "get": _op(
                "List payout batches (one transaction each)",
                {"200": _json(_envelope(batches={"type": "array", "items": {"type": "object"}}), "The batches.")},
                keys.PAYOUTS_READ,
                [_param("state", "query", "Only this state.", None, False)],
                tag="Payouts",
            )
        },
        "/payout-batches/{batch_id}": {
            "get": _op(
                "Read a batch (a watch-only one with its unsigned PSBT)",
                BATCH,
                keys.PAYOUTS_READ,
                [BATCH_ID],
                tag="Payouts",
            ),
            "post": _op(
                "Not allowed: a signed PSBT goes to the batch's /psbt",
                {"405": _json(ERROR, "Method not allowed.")},
                keys.PAYOUTS_APPROVE,
                [BATCH_ID],
                tag="Payouts",
            ),
        },
        "/payout-batches/{batch_id}/psbt": {
            "get": _op("Read a batch (as its parent path)", BATCH, keys.PAYOUTS_READ, [BATCH_ID], tag="Payouts"),
            "post": _op(
                "Submit the signed PSBT of a watch-only batch: checked, then broadcast",
                BATCH,
                keys.PAYOUTS_APPROVE,
                [BATCH_ID],
                _body(
                    {
                        "type": "object",
                        "properties": {"psbt": {"type": "string", "description": "Base64 of the signed PSBT."}},
                        "required": ["psbt"],
                        "additionalProperties": False,
                    }
                ),
                tag="Payouts",
            ),
        },
        "/claim/{pull_id}": {
            "get": _op(
                "The customer's refund claim page", {"200": PAGE, "404": PAGE}, params=[PULL_ID], tag="Checkout"
            ),
            "post": _op(
                "Claim a refund to an address (the page's form)",
                {"200": PAGE, "303": {"description": "Claimed: back to the page."}, "400": PAGE, "404": PAGE},
                params=[PULL_ID],
                body={
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {"type": "object", "properties": {"destination": {"type": "string"}}}
                        }
                    },
                },
                tag="Checkout",
            ),
        },
    }


def greenfield_pages():
    """The pages that BTCPay's plugins link to (the Greenfield API itself, under /api/v1/, is
    BTCPay's document: see the Greenfield section of the API reference)."""
    invoice = _param("invoice_id", "path", "The Greenfield invoice's id.")
    return {
        "/i/{invoice_id}": {
            "get": _op("A Greenfield invoice's checkout", {"200": PAGE, "404": PAGE}, params=[invoice], tag="BTCPay")
        },
        "/invoices/{invoice_id}": {
            "get": _op("The merchant's link to an invoice (a note)", {"404": PAGE}, params=[invoice], tag="BTCPay")
        },
        "/api-keys/authorize": {
            "get": _op("How to make a key (BTCPay's wizard is not served)", {"404": PAGE}, tag="BTCPay")
        },
        "/modal/btcpay.js": {
            "get": _op(
                "The modal checkout (not served: a script saying so)",
                {"404": {"description": "A script."}},
                tag="BTCPay",
            )
        },
    }


# The dashboard's pages, at the default [dashboard] path: (suffix, methods, what it is).
DASHBOARD = (
    ("", "get", "Overview"),
    ("/payments", "get", "Payments, searched and filtered"),
    ("/payments/{payment_id}", "get", "One payment, its events and deliveries"),
    ("/deliveries/{delivery_id}/redeliver", "post", "Send a delivery again"),
    ("/webhooks", "get", "Webhook deliveries"),
    ("/webhooks/test", "post", "Send a test ping"),
    ("/health", "get", "The daemon's health"),
    ("/keys", "get post", "API keys: list, create"),
    ("/keys/{public_id}/revoke", "post", "Revoke an API key"),
    ("/users", "get post", "Users: list, invite"),
    ("/users/{user_id}/disable", "post", "Disable a user"),
    ("/sessions/{session_id}/revoke", "post", "End a session"),
    ("/settings", "get", "The settings in effect, secrets masked"),
    ("/login", "get post", "Sign in: password"),
    ("/login/code", "get post", "Sign in: the one-time code"),
    ("/login/setup", "get post", "Set up the one-time codes"),
    ("/logout", "post", "Sign out"),
)


def dashboard(prefix="/dashboard"):
    """The merchant's dashboard: browser pages behind its own session cookie and CSRF token
    (never API keys), listed so that the document has every route; forms, not an API."""
    form = {"required": False, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}}
    answers = {"200": PAGE, "303": {"description": "To the next page (or to sign in)."}, "403": PAGE, "404": PAGE}
    out = {}
    for suffix, methods, summary in DASHBOARD:
        params = [_param(name, "path", "The id.") for name in re.findall(r"{(\w+)}", suffix)]
        out[prefix + suffix] = {
            method: _op(summary, answers, params=params, body=form if method == "post" else None, tag="Dashboard")
            for method in methods.split()
        }
    out[prefix + "/static/{name}"] = {
        "get": _op(
            "The dashboard's script and style sheet",
            {"200": {"description": "The file."}},
            params=[_param("name", "path", "The file's name.")],
            tag="Dashboard",
        )
    }
    return out


def paths():
    """Every documented path, GET routes answering HEAD the same way (api/app.py)."""
    out = {}
    for group in (payments(), deliveries(), operations(), reports(), payouts(), greenfield_pages(), dashboard()):
        out.update(group)
    for item in out.values():
        if "get" in item:
            get = item["get"]
            item["head"] = {
                **get,
                "summary": get["summary"] + " (headers only)",
                "responses": {
                    code: {"description": answer["description"]} for code, answer in get["responses"].items()
                },
            }
    return out
