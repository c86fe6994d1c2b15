"""The dashboard's people: users with a role, their TOTP secret and recovery codes, their
server-side sessions, the audit log of what they did, and the sign-in throttle.

Written by ``transient.accounts`` alone. Secrets are never kept in clear where a digest
will do: a password is an argon2id hash, a session token and a recovery code are SHA-256
digests (both are long random strings, so a plain digest is enough). The TOTP secret must
be read back to check a code, so it is kept as it is.
"""

from peewee import (
    BigAutoField,
    BigIntegerField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from ..core.clock import utcnow
from .db import database


class BaseModel(Model):  # models.BaseModel's twin: models.py imports this module for MODELS
    class Meta:
        database = database
        legacy_table_names = False


VIEWER, MANAGER, OWNER = "viewer", "manager", "owner"
ROLES = (VIEWER, MANAGER, OWNER)


class DashboardUser(BaseModel):
    id = BigAutoField()
    email = CharField(max_length=254, unique=True)  # lower case
    role = CharField(max_length=8)
    password_hash = TextField()
    totp_secret = CharField(max_length=64, null=True)  # base32; set once the user confirmed a code
    totp_step = BigIntegerField(default=0)  # the last TOTP time step used: a code counts once
    created_at = DateTimeField(default=utcnow)
    created_by = CharField(max_length=254, null=True)  # who made it (None: the CLI)
    disabled_at = DateTimeField(null=True)
    last_login_at = DateTimeField(null=True)
    language = CharField(max_length=8, null=True)  # one of the checkout's; None: the browser's
    time_zone = CharField(max_length=64, null=True)  # IANA; None: [dashboard] time_zone


class RecoveryCode(BaseModel):
    id = BigAutoField()
    user = ForeignKeyField(DashboardUser, backref="recovery_codes", on_delete="CASCADE")
    digest = CharField(max_length=64)
    used_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "digest"), True),)


class DashboardSession(BaseModel):
    """One signed-in browser. ``stage`` is ``password`` between the password and the TOTP
    code (the session can do nothing else yet), ``full`` after."""

    id = CharField(max_length=64, primary_key=True)  # SHA-256 of the cookie's token
    user = ForeignKeyField(DashboardUser, backref="sessions", on_delete="CASCADE")
    stage = CharField(max_length=8)
    csrf = CharField(max_length=64)
    address = CharField(max_length=64)
    user_agent = CharField(max_length=255, default="")
    created_at = DateTimeField(default=utcnow)
    last_seen_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    revoked_at = DateTimeField(null=True)


class AuditEntry(BaseModel):
    """What a manager or owner did: who, what, to what, when and from where."""

    id = BigAutoField()
    at = DateTimeField(default=utcnow)
    user_email = CharField(max_length=254)
    action = CharField(max_length=48)  # e.g. "delivery.redeliver", "user.create", "key.revoke"
    target_kind = CharField(max_length=24)  # payment, delivery, user, key, session, webhook
    target_id = CharField(max_length=64)
    address = CharField(max_length=64)
    detail = TextField(default="{}")  # JSON

    class Meta:
        indexes = ((("target_kind", "target_id", "at"), False), (("at",), False))


class LoginThrottle(BaseModel):
    """Failed sign-ins in a row of one account (``account:<email>``) or one address
    (``address:<ip>``), and until when it is locked."""

    key = CharField(max_length=300, primary_key=True)
    failures = IntegerField(default=0)
    last_failure_at = DateTimeField(null=True)
    locked_until = DateTimeField(null=True)


USER_MODELS = [DashboardUser, RecoveryCode, DashboardSession, AuditEntry, LoginThrottle]
