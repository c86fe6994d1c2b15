"""Stored API keys: make one (shown once), list them, revoke one, find one by its
public id. The rules (scopes, the key's form, checking a request): core/keys.py."""
from ..core import keys as key_rules
from ..core.clock import utcnow
from ..core.errors import NotFound
from .db import write_transaction
from .models import ApiKey


class KeyStore:
    """The ``api_key`` table of ``db``."""

    def __init__(self, db, clock=utcnow):
        self.db = db
        self.clock = clock

    def create(self, scopes, label=None):
        """Store a new key holding ``scopes``; return ``(row, key)``: the key in clear,
        for the caller to show once. Raises ValueError for an unknown scope."""
        scopes = key_rules.parse_scopes(scopes)
        key, public_id = key_rules.new_key()
        with write_transaction(self.db):
            row = ApiKey.create(public_id=public_id, digest=key_rules.digest(key), scopes=" ".join(scopes),
                                label=label, created_at=self.clock())
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
        return row

    def find(self, public_id):
        """Return the key row with ``public_id`` (revoked or not), or None."""
        return ApiKey.get_or_none(ApiKey.public_id == public_id)

    def any_active(self):
        """True when at least one stored key is not revoked."""
        return ApiKey.select(ApiKey.id).where(ApiKey.revoked_at.is_null()).limit(1).exists()
