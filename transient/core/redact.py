"""Keeping secrets out of what Transient shows: logs, /healthz, error bodies, CLI output."""
from urllib.parse import urlsplit, urlunsplit


def redact(url):
    """Return ``url`` with its password replaced by ``***`` (None and '' pass through)."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = "%s:***@%s" % (parts.username or "", parts.netloc.rpartition("@")[2])
    return urlunsplit(parts._replace(netloc=netloc))


def scrub(text, url):
    """Return ``text`` without the password of ``url`` in it, whatever a library put there."""
    password = urlsplit(url).password if url else None
    return text.replace(password, "***") if password else text
