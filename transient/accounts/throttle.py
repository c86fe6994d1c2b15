"""Sign-in throttling: failures in a row per account and per address, and the lockout
they lead to. A lock is checked before the password is (a locked account answers the same
whatever is typed), and a failure older than the lockout window no longer counts."""

import datetime
import logging

from ..ops import metrics
from ..store.db import write_transaction
from ..store.users import LoginThrottle

log = logging.getLogger("transient.dashboard")


class Throttle:
    def __init__(self, db, clock, failures=5, minutes=15):
        self.db = db
        self.clock = clock
        self.limits = {"account": failures, "address": failures * 4}
        self.window = datetime.timedelta(minutes=minutes)

    @staticmethod
    def keys(email, address):
        return {"account": "account:" + email, "address": "address:" + address}

    def locked(self, email, address):
        """The kind (``account`` or ``address``) locked now for this attempt, or None."""
        now = self.clock()
        for kind, key in self.keys(email, address).items():
            row = LoginThrottle.get_or_none(LoginThrottle.key == key)
            if row is not None and row.locked_until is not None and row.locked_until > now:
                return kind
        return None

    def failed(self, email, address):
        """Count a failure for the account and the address; lock each that reached its limit."""
        now = self.clock()
        with write_transaction(self.db):
            for kind, key in self.keys(email, address).items():
                row = LoginThrottle.get_or_none(LoginThrottle.key == key)
                new = row is None
                row = row or LoginThrottle(key=key, failures=0)
                if row.last_failure_at is None or now - row.last_failure_at > self.window:
                    row.failures = 0
                row.failures += 1
                row.last_failure_at = now
                if row.failures >= self.limits[kind] and not (row.locked_until and row.locked_until > now):
                    row.locked_until = now + self.window
                    metrics.LOCKOUTS.labels(kind).inc()
                    log.warning(
                        "dashboard: %s %s locked for %d minutes after %d failed sign-ins",
                        kind,
                        email if kind == "account" else address,
                        self.window.total_seconds() // 60,
                        row.failures,
                    )
                row.save(force_insert=new)

    def succeeded(self, email):
        """A good sign-in clears the account's failures (not the address's: one good account
        must not reset the count of guesses at others)."""
        with write_transaction(self.db):
            LoginThrottle.delete().where(LoginThrottle.key == "account:" + email).execute()
