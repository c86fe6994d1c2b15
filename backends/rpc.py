"""A small JSON-RPC 1.0 client for bitcoind-family nodes: exact Decimals, typed errors."""

import itertools
import json
import os
import threading
import time
from decimal import Decimal
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests

from transient.core import faults
from transient.core.errors import NodeAuthError, NodeBusy, NodeError, NodeTimeout, NodeUnreachable, RPCError
from transient.ops import metrics

# Litecoin Core answers a full RPC work queue with HTTP 500 and this text (Bitcoin Core: 503).
WORK_QUEUE_FULL = "Work queue depth exceeded"


def encode(value):
    """Return ``value`` as JSON text, Decimals as exact JSON numbers (never via float)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("cannot send %s to a node" % value)
        return format(value, "f")
    if isinstance(value, float):
        raise TypeError("float %r in RPC params: pass amounts as Decimal" % value)
    if isinstance(value, dict):
        return "{%s}" % ",".join("%s:%s" % (json.dumps(str(k)), encode(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "[%s]" % ",".join(encode(v) for v in value)
    return json.dumps(value)


class RPCClient:
    """JSON-RPC over keep-alive HTTP. ``call(method, *params)`` returns one result,
    ``batch([(method, params), ...])`` the results of one HTTP request, in order.

    Credentials come from ``user``/``password``, from ``user:password@`` in the URL,
    or from ``cookie_file`` (re-read on a 401, so a restarted node's new cookie works).
    Each thread gets its own ``requests.Session`` unless ``session`` is given.
    Raises NodeUnreachable (NodeTimeout when the node took the request but did not
    answer in time), NodeAuthError, NodeBusy, RPCError or NodeError.
    With ``currency``, each request is counted and timed in the RPC metrics.
    """

    def __init__(
        self,
        url,
        user=None,
        password=None,
        cookie_file=None,
        wallet=None,
        timeout=10,
        session=None,
        keep_alive=True,
        currency=None,
    ):
        base, url_user, url_password = _split_credentials(url)
        user, password = user or url_user, password or url_password
        self.url = base + ("/wallet/" + quote(wallet, safe="") if wallet else "")
        self.timeout = timeout
        # On a reused connection a reply of many TCP segments can stall ~40 ms (the
        # node's Nagle against our delayed ACK); keep_alive=False trades that for a
        # fresh connection per request (see bench/sync_methods.py).
        self.headers = {"Content-Type": "application/json"}
        if not keep_alive:
            self.headers["Connection"] = "close"
        self.cookie_file = cookie_file
        self._auth = (user or "", password or "") if (user or password) else None
        self._session = session
        self._local = threading.local()
        self._sessions = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.currency = currency

    def call(self, method, *params):
        """Return the result of one RPC call."""
        result = self._results([(method, params)], single=True)[0]
        if isinstance(result, RPCError):
            raise result
        return result

    def batch(self, calls, return_errors=False, timeout=None):
        """Return the results of ``calls`` (``[(method, params), ...]``) sent in one request.

        A failed call raises its RPCError, or with ``return_errors`` is returned in
        its place so the caller can look at the other results. ``timeout`` (seconds)
        overrides the client's for this request.
        """
        if not calls:
            return []
        results = self._results(calls, single=False, timeout=timeout)
        if not return_errors:
            for result in results:
                if isinstance(result, RPCError):
                    raise result
        return results

    def close(self):
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._local = threading.local()

    # -- internals -----------------------------------------------------------

    def _results(self, calls, single, timeout=None):
        with self._lock:
            ids = [next(self._ids) for _ in calls]
        requests_ = [{"jsonrpc": "1.0", "id": i, "method": m, "params": list(p)} for i, (m, p) in zip(ids, calls)]
        body = encode(requests_[0] if single else requests_)
        method = calls[0][0] if single else "batch(%s)" % ",".join(m for m, _ in calls)
        replies = self._measured(body, method, [m for m, _ in calls], timeout or self.timeout)
        if single:
            result = self._result(replies if isinstance(replies, dict) else None, method)
            if isinstance(result, RPCError) and self.currency:
                metrics.RPC_ERRORS.labels(self.currency, method, "rpc").inc()
            return [result]
        if not isinstance(replies, list):  # e.g. the node could not parse the batch
            error = self._result(replies, method) if isinstance(replies, dict) else None
            raise error if isinstance(error, RPCError) else NodeError("unexpected reply to %s" % method)
        by_id = {reply.get("id"): reply for reply in replies if isinstance(reply, dict)}
        return [self._result(by_id.get(i), m) for i, (m, _) in zip(ids, calls)]

    def _result(self, reply, method):
        if reply is None:
            return RPCError("no reply to %s" % method, None, method)
        error = reply.get("error")
        if error:
            message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
            code = error.get("code") if isinstance(error, dict) else None
            return RPCError("%s: %s" % (method, self._redact(message)), code, method)
        return reply.get("result")

    def _measured(self, body, method, methods, timeout):
        """``_post``, counted and timed under ``currency`` (label: the method, or
        ``batch(...)`` of the distinct methods: bounded whatever the batch's size)."""
        if not self.currency:
            return self._post(body, method, timeout)
        label = metrics.rpc_method(methods)
        metrics.RPC_CALLS.labels(self.currency, label).inc()
        started = time.perf_counter()
        try:
            return self._post(body, method, timeout)
        except NodeError as exc:
            metrics.RPC_ERRORS.labels(self.currency, label, _error_kind(exc)).inc()
            raise
        finally:
            metrics.RPC_DURATION.labels(self.currency, label).observe(time.perf_counter() - started)

    def _post(self, body, method, timeout):
        response = self._send(body, method, timeout)
        if response.status_code == 401 and self.cookie_file:
            # The node may have restarted and written a new cookie: read it once more.
            self._auth = None
            response = self._send(body, method, timeout)
        # The node did the call and answered; the answer is not read yet (a payout's
        # sendmany: TRANSIENT_FAULTS=rpc.answered.sendmany dies not knowing the txid).
        faults.point("rpc.answered." + method)
        return self._parse(response, method)

    def _send(self, body, method, timeout):
        try:
            try:
                return self._post_once(body, timeout)
            except requests.ConnectionError as exc:
                if isinstance(exc, requests.ConnectTimeout):
                    raise
                # The node may have closed an idle keep-alive connection as we sent on it
                # (rpcservertimeout): one fresh attempt tells that from a node that is down.
                return self._post_once(body, timeout)
        except requests.ReadTimeout:
            # Connected and sent: the node is working (a big block, a full wallet lock).
            raise NodeTimeout("node at %s did not answer %s within %ss" % (self.url, method, timeout)) from None
        except requests.Timeout:
            raise NodeUnreachable("cannot reach node at %s within %ss" % (self.url, timeout)) from None
        except requests.ConnectionError as exc:
            if self.cookie_file:
                self._auth = None  # re-read the cookie when the node is back
            raise NodeUnreachable(self._redact("cannot reach node at %s: %s" % (self.url, _reason(exc)))) from None
        except requests.RequestException as exc:
            raise NodeError(self._redact("request to %s failed: %s" % (self.url, exc))) from None

    def _post_once(self, body, timeout):
        return self._get_session().post(
            self.url, data=body.encode(), auth=self._credentials(), timeout=timeout, headers=self.headers
        )

    def _parse(self, response, method):
        status, body = response.status_code, response.content
        if status in (401, 403):
            raise NodeAuthError("node at %s refused the RPC credentials (HTTP %d)" % (self.url, status))
        if status == 503 or (status == 500 and WORK_QUEUE_FULL.encode() in body):
            raise NodeBusy("node at %s is busy (HTTP %d): %s" % (self.url, status, _start(body)))
        try:
            # Nodes answer RPC errors with HTTP 404/500 and a JSON body: parse any status.
            # From the bytes: a burst's listing is megabytes, and a decoded copy of it
            # would only raise the worker's peak memory.
            return json.loads(body, parse_float=Decimal)
        except ValueError:
            raise NodeError(
                self._redact("HTTP %d from node at %s on %s: %s" % (status, self.url, method, _start(body)))
            ) from None

    def _credentials(self):
        if self._auth is None and self.cookie_file:
            try:
                with open(self.cookie_file) as f:
                    user, _, password = f.read().strip().partition(":")
            except OSError as exc:
                raise NodeAuthError(
                    "cannot read the RPC cookie file %s: %s%s"
                    % (self.cookie_file, exc.strerror, _sandbox_hint(self.cookie_file))
                ) from None
            self._auth = (user, password)
        return self._auth

    def _get_session(self):
        if self._session is not None:
            return self._session
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            with self._lock:
                self._sessions.append(session)
        return session

    def _redact(self, text):
        password = self._auth[1] if self._auth else None
        return text.replace(password, "***") if password else text


def _error_kind(exc):
    kinds = ((NodeTimeout, "timeout"), (NodeUnreachable, "unreachable"), (NodeAuthError, "auth"), (NodeBusy, "busy"))
    for cls, kind in (*kinds, (RPCError, "rpc")):
        if isinstance(exc, cls):
            return kind
    return "other"


def _split_credentials(url):
    """Return (url without user:password@, user, password): the URL goes into messages."""
    parts = urlsplit(url)
    host = "[%s]" % parts.hostname if ":" in parts.hostname else parts.hostname
    netloc = host + (":%d" % parts.port if parts.port else "")
    base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    return base, unquote(parts.username or ""), unquote(parts.password or "")


def _reason(exc):
    """The innermost reason of a requests ConnectionError, e.g. '[Errno 111] Connection refused'."""
    reason = exc.args[0] if exc.args else exc
    return str(getattr(reason, "reason", reason)).rsplit(": ", 1)[-1]


def _start(body):
    """The first 200 characters of a reply's body, for an error message."""
    return body[:800].decode("utf-8", "replace").strip()[:200]


def _sandbox_hint(path):
    """Under systemd (``$INVOCATION_ID``), a cookie in a home directory is hidden by the
    unit's ProtectHome=yes, whatever its permissions: say so, and where the way out is."""
    home = ("/home/", "/root/", "/run/user/")
    if os.environ.get("INVOCATION_ID") and os.path.abspath(path).startswith(home):
        return " (under systemd, ProtectHome=yes hides /home and /root: see deploy/transientd.service)"
    return ""
