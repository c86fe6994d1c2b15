"""The public module for webhook receivers: check a ``Transient-Signature`` header.

    from transient.webhooks import verify, SignatureError

    try:
        event = verify(request.body, request.headers["Transient-Signature"], SECRET)
    except SignatureError:
        return 400
    # event["event"]["id"] is unique: ignore an id seen before (at-least-once delivery).

The code is :mod:`transient.delivery.signing` (standard library only: copy that
file into the receiving application if Transient is not installed there).
"""

from .delivery.signing import HEADER, TOLERANCE, SignatureError, sign, signature, verify

__all__ = ["HEADER", "TOLERANCE", "SignatureError", "sign", "signature", "verify"]
