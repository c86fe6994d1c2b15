"""Greenfield's error shapes (§2): 401/403/404/400 ``{code, message}`` (a 403 also names the
``missingPermission``), 422 an array of ``{path, message}``. The app's ErrorShapes answers
every error under /api/v1/ with these; the domain raises the house's errors."""

from ...core.errors import Forbidden, NotFound, RateUnavailable, Unauthorized, ValidationError
from ...greenfield.invoices import PATHS, Unknown
from ...greenfield.shapes import FieldErrors

UNAUTHENTICATED = "Authentication is required for accessing this endpoint"


def domain(exc):
    """``(status, body)`` of a TransientError in Greenfield's shape."""
    if isinstance(exc, FieldErrors):
        return 422, [{"path": p, "message": m} for p, m in exc.errors]
    if isinstance(exc, ValidationError):
        return 422, [{"path": PATHS.get(exc.field, exc.field or "body"), "message": exc.message}]
    if isinstance(exc, Unauthorized):
        return 401, {"code": "unauthenticated", "message": UNAUTHENTICATED}
    if isinstance(exc, Forbidden):
        return 403, {"code": "missing-permission", "message": exc.message, "missingPermission": exc.scope}
    if isinstance(exc, NotFound):
        return 404, {"code": exc.code if isinstance(exc, Unknown) else "not-found", "message": exc.message}
    if isinstance(exc, RateUnavailable):
        return 503, {"code": "rate-unavailable", "message": exc.message}
    return exc.http_status, {"code": exc.code.replace("_", "-"), "message": exc.message}


def http(exc):
    """The body of one of Falcon's errors (405, 413, 415...) in Greenfield's shape."""
    words = (exc.title or "error").split()
    return {
        "code": "-".join(w.lower() for w in words if not w.isdigit()) or "error",
        "message": exc.description or exc.title or "error",
    }
