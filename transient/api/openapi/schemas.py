"""The OpenAPI document's components: the shapes the native API reads and writes. The
names that the code owns (statuses, event types, scopes) are taken from it, not copied."""

from ...core import events, keys
from ...core import status as st

AMOUNT = {
    "type": "string",
    "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
    "description": "An exact decimal amount of the coin (or fiat), as a string: never a float.",
    "examples": ["10.5"],
}
AMOUNT_IN = {
    "oneOf": [AMOUNT, {"type": "number"}],
    "description": "An exact decimal: a string, or a JSON number read from its literal text.",
}
TIME = {"type": ["string", "null"], "format": "date-time", "description": "ISO 8601, UTC (`...Z`)."}
STATUSES = list(st.STATUSES)
RECEIPT_STATES = ["pending", "confirmed", "conflicted", "removed"]


def _ref(name):
    return {"$ref": "#/components/schemas/%s" % name}


def _object(properties, required=(), **extra):
    return {"type": "object", "properties": properties, "required": list(required), **extra}


ERROR = _object(
    {
        "success": {"const": False},
        "error": _object(
            {
                "code": {
                    "type": "string",
                    "description": "A stable, machine-readable code (`invalid`, `not_found`...).",
                },
                "message": {"type": "string", "description": "One readable line; never a secret."},
                "field": {"type": ["string", "null"], "description": "The field, parameter or header at fault."},
                "scope": {"type": "string", "description": "On a 403: the scope the key lacks."},
            },
            ["code", "message"],
        ),
    },
    ["success", "error"],
)

TRANSACTION = _object(
    {
        "txid": {"type": "string"},
        "vout": {"type": ["integer", "null"]},
        "amount": AMOUNT,
        "confirmations": {"type": "integer"},
        "status": {"enum": RECEIPT_STATES},
        "first_seen": TIME,
    },
    ["txid", "amount", "confirmations", "status"],
)

_COMMON = {
    "id": {"type": "string", "format": "uuid"},
    "currency": {"type": "string", "examples": ["DOGE"]},
    "status": {"enum": STATUSES},
    "paid": {"type": "boolean"},
    "paid_late": {"type": "boolean", "description": "Funds covering the amount arrived after the expiry."},
    "amount": AMOUNT,
    "amount_received": AMOUNT,
    "amount_pending": AMOUNT,
    "amount_due": AMOUNT,
    "amount_overpaid": AMOUNT,
    "payment_address": {"type": "string"},
    "payment_uri": {"type": "string", "description": "BIP21 URI for the amount still due."},
    "checkout_url": {"type": "string", "description": "The page to send the customer to ([server] public_url)."},
    "qrcode_url": {"type": "string"},
    "confirmations_required": {"type": "integer"},
    "expires_at": TIME,
    "transactions": {"type": "array", "items": TRANSACTION},
}

PAYMENT = _object(
    dict(
        _COMMON,
        amount_recieved={**AMOUNT, "deprecated": True, "description": "The seed's spelling of amount_received."},
        account={"type": ["string", "null"], "description": "The node's label for the address."},
        metadata={"type": ["object", "null"]},
        underpayment_tolerance={"type": "string", "description": "Percent, up to 2 decimals."},
        callback_url={"type": ["string", "null"], "description": "Per-payment webhook URL, its secrets redacted."},
        redirect_url={"type": ["string", "null"]},
        email={"type": ["string", "null"], "description": "The customer's address for their e-mails."},
        price={"type": ["string", "null"], "description": "The fiat price it was created with."},
        price_currency={"type": ["string", "null"]},
        rate={"type": ["string", "null"], "description": "Fiat per coin, locked at creation."},
        rate_sources={"type": ["array", "object", "null"]},
        rate_at=TIME,
        created_at=TIME,
        updated_at=TIME,
        paid_at=TIME,
        status_history={
            "type": "array",
            "items": _object(
                {"status": {"enum": STATUSES}, "at": TIME, "cause": {"type": ["string", "null"]}}, ["status", "at"]
            ),
        },
        derivation_index={"type": "integer", "description": "Watch-only: the index on the key's receive chain."},
        key_fingerprint={"type": "string", "description": "Watch-only: the key's fingerprint."},
    ),
    ["id", "currency", "status", "amount", "amount_received", "payment_address", "transactions"],
    description="A payment as its merchant sees it (with `payments:read`, or when no key is configured).",
)

PUBLIC_PAYMENT = _object(
    dict(
        _COMMON,
        view={"const": "public"},
        confirmations={"type": ["integer", "null"]},
        description={"type": ["string", "null"], "description": "metadata.description, when a string."},
        redirect_url={"type": ["string", "null"], "description": "Given once the payment is paid."},
    ),
    ["id", "view", "currency", "status", "amount", "payment_address"],
    description="What the customer's checkout page needs, and nothing of the merchant's.",
)

CREATE_PAYMENT = _object(
    {
        "currency": {"type": "string", "description": "A configured coin's code."},
        "amount": AMOUNT_IN,
        "price": {**AMOUNT_IN, "description": "A price in fiat instead of `amount` (with `price_currency`)."},
        "price_currency": {"type": "string", "description": "ISO 4217 code listed in [rates] fiat."},
        "account": {"type": "string", "description": "Label for the address on the node (e.g. an order id)."},
        "metadata": {"type": "object", "description": "Any JSON object, at most 16 KiB and 16 levels."},
        "confirmations": {"type": ["integer", "string"], "description": "Confirmations to be PAID (0 to 1000)."},
        "underpayment_tolerance": {"type": ["string", "number"], "description": "Percent that may be missing."},
        "expires_in": {"type": ["integer", "string"], "description": "Seconds until expiry."},
        "expires_at": {"type": "string", "format": "date-time", "description": "ISO 8601 with an offset."},
        "callback_url": {"type": "string", "description": "Per-payment webhook URL."},
        "redirect_url": {"type": "string", "description": "Where the checkout sends the customer once paid."},
        "email": {"type": "string", "description": "The customer's address (paid/underpaid/late e-mails)."},
    },
    ["currency"],
    additionalProperties=False,
    description="Give `amount`, or `price` and `price_currency`. Unknown fields are a 422 naming them.",
)

EVENT = _object(
    {
        "id": {"type": "string"},
        "type": {"enum": list(events.TYPES) + list(events.PAYOUT_TYPES)},
        "sequence": {"type": "integer", "description": "Per payment, from 1: order and gaps are visible."},
        "created_at": TIME,
        "data": {"type": "object"},
    },
    ["id", "type", "created_at", "data"],
)

PAYOUT = _object(
    {
        "id": {"type": "string"},
        "currency": {"type": "string"},
        "amount": AMOUNT,
        "destination": {"type": ["string", "null"]},
        "state": {"type": "string"},
        "revision": {"type": "integer"},
        "pull_payment_id": {"type": ["string", "null"]},
        "payment_id": {"type": ["string", "null"]},
        "batch_id": {"type": ["string", "null"]},
        "txid": {"type": ["string", "null"]},
        "paid_externally": {"type": "boolean"},
        "metadata": {"type": "object"},
        "created_at": TIME,
        "updated_at": TIME,
        "approved_at": TIME,
        "completed_at": TIME,
        "approved_by": {
            "type": ["string", "null"],
            "description": "Who approved it: api-key:<id>, dashboard:<user>, cli:<user>, auto:limit or"
            " auto:pull-payment.",
        },
        "fee": {
            "type": ["string", "null"],
            "description": "Its share of its transaction's fee, in coins (read from the node after the send;"
            " null until then).",
        },
    },
    ["id", "currency", "amount", "state"],
)

PULL_PAYMENT = _object(
    {
        "id": {"type": "string"},
        "currency": {"type": "string"},
        "amount": AMOUNT,
        "claimed": AMOUNT,
        "remaining": AMOUNT,
        "name": {"type": ["string", "null"]},
        "description": {"type": ["string", "null"]},
        "payment_id": {"type": ["string", "null"]},
        "view_link": {"type": ["string", "null"]},
        "archived": {"type": "boolean"},
        "created_at": TIME,
        "expires_at": TIME,
    },
    ["id", "currency", "amount"],
)

WEBHOOK = _object(
    {
        "payment_id": {"type": "string", "format": "uuid"},
        "status": {"enum": STATUSES},
        "event": EVENT,
        "payment": _ref("Payment"),
    },
    ["payment_id", "status", "event", "payment"],
    description="The body of a payment event's webhook POST, signed in `Transient-Signature`"
    " (`t=<unix time>,v1=<hex HMAC-SHA256 of t.body>`); headers `Transient-Event-Id`, `Transient-Event-Type`,"
    " `Transient-Delivery-Id`, `Transient-Delivery-Attempt`.",
)

PAYOUT_WEBHOOK = _object(
    {"payout_id": {"type": "string"}, "state": {"type": "string"}, "event": EVENT, "payout": _ref("Payout")},
    ["payout_id", "state", "event", "payout"],
    description="The body of a payout event's webhook POST, signed as a payment's.",
)


def components():
    """The ``components`` object: the schemas and the bearer key scheme."""
    return {
        "schemas": {
            "Error": ERROR,
            "Amount": AMOUNT,
            "Payment": PAYMENT,
            "PublicPayment": PUBLIC_PAYMENT,
            "CreatePayment": CREATE_PAYMENT,
            "Transaction": TRANSACTION,
            "Event": EVENT,
            "Payout": PAYOUT,
            "PullPayment": PULL_PAYMENT,
            "Webhook": WEBHOOK,
            "PayoutWebhook": PAYOUT_WEBHOOK,
        },
        "securitySchemes": {
            "apiKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "`Authorization: Bearer KEY`. Scopes: %s (`admin` holds them all)."
                % ", ".join("`%s`" % s for s in keys.SCOPES),
            }
        },
    }
