"""Keeping secrets out of what Transient shows: logs, /healthz, error bodies, the event
log, CLI output. One module, used everywhere:

- ``redact(url)``: a URL with its ``user:pass@`` and its secret-looking query values
  (token, key, secret, password, signature, ...) replaced by ``***``;
- ``scrub(text, *known)``: a text with every URL in it redacted and every known secret
  (plain values, or the secrets inside given URLs) replaced by ``***``;
- ``ScrubFilter``: a logging filter that scrubs every record (message, arguments and
  traceback) of the configured secrets.
"""

import logging
import re
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"
# Query parameter names whose values are credentials (matched anywhere in the name, any case).
SECRET_PARAM = re.compile(r"token|key|secret|pass|pwd|sig|auth|credential|session|jwt|bearer", re.I)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]+")
MIN_SECRET = 4  # shorter known values would mask ordinary words and digits


def redact(url):
    """Return ``url`` with its credentials replaced by ``***`` (None and '' pass through).

    ``user:pass@`` becomes ``user:***@`` (a lone user name stays, as in
    ``postgresql://transient@db/``), and the value of each query parameter whose name
    looks secret becomes ``***``. A text that cannot be read as a URL is returned as
    ``***`` (it might be anything)."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user, colon, _ = userinfo.partition(":")
            netloc = "%s:%s@%s" % (user, MASK, host) if colon else netloc
        query = "&".join(_redact_pair(pair) for pair in parts.query.split("&")) if parts.query else ""
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:
        return MASK


def _redact_pair(pair):
    name, eq, value = pair.partition("=")
    return "%s=%s" % (name, MASK) if eq and value and SECRET_PARAM.search(unquote(name)) else pair


def secrets_in(url):
    """Return the secret parts of ``url``: its password, the values of its
    secret-looking query parameters, each as written and percent-decoded."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        found.append(userinfo.partition(":")[2])
    for pair in parts.query.split("&"):
        name, eq, value = pair.partition("=")
        if eq and value and SECRET_PARAM.search(unquote(name)):
            found.append(value)
    return [v for s in found for v in {s, unquote(s)} if v]


def scrub(text, *known):
    """Return ``text`` with every URL in it redacted and every known secret masked.

    Each of ``known`` is a secret value, or a URL whose secrets (see ``secrets_in``)
    are masked wherever they appear, whatever a library put around them."""
    if not text:
        return text
    text = _URL.sub(lambda m: redact(m.group()), str(text))
    values = set()
    for value in known:
        if not value:
            continue
        value = str(value)
        values.update(secrets_in(value) if "://" in value else [value])
    for value in sorted(values, key=len, reverse=True):
        if len(value) >= MIN_SECRET:
            text = text.replace(value, MASK)
    return text


class ScrubFilter(logging.Filter):
    """A handler filter: each record's text (and its traceback) scrubbed of ``secrets``
    (values or URLs, as ``scrub`` takes them) and of every URL's credentials."""

    def __init__(self, secrets=()):
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record):
        try:
            record.msg = scrub(record.getMessage(), *self.secrets)
            record.args = None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = scrub(record.exc_text, *self.secrets)
        except Exception:  # noqa: BLE001 - a record logging cannot format is left to logging
            pass
        return True


def install_log_filter(secrets, logger=None):
    """Put a ScrubFilter of ``secrets`` on every handler of ``logger`` (the root logger)."""
    logger = logger or logging.getLogger()
    for handler in logger.handlers:
        for old in [f for f in handler.filters if isinstance(f, ScrubFilter)]:
            handler.removeFilter(old)
        handler.addFilter(ScrubFilter(secrets))
