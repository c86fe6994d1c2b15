"""Stored API keys: make one (shown once), list them, revoke one, find one by its
public id. The rules (scopes, the key's form, checking a request): core/keys.py."""

import threading
import time

from ..core import keys as key_rules
from ..core.clock import utcnow
from ..core.errors import NotFound
from .db import write_transaction
from .models import ApiKey

ACTIVE_TTL = 1.0  # seconds a worker trusts its answer to "is any stored key active?"


class KeyStore:
    """The ``api_key`` table of ``db``.

    Whether any key is active is asked on every anonymous request; each worker keeps
    the answer for ACTIVE_TTL, so the first key made (or the last one revoked) in
    another process counts within a second. Looking a key up is never cached: a
    revoked key is refused at its next request."""

    def __init__(self, db, clock=utcnow, ttl=ACTIVE_TTL, monotonic=time.monotonic):
        self.db = db
        self.clock = clock
        self.ttl = ttl
        self.monotonic = monotonic
        self._active = None  # (answer, when asked)
        self._lock = threading.Lock()

    def create(self, scopes, label=None):
        """Store a new key holding ``scopes``; return ``(row, key)``: the key in clear,
        for the caller to show once. Raises ValueError for an unknown scope."""
        scopes = key_rules.parse_scopes(scopes)
        key, public_id = key_rules.new_key()
        with write_transaction(self.db):
            row = ApiKey.create(
                public_id=public_id,
                digest=key_rules.digest(key),
                scopes=" ".join(scopes),
                label=label,
                created_at=self.clock(),
            )
        self._active = None
        return row, key

    def list(self, include_revoked=True):
        """Return the stored keys, oldest first (never the keys themselves: they are not kept)."""
        query = ApiKey.select().order_by(ApiKey.id)
        if not include_revoked:
            query = query.where(ApiKey.revoked_at.is_null())
        return list(query)

    def revoke(self, ref):
        """Revoke the key whose public id (or ``tk_<public id>`` prefix, or the whole key) is
        ``ref``; return its row. Revoking twice keeps the first time. Raises NotFound."""
        public_id = str(ref).strip()
        if public_id.startswith("tk_"):
            public_id = public_id[3:].split("_", 1)[0]
        with write_transaction(self.db):
            row = ApiKey.get_or_none(ApiKey.public_id == public_id)
            if row is None:
                raise NotFound("no API key %s (see `transient keys list`)" % public_id, "key")
            if row.revoked_at is None:
                row.revoked_at = self.clock()
                row.save(only=[ApiKey.revoked_at])
        self._active = None
        return row

    def find(self, public_id):
        """Return the key row with ``public_id`` (revoked or not), or None."""
        return ApiKey.get_or_none(ApiKey.public_id == public_id)

    def any_active(self):
        """True when at least one stored key is not revoked (asked at most once per ttl)."""
        now = self.monotonic()
        kept = self._active
        if kept is not None and now - kept[1] < self.ttl:
            return kept[0]
        answer = ApiKey.select(ApiKey.id).where(ApiKey.revoked_at.is_null()).limit(1).exists()
        with self._lock:
            self._active = (answer, now)
        return answer
