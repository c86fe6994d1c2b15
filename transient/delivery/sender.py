"""Posting one webhook: a signed body to a URL, and what the attempt gave (an Outcome)."""
import threading
import time

import requests

from .. import __version__

from ..core.clock import utcnow
from ..core.redact import redact, scrub
from . import signing

RETRY_STATUSES = frozenset({408, 429})
EXCERPT = 500  # characters of a receiver's answer kept in the log
MAX_RETRY_AFTER = 86400


class Outcome:
    """What one attempt gave."""

    __slots__ = ("delivery", "started", "duration_ms", "status", "error", "response", "retry_after")

    def __init__(self, delivery, started, duration_ms, status=None, error=None, response=None,
                 retry_after=None):
        self.delivery = delivery
        self.started = started
        self.duration_ms = duration_ms
        self.status = status
        self.error = error
        self.response = response
        self.retry_after = retry_after

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self):
        if self.status is None:
            return True  # network error or timeout
        return self.status in RETRY_STATUSES or self.status >= 500


class Sender:
    """Posts signed bodies; one keep-alive session per thread."""

    def __init__(self, secret=None, timeout=10, clock=utcnow):
        self.secret = secret
        self.timeout = timeout
        self.clock = clock
        self._local = threading.local()

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["User-Agent"] = "Transient/%s" % __version__
        return session

    def headers(self, event_id, event_type, delivery_id=None, attempt=1, redelivery_of=None, body=b""):
        headers = {"Content-Type": "application/json", "Transient-Event-Id": str(event_id),
                   "Transient-Event-Type": event_type, "Transient-Delivery-Attempt": str(attempt)}
        if delivery_id is not None:
            headers["Transient-Delivery-Id"] = str(delivery_id)
        if redelivery_of is not None:
            headers["Transient-Redelivery-Of"] = str(redelivery_of)
        if self.secret:
            headers[signing.HEADER] = signing.sign(self.secret, body)
        return headers

    def post(self, url, body, headers, delivery=None):
        """Post ``body``; return an Outcome (never raises for the receiver's faults)."""
        started = self.clock()
        t0 = time.monotonic()
        try:
            resp = self._session().post(url, data=body, headers=headers, timeout=(min(5, self.timeout), self.timeout),
                                        allow_redirects=False, stream=True)
            try:
                text = resp.raw.read(EXCERPT * 4, decode_content=True).decode("utf-8", "replace")[:EXCERPT]
            except Exception:  # noqa: BLE001 - a broken answer body does not change the status
                text = None
            finally:
                resp.close()
            # What is kept and shown never holds the URL's credentials, even echoed back.
            outcome = Outcome(delivery, started, _ms(t0), status=resp.status_code, response=scrub(text, url),
                              retry_after=_retry_after(resp.headers.get("Retry-After")))
            if 300 <= resp.status_code < 400:
                outcome.error = "redirect to %s not followed" % scrub(redact(resp.headers.get("Location", "?")), url)
            return outcome
        except requests.Timeout:
            return Outcome(delivery, started, _ms(t0), error="timed out after %ss" % self.timeout)
        except requests.RequestException as exc:
            return Outcome(delivery, started, _ms(t0), error=scrub(_short(exc), url))


def _ms(t0):
    return int((time.monotonic() - t0) * 1000)


def _short(exc):
    text = str(exc.__class__.__name__)
    reason = getattr(exc, "args", None) and str(exc.args[0])
    if reason:
        # urllib3 wraps the cause deep inside; its last part is the readable one.
        text += ": " + reason.rsplit(": ", 1)[-1].rstrip(")'\"")[:200]
    return text


def _retry_after(value):
    if value and value.strip().isdigit():
        return min(int(value.strip()), MAX_RETRY_AFTER)
    return None


