"""Posting one webhook: a signed body to a URL, and what the attempt gave (an Outcome).

``timeout`` is a total deadline per attempt (connect, send, the answer's headers and
the excerpt of its body): a receiver trickling a byte every few seconds is cut when it
is due, so an attempt never outlives the dispatcher's lease and is never sent twice at
once. socket timeouts only bound each read; a timer shuts the attempt's socket down.
"""
import socket
import threading
import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .. import __version__

from ..core.clock import utcnow
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


_current = threading.local()  # the attempt this thread is making (its deadline and connections)


class _Attempt:
    """One attempt's deadline: when it is due, the sockets it uses are shut down."""

    def __init__(self, seconds):
        self.lock = threading.Lock()
        self.conns = []
        self.done = False
        self.expired = False
        self.timer = threading.Timer(seconds, self.expire)
        self.timer.daemon = True

    def use(self, conn):
        with self.lock:
            self.conns.append(conn)
            late = self.expired
        if late:
            _shutdown(conn)

    def expire(self):
        with self.lock:
            if self.done:
                return
            self.expired = True
            conns = list(self.conns)
        for conn in conns:
            _shutdown(conn)

    def __enter__(self):
        _current.attempt = self
        self.timer.start()
        return self

    def __exit__(self, *exc):
        with self.lock:
            self.done = True
        self.timer.cancel()
        _current.attempt = None


def _shutdown(conn):
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)  # the blocked read returns at once
        except OSError:
            pass


class _Watched:
    def _get_conn(self, timeout=None):
        conn = super()._get_conn(timeout)
        attempt = getattr(_current, "attempt", None)
        if attempt is not None:
            attempt.use(conn)
        return conn


class _WatchedHTTPPool(_Watched, HTTPConnectionPool):
    pass


class _WatchedHTTPSPool(_Watched, HTTPSConnectionPool):
    pass


class _DeadlineAdapter(HTTPAdapter):
    """Connection pools that hand each connection to the thread's attempt."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class Sender:
    """Posts signed bodies; one keep-alive session per thread; ``timeout`` seconds in all
    per attempt."""

    def __init__(self, secret=None, timeout=10, clock=utcnow):
        self.secret = secret
        self.timeout = timeout
        self.clock = clock
        self._local = threading.local()

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.mount("http://", _DeadlineAdapter())
            session.mount("https://", _DeadlineAdapter())
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
        with _Attempt(self.timeout) as attempt:
            try:
                resp = self._session().post(url, data=body, headers=headers,
                                            timeout=(min(5, self.timeout), self.timeout),
                                            allow_redirects=False, stream=True)
                try:
                    text = resp.raw.read(EXCERPT * 4, decode_content=True).decode("utf-8", "replace")[:EXCERPT]
                except Exception:  # noqa: BLE001 - a broken answer body does not change the status
                    text = None
                finally:
                    resp.close()
            except requests.Timeout:
                return Outcome(delivery, started, _ms(t0), error="timed out after %ss" % self.timeout)
            except requests.RequestException as exc:
                if attempt.expired:
                    return Outcome(delivery, started, _ms(t0), error="timed out after %ss" % self.timeout)
                return Outcome(delivery, started, _ms(t0), error=_short(exc))
        outcome = Outcome(delivery, started, _ms(t0), status=resp.status_code, response=text,
                          retry_after=_retry_after(resp.headers.get("Retry-After")))
        if 300 <= resp.status_code < 400:
            outcome.error = "redirect to %s not followed" % resp.headers.get("Location", "?")
        return outcome


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


