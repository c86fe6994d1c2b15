"""API keys: who may do what (HTTP and the AMQP commands alike).

Two kinds of key. The ``[api] keys`` of the config hold every scope. Keys made with
``transient keys create`` hold the scopes given, live in the database as the SHA-256
of the key (never the key itself) and are found by their public id:
``tk_<public id>_<secret>``. A key is shown once, when it is made.
"""

import hashlib
import hmac
import re
import secrets

from .errors import Forbidden, Unauthorized

PAYMENTS_READ, PAYMENTS_CREATE, WEBHOOKS_MANAGE, ADMIN = "payments:read", "payments:create", "webhooks:manage", "admin"
METRICS_READ = "metrics:read"  # GET /metrics from beyond loopback (a Prometheus server's key)
REPORTS_READ = "reports:read"  # GET /reports/...: the accountant's key reads every payment, nothing else
# Marking an invoice Settled or Invalid by hand (Greenfield's canmodifyinvoices): it queues
# InvoiceSettled, which ships goods, so a key that only creates invoices cannot do it.
PAYMENTS_MARK = "payments:mark"
# Payouts: reading them; making refunds that await approval (Greenfield's
# cancreatenonapprovedpullpayments); anything that may make money leave (approve, record).
PAYOUTS_READ, PAYOUTS_CREATE, PAYOUTS_APPROVE = "payouts:read", "payouts:create", "payouts:approve"
SCOPES = (
    PAYMENTS_READ,
    PAYMENTS_CREATE,
    WEBHOOKS_MANAGE,
    ADMIN,
    METRICS_READ,
    REPORTS_READ,
    PAYMENTS_MARK,
    PAYOUTS_READ,
    PAYOUTS_CREATE,
    PAYOUTS_APPROVE,
)
ALL_SCOPES = frozenset(SCOPES)
_STORED = re.compile(r"^tk_([a-z0-9]{10})_([A-Za-z0-9_-]{32,64})$")


def parse_scopes(values):
    """Return the scopes in ``values`` (strings, or comma-separated strings) in their
    canonical order; raise ValueError naming an unknown one."""
    given = {v.strip() for value in values for v in str(value).split(",") if v.strip()}
    unknown = sorted(given - ALL_SCOPES)
    if unknown:
        raise ValueError("unknown scope %r (scopes: %s)" % (unknown[0], ", ".join(SCOPES)))
    if not given:
        raise ValueError("give at least one scope (%s)" % ", ".join(SCOPES))
    return [s for s in SCOPES if s in given]


def granted(scopes):
    """The scopes a key holding ``scopes`` may use: admin holds them all."""
    scopes = frozenset(scopes)
    return ALL_SCOPES if ADMIN in scopes else scopes


def digest(key):
    """The SHA-256 hex of a key: what the database keeps."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(token=secrets.token_urlsafe, choice=secrets.choice):
    """Return ``(key, public_id)`` of a fresh key (256 random bits after the public id)."""
    public_id = "".join(choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(10))
    return "tk_%s_%s" % (public_id, token(32)), public_id


class Grant:
    """What one request may do: ``scopes``, and which key it came with (None: keys are off)."""

    __slots__ = ("scopes", "key")

    def __init__(self, scopes, key=None):
        self.scopes = granted(scopes)
        self.key = key

    def allows(self, scope):
        return scope in self.scopes


OPEN = Grant(ALL_SCOPES)  # no keys anywhere: a loopback-only daemon lets everyone in
ANONYMOUS = Grant(())


class KeyRing:
    """The config's keys (every scope) and the stored ones.

    ``store`` has ``find(public_id)`` (a row with ``digest``, ``scopes`` (space-separated),
    ``revoked_at``) and ``any_active()``; without a store only the config's keys count.
    With no key of either kind, everyone is let in.
    """

    def __init__(self, keys=(), store=None):
        self.keys = [k.encode() for k in keys]
        self.store = store

    def __bool__(self):
        return bool(self.keys) or (self.store is not None and self.store.any_active())

    def identify(self, given):
        """Return the Grant of the ``Authorization`` header ``given``: OPEN when keys are
        off, ANONYMOUS when no key is given; raise Unauthorized for a key that is
        malformed, unknown or revoked."""
        if not given:
            return ANONYMOUS if self else OPEN
        scheme, _, token = given.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            if not self:
                return OPEN
            raise Unauthorized("a valid API key is required (Authorization: Bearer <key>)")
        encoded = token.encode()
        # Compare against every key so the time taken says nothing about which matched.
        ok = False
        for key in self.keys:
            ok |= hmac.compare_digest(encoded, key)
        if ok:
            return Grant(ALL_SCOPES, key="config")
        match = _STORED.match(token)
        row = self.store.find(match.group(1)) if match and self.store is not None else None
        if row is not None and hmac.compare_digest(digest(token), row.digest):
            if row.revoked_at is not None:
                raise Unauthorized("this API key was revoked")
            return Grant(row.scopes.split(), key=row.public_id)
        if not self:
            return OPEN
        raise Unauthorized("a valid API key is required (Authorization: Bearer <key>)")

    def require(self, given, scope):
        """Return the Grant of ``given`` if it holds ``scope``; raise Unauthorized
        without a valid key, Forbidden (naming the scope) with a key that lacks it."""
        grant = self.identify(given)
        if grant.allows(scope):
            return grant
        if grant is ANONYMOUS:
            raise Unauthorized("a valid API key is required (Authorization: Bearer <key>)")
        raise Forbidden("this API key lacks the scope %s" % scope, scope=scope)

    def check(self, given):
        """Raise unless keys are off or ``given`` is a key holding every scope."""
        self.require(given, ADMIN)
