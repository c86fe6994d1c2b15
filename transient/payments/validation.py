"""Reading what a caller sent: a create request's fields, ids, URLs, integers and JSON
bodies with exact decimals. Every error names the field; nothing here writes."""

import datetime
import json
import uuid
from urllib.parse import urlsplit

from ..core.clock import parse_time
from ..core.errors import BadRequest, NotFound, UnknownCurrency, ValidationError
from ..core.exactjson import MAX_METADATA_DEPTH
from ..core.idempotency import body_hash, decimal_text, idempotency_key  # noqa: F401  (read here by the API)
from ..core.money import parse_amount
from ..core.text import ascii_int, check_tree, email_address, text_problem
from ..delivery.targets import UnsafeTarget
from ..rates.logic import fiat_code, parse_price
from ..rates.logic import text as rate_text

CREATE_FIELDS = {
    "currency",
    "amount",
    "price",
    "price_currency",
    "account",
    "metadata",
    "confirmations",
    "underpayment_tolerance",
    "expires_in",
    "expires_at",
    "callback_url",
    "redirect_url",
    "email",
}
MAX_URL = 2048
MAX_METADATA = 16384  # bytes of the metadata object as JSON
MAX_EXPIRY = datetime.timedelta(days=365)
MIN_EXPIRY = datetime.timedelta(seconds=1)


def create_fields(body, coins, now, price_lock=None, guard=None):
    """Return the Payment fields of a create request ``body``, or raise naming the field.

    ``coins`` maps a currency code to ``(backend, options)``; ``now`` is the
    creation time the expiry counts from. A priced request (``price`` and
    ``price_currency``) gets ``amount`` None, to be set from the rate, and expires
    after ``price_lock`` seconds unless it says otherwise. ``guard`` (a
    delivery.targets.TargetGuard) refuses callback and redirect URLs that reach
    private networks.
    """
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    unknown = sorted(set(body) - CREATE_FIELDS)
    if unknown:
        raise ValidationError("unknown field", unknown[0])
    currency = body.get("currency")
    if not isinstance(currency, str) or not currency:
        raise ValidationError("is required", "currency")
    currency = currency.upper()
    if currency not in coins:
        raise UnknownCurrency("unknown currency %r (configured: %s)" % (currency, ", ".join(sorted(coins))), "currency")
    backend, options = coins[currency]
    price = _price(body)
    if price is None:
        amount = parse_amount(body["amount"], "amount", backend.max_money, backend.decimals)
    return {
        "currency": currency,
        "amount": None if price else amount,
        "price": price and price[0],
        "price_currency": price and price[1],
        "account": optional_str(body, "account", 255),
        "metadata": _metadata(body.get("metadata")),
        "confirmations_required": int_field(body, "confirmations", 0, 1000, options["confirmations"]),
        "tolerance_bp": _tolerance(body.get("underpayment_tolerance", options["underpayment_tolerance"])),
        "expires_at": _expiry(body, price_lock if price and price_lock else options["expires_in"], now),
        "callback_url": check_url(body.get("callback_url"), "callback_url", guard),
        "redirect_url": check_url(body.get("redirect_url"), "redirect_url", guard),
        "email": email_address(body.get("email"), "email"),  # the customer's, for their e-mails
    }


def _price(body):
    """Return ``(price text, fiat code)`` of a priced request, None for one with an amount."""
    has_amount = body.get("amount") is not None
    if body.get("price") is None and body.get("price_currency") is None:
        if not has_amount:
            raise ValidationError("is required (or price and price_currency)", "amount")
        return None
    if has_amount:
        raise ValidationError("give amount or price, not both", "price")
    if body.get("price_currency") is None:
        raise ValidationError("is required with price", "price_currency")
    code = fiat_code(body["price_currency"], "price_currency")
    if body.get("price") is None:
        raise ValidationError("is required with price_currency", "price")
    return rate_text(parse_price(body["price"], code, "price")), code


def _expiry(body, default_seconds, now):
    given = [k for k in ("expires_in", "expires_at") if body.get(k) is not None]
    if len(given) == 2:
        raise ValidationError("give expires_in or expires_at, not both", "expires_at")
    if not given:
        return now + datetime.timedelta(seconds=default_seconds) if default_seconds else None
    if given[0] == "expires_in":
        seconds = int_field(body, "expires_in", int(MIN_EXPIRY.total_seconds()), int(MAX_EXPIRY.total_seconds()), None)
        return now + datetime.timedelta(seconds=seconds)
    at = parse_time(body["expires_at"], "expires_at")
    if not now + MIN_EXPIRY <= at <= now + MAX_EXPIRY:
        raise ValidationError("must be in the future, at most 365 days ahead", "expires_at")
    return at


def payment_id(value):
    """Return ``value`` as a UUID, or raise NotFound (a malformed id names no payment)."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise NotFound("no payment with id %s" % value, "id") from None


def optional_str(body, field, max_len):
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError("must be a string", field)
    if len(value) > max_len:
        raise ValidationError("must be at most %d characters" % max_len, field)
    problem = text_problem(value)
    if problem:
        raise ValidationError(problem, field)
    return value


def check_url(value, field, guard=None):
    """Return ``value`` if it is None or an absolute http(s) URL with a host (one that
    ``guard`` lets us reach, when given), else raise naming ``field``."""
    value = optional_str({field: value}, field, MAX_URL)
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        raise ValidationError("is not a valid URL", field) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("must be an absolute http:// or https:// URL", field)
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise ValidationError("must not contain spaces or control characters", field)
    if guard is not None:
        try:
            guard.check_url(value)
        except UnsafeTarget as exc:
            raise ValidationError(str(exc), field) from None
    return value


def _metadata(value):
    if value is None:
        return "{}"
    if not isinstance(value, dict):
        raise ValidationError("must be a JSON object", "metadata")
    check_tree(value, "metadata", MAX_METADATA_DEPTH)
    text = json.dumps(value, default=decimal_text, sort_keys=True)
    if len(text) > MAX_METADATA:
        raise ValidationError("must be at most 16 KiB as JSON", "metadata")
    return text


def int_value(value, field, lo, hi):
    """Return ``value`` as an int in [lo, hi] (ASCII digits only), or raise naming ``field``."""
    return ascii_int(value, field, lo, hi)


def int_field(body, field, lo, hi, default):
    value = body.get(field)
    return default if value is None else int_value(value, field, lo, hi)


def _tolerance(value):
    """Underpayment tolerance in percent (up to 2 decimals) -> basis points."""
    if value is None:
        return 0
    units = parse_amount(value, "underpayment_tolerance", max_money=10000, decimals=2, allow_zero=True)
    if units >= 10000:
        raise ValidationError("must be below 100 (percent)", "underpayment_tolerance")
    return units
