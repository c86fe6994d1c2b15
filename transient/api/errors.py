"""Errors at the HTTP edge: domain errors mapped to statuses once, every other error a
JSON body, and an unexpected one logged and answered 500 without a traceback."""

import logging

import falcon
import peewee

from ..core.errors import Unauthorized, error_body
from ..store.db import refused_write

log = logging.getLogger("transient.api")


def _body(code, message, field=None):
    return {"success": False, "error": {"code": code, "message": message, "field": field}}


def _json_only(resp):
    # A responder may have set an image's type and validators before it failed.
    resp.content_type = falcon.MEDIA_JSON
    resp.data = None
    for name in ("ETag", "Cache-Control"):
        resp.delete_header(name)


def handle_domain_error(req, resp, exc, params):
    _json_only(resp)
    resp.status = falcon.code_to_http_status(exc.http_status)
    resp.media = error_body(exc)
    if isinstance(exc, Unauthorized):
        resp.set_header("WWW-Authenticate", "Bearer")


def handle_unexpected_error(req, resp, exc, params):
    # Falcon picks the most specific handler, so its own HTTPErrors never get here.
    if refused_write(exc):
        # Read-only (a fail-over onto a standby) or out of disk: it recovers by itself or by
        # the operator's hand, like a lost connection, and nothing was written.
        log.warning("database refuses writes on %s %s: %s", req.method, req.path, _first_line(exc))
        _json_only(resp)
        resp.status = falcon.HTTP_503
        resp.set_header("Retry-After", "5")
        resp.media = _body("database_read_only", "the database takes no writes now (read-only or full); retry later")
        return
    if isinstance(exc, (peewee.OperationalError, peewee.InterfaceError)):
        # The database is away (restart, failover): the next request reconnects.
        log.warning("database unavailable on %s %s: %s", req.method, req.path, exc.__class__.__name__)
        resp.status = falcon.HTTP_503
        resp.set_header("Retry-After", "1")
        resp.media = _body("database_unavailable", "the database is unavailable; retry shortly")
        return
    log.exception("unexpected error on %s %s", req.method, req.path)
    _json_only(resp)
    resp.status = falcon.HTTP_500
    resp.media = _body("internal_error", "internal error; the server log has the details")


def _first_line(exc):
    return (str(exc).strip().splitlines() or [""])[0][:200]


def serialize_http_error(req, resp, exc):
    # Falcon titles read "415 Unsupported Media Type": keep the words as the code.
    words = (exc.title or "error").split()
    code = "_".join(w.lower() for w in words if not w.isdigit()) or "error"
    resp.content_type = falcon.MEDIA_JSON
    resp.media = _body(code, exc.description or exc.title)


class ErrorShapes:
    """The app's one mapping of errors to answers: a domain error (a TransientError) or one
    of Falcon's is answered in the shape of the API its path belongs to, a foreign API's
    under its prefix (Greenfield's under /api/v1/, added by its mount) and ours elsewhere.
    ``handle`` is the app's handler of TransientError, ``serialize`` its error serializer."""

    def __init__(self):
        self.foreign = []  # (path prefix, shape): shape.domain(exc) -> (status, body); shape.http(exc) -> body

    def add(self, prefix, shape):
        """Answer the errors of paths under ``prefix`` with ``shape`` (a module or object with
        ``domain(exc)`` returning ``(status, body)`` and ``http(exc)`` returning a body)."""
        self.foreign.append((prefix, shape))

    def _shape(self, req):
        return next((shape for prefix, shape in self.foreign if req.path.startswith(prefix)), None)

    def handle(self, req, resp, exc, params):
        shape = self._shape(req)
        if shape is None:
            handle_domain_error(req, resp, exc, params)
            return
        _json_only(resp)
        status, body = shape.domain(exc)
        resp.status = falcon.code_to_http_status(status)
        resp.media = body

    def serialize(self, req, resp, exc):
        shape = self._shape(req)
        if shape is None:
            serialize_http_error(req, resp, exc)
            return
        resp.content_type = falcon.MEDIA_JSON
        resp.media = shape.http(exc)
