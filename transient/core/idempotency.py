"""An Idempotency-Key and the body it was first sent with: the rules every create that
takes one shares (payments, payouts, refunds)."""

import hashlib
import json
import re
from decimal import Decimal

from .errors import BadRequest

IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def idempotency_key(value):
    """Return ``value`` if it is a usable Idempotency-Key (or None), else raise BadRequest."""
    if value is not None and not IDEMPOTENCY_KEY.fullmatch(value):
        raise BadRequest("must be 1-255 printable ASCII characters", "Idempotency-Key")
    return value


def body_hash(body):
    """Return the SHA-256 hex of a request body in canonical JSON (what a replay must match)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=decimal_text)
    return hashlib.sha256(text.encode()).hexdigest()


def decimal_text(value):
    """json.dumps' ``default`` for exact decimals: their text, never a float."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)
