"""Reading what a caller sent about payouts and refunds; every error names the field and
nothing here writes. The destination is checked by the coin's node (its own network)."""

import json
import re
from decimal import Decimal

from ..core.errors import BadRequest, NotFound, UnknownCurrency, ValidationError
from ..core.idempotency import body_hash, idempotency_key  # noqa: F401  (the service's)
from ..core.money import parse_amount
from ..core.text import check_tree, text_problem
from . import amounts

PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
MAX_ADDRESS = 128
MAX_METADATA = 16384
PERCENT = re.compile(r"[0-9]{1,3}(\.[0-9]{1,8})?")


def fields_of(body, allowed):
    """Return ``body`` when it is a JSON object with only ``allowed`` keys, else raise."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ValidationError("unknown field", unknown[0])
    return body


def currency(value, coins, field="currency"):
    """Return the configured coin code ``value`` names, or raise naming ``field``."""
    if not isinstance(value, str) or not value:
        raise ValidationError("is required", field)
    code = value.strip().upper()
    if code not in coins:
        raise UnknownCurrency("must be one of %s" % ", ".join(sorted(coins)), field)
    return code


def amount(value, backend, field="amount"):
    """Return ``value`` as base units of ``backend``'s coin (exact, positive, at most its maximum)."""
    if value is None:
        raise ValidationError("is required", field)
    return parse_amount(value, field, backend.max_money, backend.decimals)


def destination(value, backend, field="destination"):
    """Return the address ``value`` once the coin's node says it is one of its network's.

    Another coin's or another network's address is refused (422) naming ``field``; a node
    that does not answer raises NodeError (503): nothing is written either way.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("is required", field)
    address = value.strip()
    if len(address) > MAX_ADDRESS or text_problem(address) or not address.isascii() or not address.isalnum():
        raise ValidationError("is not an address", field)
    if not backend.valid_address(address):
        raise ValidationError("is not a %s address of this node's network" % backend.currency, field)
    return address


def percent(value, field="subtract_percentage"):
    """Return a percentage 0-100 (a number or a decimal string; JSON numbers arrive as
    Decimal) as a Decimal."""
    if value is None:
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        raise ValidationError("must be a number from 0 to 100", field)
    text = str(value).strip()
    if not PERCENT.fullmatch(text) or not 0 <= Decimal(text) <= 100:
        raise ValidationError("must be a number from 0 to 100", field)
    return Decimal(text)


def variant(value, field="variant"):
    if value is None:
        return amounts.RATE_THEN
    if value not in amounts.VARIANTS:
        raise ValidationError("must be one of %s" % ", ".join(amounts.VARIANTS), field)
    return value


def decimal_text(value, field):
    """Return a plain positive decimal (a string or a number) as Decimal, or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        raise ValidationError('must be a decimal number such as "10.5"', field)
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]{1,20}(\.[0-9]{1,18})?", text) or Decimal(text) <= 0:
        raise ValidationError('must be a positive decimal number such as "10.5"', field)
    return Decimal(text)


def text(body, field, max_len, default=""):
    value = body.get(field)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ValidationError("must be a string", field)
    if len(value) > max_len:
        raise ValidationError("must be at most %d characters" % max_len, field)
    problem = text_problem(value)
    if problem:
        raise ValidationError(problem, field)
    return value


def metadata(value):
    if value is None:
        return "{}"
    if not isinstance(value, dict):
        raise ValidationError("must be a JSON object", "metadata")
    check_tree(value, "metadata", 16)
    text_ = json.dumps(value, sort_keys=True, default=str)
    if len(text_.encode()) > MAX_METADATA:
        raise ValidationError("must be at most %d bytes as JSON" % MAX_METADATA, "metadata")
    return text_


def public_id(value, kind):
    """Return ``value`` if it could be an id of ours, else raise NotFound (it names nothing)."""
    if not isinstance(value, str) or not PUBLIC_ID.fullmatch(value):
        raise NotFound("no %s with id %s" % (kind, value), "id")
    return value
