"""The dashboard's users: make one, sign in (password, then a TOTP or recovery code),
sessions kept server-side, and the audit log of what managers and owners did.

A session's token lives only in the browser's cookie; the table keeps its SHA-256. The
token is new at each step of signing in (password, then the second factor), so a token
planted in a browser before it signs in is never the one that gets signed in.
"""

import base64
import datetime
import hashlib
import hmac
import json
import logging
import re
import secrets
import zoneinfo

import argon2
import pyotp

from ..core.clock import utcnow
from ..core.errors import Conflict, NotFound, TransientError, ValidationError
from ..ops import metrics
from ..store.db import write_transaction
from ..store.users import OWNER, ROLES, AuditEntry, DashboardSession, DashboardUser, RecoveryCode
from .throttle import Throttle

log = logging.getLogger("transient.dashboard")

MIN_PASSWORD = 10
RECOVERY_CODES = 10
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}")
PASSWORD, SETUP, FULL = "password", "setup", "full"  # a session's stages
ISSUER = "Transient"


class SignInRefused(TransientError):
    """Wrong e-mail, password or code: one message for all (nothing tells which)."""

    code = "sign_in_refused"
    http_status = 401


class Locked(TransientError):
    code = "locked"
    http_status = 429


def digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


def check_role(role):
    if role not in ROLES:
        raise ValidationError("role must be one of %s" % ", ".join(ROLES), "role")
    return role


def check_email(email):
    email = (email or "").strip().lower()
    if not EMAIL.fullmatch(email):
        raise ValidationError("not an e-mail address", "email")
    return email


def check_password(password):
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError("a password needs at least %d characters" % MIN_PASSWORD, "password")
    return password


def default_hasher():
    """argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile: 64 MiB, 3 passes)."""
    return argon2.PasswordHasher()


class Accounts:
    def __init__(
        self,
        db,
        *,
        clock=utcnow,
        require_2fa=True,
        session_hours=12,
        lockout_failures=5,
        lockout_minutes=15,
        hasher=None,
        token=lambda: secrets.token_urlsafe(32),
        languages=("en", "de", "es", "fr", "pt"),
    ):
        self.db = db
        self.clock = clock
        self.require_2fa = require_2fa
        self.lifetime = datetime.timedelta(hours=session_hours)
        self.throttle = Throttle(db, clock, lockout_failures, lockout_minutes)
        self.hasher = hasher or default_hasher()
        self.token = token
        self.languages = tuple(languages)
        # Verified against when the e-mail is unknown: the answer takes as long either way.
        self._dummy = self.hasher.hash(secrets.token_hex(16))

    # -- users ------------------------------------------------------------------------

    def create_user(self, email, role, password, by=None, address="cli"):
        """Store a new user; return its row. Raises ValidationError, Conflict (e-mail taken)."""
        email, role = check_email(email), check_role(role)
        hashed = self.hasher.hash(check_password(password))
        with write_transaction(self.db):
            if DashboardUser.get_or_none(DashboardUser.email == email) is not None:
                raise Conflict("a user %s exists already" % email, "email")
            user = DashboardUser.create(
                email=email, role=role, password_hash=hashed, created_at=self.clock(), created_by=by
            )
            self.audit(by or "cli", "user.create", "user", user.id, address, role=role, email=email)
        return user

    def users(self):
        return list(DashboardUser.select().order_by(DashboardUser.id))

    def user(self, user_id):
        user = DashboardUser.get_or_none(DashboardUser.id == user_id)
        if user is None:
            raise NotFound("no such user", "user")
        return user

    def disable(self, user_id, by, address):
        """Disable a user and end every session of theirs."""
        with write_transaction(self.db):
            user = self.user(user_id)
            if user.disabled_at is None:
                user.disabled_at = self.clock()
                user.save(only=[DashboardUser.disabled_at])
            self._revoke_all(user)
            self.audit(by, "user.disable", "user", user.id, address, email=user.email)
        return user

    def change_password(self, user, old, new, address, keep_session=None):
        """Set ``user``'s password to ``new`` when ``old`` is the current one (a wrong one
        counts as a failed sign-in); end every other session of theirs. Raises Locked,
        SignInRefused, ValidationError."""
        if self.throttle.locked(user.email, address):
            raise Locked("too many failed sign-ins: wait a few minutes and try again")
        fresh = DashboardUser.get_by_id(user.id)
        if not self._password_ok(fresh, old or ""):
            self.throttle.failed(user.email, address)
            raise SignInRefused("the current password is wrong")
        hashed = self.hasher.hash(check_password(new))
        with write_transaction(self.db):
            DashboardUser.update(password_hash=hashed).where(DashboardUser.id == user.id).execute()
            DashboardSession.update(revoked_at=self.clock()).where(
                DashboardSession.user == user.id,
                DashboardSession.revoked_at.is_null(),
                DashboardSession.id != (keep_session or ""),
            ).execute()
            self.audit(user.email, "user.password", "user", user.id, address)

    def reset_totp(self, user_id, by, address):
        """Forget a user's TOTP secret and recovery codes (a lost phone) and end their
        sessions: they set it up again at their next sign-in where it is required."""
        with write_transaction(self.db):
            user = self.user(user_id)
            DashboardUser.update(totp_secret=None, totp_step=0).where(DashboardUser.id == user.id).execute()
            RecoveryCode.delete().where(RecoveryCode.user == user).execute()
            self._revoke_all(user)
            self.audit(by, "user.totp_reset", "user", user.id, address, email=user.email)
        return user

    def change_role(self, user_id, role, by, address):
        """Give a user another role (made an owner without TOTP where owners need it, their
        sessions end: they set it up at the next sign-in). Raises ValidationError (no such
        role), NotFound, Conflict when it would leave no active owner."""
        role = check_role(role)
        with write_transaction(self.db):
            user = self.user(user_id)
            if user.role == role:
                return user
            if user.role == OWNER:
                owners = DashboardUser.select().where(
                    DashboardUser.role == OWNER, DashboardUser.disabled_at.is_null(), DashboardUser.id != user.id
                )
                if not owners.exists():
                    raise Conflict("the last owner keeps the owner role", "role")
            DashboardUser.update(role=role).where(DashboardUser.id == user.id).execute()
            if role == OWNER and self.require_2fa and not user.totp_secret:
                self._revoke_all(user)  # an owner signs in with TOTP: set it up at the next sign-in
            self.audit(by, "user.role", "user", user.id, address, email=user.email, role=role, was=user.role)
            user.role = role
        return user

    def set_preferences(self, user, language, time_zone, address):
        """Store a user's language (one of ``languages``, or "" for the browser's) and time
        zone (IANA, or "" for the dashboard's). Raises ValidationError."""
        language, time_zone = (language or "").strip(), (time_zone or "").strip()
        if language and language not in self.languages:
            raise ValidationError("must be one of %s" % ", ".join(self.languages), "language")
        if time_zone:
            try:
                zoneinfo.ZoneInfo(time_zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValidationError("is not an IANA time zone such as Europe/Berlin", "time_zone") from None
        with write_transaction(self.db):
            DashboardUser.update(language=language or None, time_zone=time_zone or None).where(
                DashboardUser.id == user.id
            ).execute()
            self.audit(user.email, "user.preferences", "user", user.id, address, language=language, time_zone=time_zone)

    # -- signing in -------------------------------------------------------------------

    def sign_in(self, email, password, address, user_agent=""):
        """Check an e-mail and password; return ``(token, session)`` of a new session whose
        stage says what comes next. Raises Locked, SignInRefused."""
        email = (email or "").strip().lower()[:254]
        locked = self.throttle.locked(email, address)
        if locked:
            metrics.SIGN_INS.labels("locked").inc()
            log.warning("dashboard: sign-in refused, %s locked (%s from %s)", locked, email, address)
            raise Locked("too many failed sign-ins: wait a few minutes and try again")
        user = DashboardUser.get_or_none(DashboardUser.email == email)
        if not self._password_ok(user, password or ""):
            self.throttle.failed(email, address)
            metrics.SIGN_INS.labels("failed").inc()
            log.info("dashboard: failed sign-in for %s from %s", email, address)
            raise SignInRefused("wrong e-mail or password")
        self.throttle.succeeded(email)
        if user.totp_secret:
            stage = PASSWORD
        elif user.role == OWNER and self.require_2fa:
            stage = SETUP
        else:
            stage = FULL
        if stage == FULL:
            self._signed_in(user, address)
        return self._new_session(user, stage, address, user_agent)

    def _password_ok(self, user, password):
        try:
            if user is None or user.disabled_at is not None:
                self.hasher.verify(self._dummy, password)
                return False
            return self.hasher.verify(user.password_hash, password)
        except argon2.exceptions.VerificationError:
            return False
        except argon2.exceptions.InvalidHashError:
            return False

    def second_factor(self, session, code, address, user_agent=""):
        """Check a TOTP code (or an unused recovery code) for a session at the password
        stage; return ``(token, session)`` of the signed-in session that replaces it.
        Raises Locked, SignInRefused."""
        user = session.user
        if self.throttle.locked(user.email, address):
            metrics.SIGN_INS.labels("locked").inc()
            raise Locked("too many failed sign-ins: wait a few minutes and try again")
        code = re.sub(r"[\s-]", "", code or "")
        if not (self._totp_used(user, code) or self._recovery_ok(user, code)):
            self.throttle.failed(user.email, address)
            metrics.SIGN_INS.labels("failed").inc()
            raise SignInRefused("wrong code")
        self.throttle.succeeded(user.email)
        self._signed_in(user, address)
        return self._replace(session, user, address, user_agent)

    def _totp_step(self, secret, code):
        """The time step (30 s) at which ``code`` is the right one, the one before or after
        now (a phone's clock a little off), or None."""
        if not secret or not code.isdigit() or len(code) != 6:
            return None
        totp = pyotp.TOTP(secret)
        now = self.clock().replace(tzinfo=datetime.timezone.utc)
        for offset in (0, -1, 1):
            at = now + datetime.timedelta(seconds=30 * offset)
            if hmac.compare_digest(totp.at(at), code):
                return totp.timecode(at)
        return None

    def _totp_used(self, user, code):
        """True when ``code`` is right and of a later step than the last one used (a code
        seen once, by a shoulder or a proxy's log, does not sign in again)."""
        step = self._totp_step(user.totp_secret, code)
        if step is None:
            return False
        with write_transaction(self.db):
            won = (
                DashboardUser.update(totp_step=step)
                .where(DashboardUser.id == user.id, DashboardUser.totp_step < step)
                .execute()
            )
        return won == 1

    def _recovery_ok(self, user, code):
        with write_transaction(self.db):
            used = (
                RecoveryCode.update(used_at=self.clock())
                .where(
                    RecoveryCode.user == user,
                    RecoveryCode.digest == digest(code.lower()),
                    RecoveryCode.used_at.is_null(),
                )
                .execute()
            )
        return used == 1

    @staticmethod
    def new_totp_secret():
        return pyotp.random_base32()

    def totp_uri(self, user, secret):
        return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)

    def set_up_totp(self, session, secret, code, address, user_agent=""):
        """Confirm a new TOTP secret with a code from the user's app; store it, make fresh
        recovery codes and sign the session in. Return ``(token, session, codes)``: the codes
        in clear, to show once. Raises ValidationError (bad secret), SignInRefused."""
        if not re.fullmatch(r"[A-Z2-7]{16,64}", secret or ""):
            raise ValidationError("not a TOTP secret", "secret")
        user = session.user
        step = self._totp_step(secret, re.sub(r"\s", "", code or ""))
        if step is None:
            self.throttle.failed(user.email, address)
            raise SignInRefused("wrong code: check the time on your phone and type the newest code")
        codes = [base64.b32encode(secrets.token_bytes(10)).decode().lower() for _ in range(RECOVERY_CODES)]
        with write_transaction(self.db):
            user.totp_secret, user.totp_step = secret, step
            user.save(only=[DashboardUser.totp_secret, DashboardUser.totp_step])
            RecoveryCode.delete().where(RecoveryCode.user == user).execute()
            RecoveryCode.insert_many([{"user": user, "digest": digest(c)} for c in codes]).execute()
            self.audit(user.email, "user.totp", "user", user.id, address)
        self._signed_in(user, address)
        token, fresh = self._replace(session, user, address, user_agent)
        return token, fresh, codes

    def _signed_in(self, user, address):
        metrics.SIGN_INS.labels("ok").inc()
        log.info("dashboard: %s signed in from %s", user.email, address)
        DashboardUser.update(last_login_at=self.clock()).where(DashboardUser.id == user.id).execute()

    # -- sessions ---------------------------------------------------------------------

    def _new_session(self, user, stage, address, user_agent):
        token, now = self.token(), self.clock()
        with write_transaction(self.db):
            session = DashboardSession.create(
                id=digest(token),
                user=user,
                stage=stage,
                csrf=secrets.token_urlsafe(24),
                address=address[:64],
                user_agent=(user_agent or "")[:255],
                created_at=now,
                last_seen_at=now,
                expires_at=now + self.lifetime,
            )
        return token, session

    def _replace(self, session, user, address, user_agent):
        with write_transaction(self.db):
            DashboardSession.delete().where(DashboardSession.id == session.id).execute()
        return self._new_session(user, FULL, address, user_agent)

    def session(self, token):
        """The live session of cookie value ``token`` (its user joined), or None: unknown,
        expired, revoked, or its user disabled."""
        if not token or len(token) > 200:
            return None
        now = self.clock()
        row = (
            DashboardSession.select(DashboardSession, DashboardUser)
            .join(DashboardUser)
            .where(DashboardSession.id == digest(token))
            .first()
        )
        if row is None or row.revoked_at is not None or row.expires_at <= now or row.user.disabled_at is not None:
            return None
        if (now - row.last_seen_at).total_seconds() > 60:  # one write a minute, not one a page
            DashboardSession.update(last_seen_at=now, expires_at=now + self.lifetime).where(
                DashboardSession.id == row.id
            ).execute()
        return row

    def sessions(self, user=None):
        query = DashboardSession.select(DashboardSession, DashboardUser).join(DashboardUser)
        query = query.where(DashboardSession.revoked_at.is_null(), DashboardSession.expires_at > self.clock())
        if user is not None:
            query = query.where(DashboardSession.user == user)
        return list(query.order_by(DashboardSession.last_seen_at.desc()))

    def sign_out(self, session):
        with write_transaction(self.db):
            DashboardSession.update(revoked_at=self.clock()).where(DashboardSession.id == session.id).execute()

    def revoke_session(self, session_id, by, address):
        with write_transaction(self.db):
            done = DashboardSession.update(revoked_at=self.clock()).where(DashboardSession.id == session_id).execute()
            if not done:
                raise NotFound("no such session", "session")
            self.audit(by, "session.revoke", "session", session_id[:12], address)

    def _revoke_all(self, user):
        DashboardSession.update(revoked_at=self.clock()).where(
            DashboardSession.user == user, DashboardSession.revoked_at.is_null()
        ).execute()

    @staticmethod
    def csrf_ok(session, given):
        return bool(given) and hmac.compare_digest(session.csrf.encode(), str(given).encode())

    # -- the audit log ----------------------------------------------------------------

    def audit(self, who, action, kind, target, address, **detail):
        """Write one audit entry (inside the caller's transaction when there is one)."""
        AuditEntry.create(
            at=self.clock(),
            user_email=who,
            action=action,
            target_kind=kind,
            target_id=str(target)[:64],
            address=(address or "")[:64],
            detail=json.dumps(detail, sort_keys=True),
        )

    def audit_of(self, kind, target, limit=50):
        """The entries about one thing, newest first."""
        query = AuditEntry.select().where(AuditEntry.target_kind == kind, AuditEntry.target_id == str(target)[:64])
        return list(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))

    def recent(self, limit=100):
        return list(AuditEntry.select().order_by(AuditEntry.id.desc()).limit(limit))
