"""Posting one webhook: a signed body to a URL, and what the attempt gave (an Outcome).

``timeout`` is a total deadline per attempt (connect, send, the answer's headers and
the excerpt of its body): a receiver trickling a byte every few seconds is cut when it
is due, so an attempt never outlives the dispatcher's lease and is never sent twice at
once. socket timeouts only bound each read; a timer shuts the attempt's socket down.
"""

import socket
import threading
import time
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import create_connection

from .. import __version__
from ..core.clock import utcnow
from ..core.redact import redact, scrub
from . import kinds
from .targets import UnsafeTarget

RETRY_STATUSES = frozenset({408, 429})
EXCERPT = 500  # characters of a receiver's answer kept in the log
MAX_RETRY_AFTER = 86400


class Outcome:
    """What one attempt gave."""

    __slots__ = ("delivery", "started", "duration_ms", "status", "error", "response", "retry_after", "refused")

    def __init__(
        self, delivery, started, duration_ms, status=None, error=None, response=None, retry_after=None, refused=False
    ):
        self.delivery = delivery
        self.started = started
        self.duration_ms = duration_ms
        self.status = status
        self.error = error
        self.response = response
        self.retry_after = retry_after
        self.refused = refused  # the URL may not be reached (SSRF guard): no retry

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self):
        if self.status is None:
            return not self.refused  # network error or timeout
        return self.status in RETRY_STATUSES or self.status >= 500


class Refused(NewConnectionError):
    """The guard refused the address a URL's host resolved to."""


class _GuardedConnection:
    """Resolves the host once, checks every address with ``guard`` and connects to a
    checked one: what was checked is what is reached (no DNS rebinding in between)."""

    guard = None

    def _new_conn(self):
        try:
            addresses = self.guard.addresses(self._dns_host, self.port)
        except UnsafeTarget as exc:
            raise Refused(self, str(exc)) from None
        error = None
        for address in addresses:
            try:
                return create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except socket.timeout:
                raise ConnectTimeoutError(self, "Connection to %s timed out" % self.host) from None
            except OSError as exc:
                error = exc
        raise NewConnectionError(self, "Failed to establish a new connection: %s" % error)


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections go through a TargetGuard."""

    def __init__(self, guard):
        self.guard = guard
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        attrs = {"guard": self.guard}
        self.poolmanager.pool_classes_by_scheme = {
            "http": type(
                "GuardedHTTPPool",
                (_Watched, HTTPConnectionPool),
                {"ConnectionCls": type("GuardedHTTPConnection", (_GuardedConnection, HTTPConnection), attrs)},
            ),
            "https": type(
                "GuardedHTTPSPool",
                (_Watched, HTTPSConnectionPool),
                {"ConnectionCls": type("GuardedHTTPSConnection", (_GuardedConnection, HTTPSConnection), attrs)},
            ),
        }


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
    """Posts signed bodies; keep-alive sessions per thread; ``timeout`` seconds in all per
    attempt.

    ``guard`` (a :class:`~transient.delivery.targets.TargetGuard`) checks every URL but
    the ``trusted`` ones (the operator's ``[webhook] url``) at connection time; the
    answers of such URLs to failed attempts are not kept (they could be an internal
    service's)."""

    def __init__(self, secret=None, timeout=10, clock=utcnow, guard=None, trusted=()):
        self.secret = secret
        self.timeout = timeout
        self.clock = clock
        self.guard = guard
        self.trusted = frozenset(u for u in trusted if u)
        self._local = threading.local()

    def guarded(self, url):
        """True when ``url`` goes through the guard (it is not the operator's own)."""
        return self.guard is not None and url not in self.trusted

    def _session(self, guarded=False):
        name = "guarded" if guarded else "session"
        session = getattr(self._local, name, None)
        if session is None:
            session = requests.Session()
            session.headers["User-Agent"] = "Transient/%s" % __version__
            if guarded:
                session.trust_env = False  # a proxy from the environment would reach what the guard refuses
                for prefix in ("http://", "https://"):
                    session.mount(prefix, GuardedAdapter(self.guard))
            else:
                for prefix in ("http://", "https://"):
                    session.mount(prefix, _DeadlineAdapter())
            setattr(self._local, name, session)
        return session

    def headers(self, event_id, event_type, delivery_id=None, attempt=1, redelivery_of=None, body=b""):
        """Transient's headers under this sender's secret (kinds.transient_headers)."""
        return kinds.transient_headers(self.secret, event_id, event_type, delivery_id, attempt, redelivery_of, body)

    def post(self, url, body, headers, delivery=None):
        """Post ``body``; return an Outcome (never raises for the receiver's faults)."""
        started = self.clock()
        t0 = time.monotonic()
        guarded = self.guarded(url)
        if guarded and "@" in urlsplit(url).netloc:
            return Outcome(delivery, started, 0, error="refused: the URL holds a user name or password", refused=True)
        with _Attempt(self.timeout) as attempt:
            try:
                resp = self._session(guarded).post(
                    url,
                    data=body,
                    headers=headers,
                    timeout=(min(5, self.timeout), self.timeout),
                    allow_redirects=False,
                    stream=True,
                )
                try:
                    text = resp.raw.read(EXCERPT * 4, decode_content=True).decode("utf-8", "replace")[:EXCERPT]
                except Exception:  # noqa: BLE001 - a broken answer body does not change the status
                    text = None
                finally:
                    resp.close()
            except requests.Timeout:
                return Outcome(delivery, started, _ms(t0), error="timed out after %ss" % self.timeout)
            except requests.RequestException as exc:
                refused = _refusal(exc)
                if refused is not None:
                    return Outcome(delivery, started, _ms(t0), error="refused: the host %s" % refused, refused=True)
                if attempt.expired:
                    return Outcome(delivery, started, _ms(t0), error="timed out after %ss" % self.timeout)
                return Outcome(delivery, started, _ms(t0), error=scrub(_short(exc), url))
        if guarded and not 200 <= resp.status_code < 300:
            text = None  # what an internal service says is not for the caller to read
        # What is kept and shown never holds the URL's credentials, even echoed back.
        outcome = Outcome(
            delivery,
            started,
            _ms(t0),
            status=resp.status_code,
            response=scrub(text, url),
            retry_after=_retry_after(resp.headers.get("Retry-After")),
        )
        if 300 <= resp.status_code < 400:
            outcome.error = "redirect to %s not followed" % scrub(redact(resp.headers.get("Location", "?")), url)
        return outcome


def _refusal(exc):
    """The guard's reason inside a requests error, or None."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, Refused):
        return reason._message
    return None


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
