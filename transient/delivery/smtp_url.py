"""Where e-mail goes: the ``[email] smtp_url`` setting, parsed. Apart from the transport
(``mail.py``) so that the settings can check the URL without importing the dispatcher,
the store and the database drivers into the daemon's master (a worker on SQLite then
loaded libpq through the fork)."""

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ..core.redact import redact

SCHEMES = ("smtp", "smtps")


@dataclass(frozen=True)
class Smtp:
    """Where mail goes: ``smtp://user:pass@host:port`` (STARTTLS, required unless
    ``insecure``) or ``smtps://...`` (TLS from the first byte)."""

    scheme: str
    host: str
    port: int
    user: str | None
    password: str | None
    insecure: bool = False

    def __repr__(self):  # never the password
        return "Smtp(%s)" % redact(self.url)

    @property
    def url(self):
        auth = "%s:%s@" % (self.user, self.password) if self.user else ""
        return "%s://%s%s:%d" % (self.scheme, auth, self.host, self.port)


def parse_smtp_url(text, insecure=False):
    """Return the :class:`Smtp` of ``text``; raise ValueError naming what is wrong
    (never echoing the password)."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError("must be smtp://user:password@host:port or smtps://...") from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError("must be smtp://user:password@host:port or smtps://...")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("must name only the server (no path or query)")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    default = 465 if parts.scheme == "smtps" else 587
    return Smtp(parts.scheme, parts.hostname, port or default, user, password, insecure)
