"""Webhook signatures: how Transient signs a body, and how a receiver checks it.

The header is ``Transient-Signature: t=<unix seconds>,v1=<hex>``, where the hex
is HMAC-SHA256(secret, "<t>.<raw body>"). Receivers import it as
:mod:`transient.webhooks`; it needs nothing but the standard library, so it can
also be copied into a receiving application that does not install Transient.
"""

import hashlib
import hmac
import json
import re
import time

HEADER = "Transient-Signature"
TOLERANCE = 300  # seconds a signature stays valid: replays after that are refused
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: int() would also read "²" or "٣"
_HEX = re.compile(r"[0-9a-f]{64}")


class SignatureError(ValueError):
    """The signature is missing, malformed, wrong, or too old."""


def signature(secret, timestamp, body):
    """Return the hex HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret``."""
    if isinstance(secret, str):
        secret = secret.encode()
    if isinstance(body, str):
        body = body.encode()
    return hmac.new(secret, b"%d." % timestamp + body, hashlib.sha256).hexdigest()


def sign(secret, body, timestamp=None):
    """Return the ``Transient-Signature`` header value for ``body``."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return "t=%d,v1=%s" % (timestamp, signature(secret, timestamp, body))


def verify(body, header, secrets, tolerance=TOLERANCE, now=None):
    """Check ``header`` against the raw ``body``; return the body parsed as JSON.

    ``secrets`` is the secret, or a list of them while rotating. Raises
    SignatureError when the header is missing or malformed, no signature
    matches, or the timestamp is more than ``tolerance`` seconds away from now.
    Amounts in the returned dict are strings: parse them with Decimal.
    """
    if isinstance(body, str):
        body = body.encode()
    if isinstance(secrets, (str, bytes)):
        secrets = [secrets]
    timestamp, given = _parse(header)
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise SignatureError(
            "signature timestamp is %d s away from now (tolerance %d s)" % (abs(now - timestamp), tolerance)
        )
    expected = [signature(s, timestamp, body) for s in secrets]
    # Compare every pair so the time taken says nothing about which one matched.
    ok = False
    for want in expected:
        for got in given:
            ok |= hmac.compare_digest(want, got)
    if not ok:
        raise SignatureError("no signature matches the body")
    return json.loads(body)


def _parse(header):
    """Return ``(timestamp, [v1 hex, ...])`` of a header, or raise SignatureError: any
    malformed header (not text, non-ASCII digits, a v1 that is not 64 hex digits)."""
    if isinstance(header, bytes):
        try:
            header = header.decode("ascii")
        except UnicodeDecodeError:
            header = None
    if not isinstance(header, str):
        raise SignatureError("missing or malformed %s header" % HEADER)
    timestamp, given = None, []
    for part in header.split(","):
        key, _, value = part.strip(" \t").partition("=")
        if key == "t":
            if not _TIMESTAMP.fullmatch(value) or timestamp is not None:
                raise SignatureError("malformed timestamp in the %s header" % HEADER)
            timestamp = int(value)
        elif key == "v1":
            if not _HEX.fullmatch(value):
                raise SignatureError("malformed v1 signature in the %s header" % HEADER)
            given.append(value)
    if timestamp is None or not given:
        raise SignatureError("missing or malformed %s header" % HEADER)
    return timestamp, given
