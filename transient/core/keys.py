"""API keys: who may create and list payments (HTTP and the AMQP commands alike)."""
import hmac

from .errors import Unauthorized


class KeyRing:
    """The configured keys. Empty, it lets everyone in (a loopback-only daemon)."""

    def __init__(self, keys=()):
        self.keys = [k.encode() for k in keys]

    def __bool__(self):
        return bool(self.keys)

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
