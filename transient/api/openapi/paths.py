"""The OpenAPI document's paths: every route of the native API, by group (``money`` and
``pages`` hold some). Each operation names the scope its resource declares (``x-scope``);
tests/unit/test_openapi.py checks both the routes and the scopes against the app."""

from ...core import keys
from .build import IDEMPOTENCY, LIMIT, PAYMENT_ID, answer, body_of, envelope, operation, param, ref
from .money import batches, payouts, refunds
from .pages import checkout, dashboard, greenfield_pages
from .schemas import STATUSES


def payments():
    created = answer(envelope(payment=ref("Payment")), "The payment.")
    return {
        "/payments": {
            "post": operation(
                "Create a payment",
                {"201": created, "200": {**created, "description": "A replay of the same Idempotency-Key."}},
                keys.PAYMENTS_CREATE,
                [IDEMPOTENCY],
                body_of(ref("CreatePayment")),
            ),
            "get": operation(
                "List payments, newest first",
                {
                    "200": answer(
                        envelope(
                            payments={"type": "array", "items": ref("Payment")},
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
                    param("status", "query", "Only this status.", {"enum": STATUSES}, False),
                    param("currency", "query", "Only this coin.", None, False),
                    LIMIT,
                    param("cursor", "query", "The cursor of the previous page.", None, False),
                ],
            ),
        },
        "/payments/{payment_id}": {
            "get": operation(
                "Read a payment",
                {
                    "200": answer(
                        envelope(payment={"anyOf": [ref("Payment"), ref("PublicPayment")]}),
                        "The full object with `payments:read`, else the public view.",
                    )
                },
                params=[
                    PAYMENT_ID,
                    param("view", "query", "`public`: the customer's view.", {"enum": ["public"]}, False),
                ],
            )
        },
    }


def deliveries():
    return {
        "/payments/{payment_id}/events": {
            "get": operation(
                "A payment's events and their deliveries",
                {"200": answer(envelope(events={"type": "array", "items": ref("Event")}), "The events, in order.")},
                keys.PAYMENTS_READ,
                [PAYMENT_ID],
                tag="Events",
            )
        },
        "/deliveries/{delivery_id}/redeliver": {
            "post": operation(
                "Send an event's delivery again",
                {"202": answer({"type": "object"}, "Queued again.")},
                keys.WEBHOOKS_MANAGE,
                [param("delivery_id", "path", "The delivery's id.", {"type": "integer"})],
                tag="Events",
            )
        },
        "/webhooks/test": {
            "post": operation(
                "Send a signed test ping to a webhook URL",
                {"200": answer({"type": "object", "required": ["success", "url"]}, "What the receiver answered.")},
                keys.WEBHOOKS_MANAGE,
                body=body_of(
                    {"type": "object", "properties": {"url": {"type": "string"}}, "additionalProperties": False}, False
                ),
                tag="Events",
            )
        },
    }


def operations():
    notify = operation(
        "A walletnotify or blocknotify ping",
        {"202": answer({"type": "object"}, "Accepted: the coin's sync is woken.")},
        params=[
            param("currency", "path", "A configured coin."),
            param("kind", "path", "What changed.", {"enum": ["transaction", "block"]}),
            param("value", "path", "The txid or block hash (64 hex characters)."),
            param("token", "query", "[notify] token, for a ping from beyond loopback.", None, False),
            param("X-Transient-Token", "header", "[notify] token, as a header.", None, False),
        ],
        tag="Operations",
        description="From loopback, or with the [notify] token.",
    )
    return {
        "/notify/{currency}/{kind}/{value}": {"post": notify, "get": notify},
        "/healthz": {
            "get": operation(
                "Liveness and each coin's sync",
                {
                    "200": answer({"type": "object", "required": ["ok"]}, "Healthy."),
                    "503": answer({"type": "object", "required": ["ok"]}, "Not healthy: the body says why."),
                },
                tag="Operations",
            )
        },
        "/metrics": {
            "get": operation(
                "Prometheus metrics",
                {"200": {"description": "The text format.", "content": {"text/plain": {"schema": {"type": "string"}}}}},
                tag="Operations",
                description="From loopback without a key; from elsewhere with a key holding `metrics:read`.",
            )
        },
        "/openapi.json": {
            "get": operation("This document", {"200": answer({"type": "object"}, "OpenAPI 3.1.")}, tag="Operations")
        },
        "/rates/{currency}/{fiat}": {
            "get": operation(
                "A fiat rate and its sources",
                {
                    "200": answer({"type": "object", "required": ["usable"]}, "The rate is usable."),
                    "503": answer({"type": "object", "required": ["usable"]}, "Unusable: `reason` says why."),
                },
                params=[param("currency", "path", "A configured coin."), param("fiat", "path", "A [rates] fiat code.")],
                tag="Rates",
            )
        },
    }


def reports():
    text = {"description": "The file.", "content": {"text/csv": {"schema": {"type": "string"}}}}
    period = [
        param(name, "query", text, None, False)
        for name, text in (
            ("from", "First day (YYYY-MM-DD), in tz."),
            ("to", "Last day (YYYY-MM-DD), in tz."),
            ("tz", "An IANA time zone (default UTC)."),
            ("currency", "Only this coin."),
        )
    ]
    return {
        "/reports/{kind}": {
            "get": operation(
                "A report file (CSV or JSON lines)",
                {"200": text},
                keys.REPORTS_READ,
                [
                    param("kind", "path", "payments, receipts or payouts."),
                    *period,
                    param("status", "query", "Only this status.", None, False),
                    param("format", "query", "csv or jsonl.", {"enum": ["csv", "jsonl"]}, False),
                ],
                tag="Reports",
            )
        },
        "/reports/reconcile": {
            "get": operation(
                "The ledger against the node's wallet",
                {"200": answer({"type": "object"}, "What matches and what does not.")},
                keys.REPORTS_READ,
                period,
                tag="Reports",
            )
        },
    }


def paths():
    """Every documented path, GET routes answering HEAD the same way (api/app.py)."""
    out = {}
    for group in (
        payments(),
        checkout(),
        deliveries(),
        operations(),
        reports(),
        payouts(),
        refunds(),
        batches(),
        greenfield_pages(),
        dashboard(),
    ):
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
