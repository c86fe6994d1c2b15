"""Domain errors. The API maps them to HTTP statuses once, the CLI to exit codes."""

from typing import Any


class TransientError(Exception):
    """Base class. ``code`` is a stable machine-readable string."""

    code: str = "error"
    http_status: int = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ConfigError(TransientError):
    """The configuration is wrong; the message names the key."""

    code = "config_error"


class PluginError(TransientError):
    """A plugin or backend is broken or registered twice."""

    code = "plugin_error"


class ValidationError(TransientError):
    """Input that is well-formed but not acceptable (422)."""

    code = "invalid"
    http_status = 422


class BadRequest(TransientError):
    """Input that cannot be read at all (400)."""

    code = "bad_request"
    http_status = 400


class NotFound(TransientError):
    code = "not_found"
    http_status = 404


class Conflict(TransientError):
    code = "conflict"
    http_status = 409


class Unauthorized(TransientError):
    code = "unauthorized"
    http_status = 401


class Forbidden(TransientError):
    """A valid API key that lacks the scope the request needs (403); ``scope`` names it."""

    code = "forbidden"
    http_status = 403

    def __init__(self, message: str, scope: str | None = None) -> None:
        super().__init__(message)
        self.scope = scope


class UnknownCurrency(ValidationError):
    code = "unknown_currency"


class NotMigrated(TransientError):
    code = "not_migrated"
    http_status = 503


class SchemaTooNew(NotMigrated):
    """The database was migrated by a newer Transient: this one does not know its schema."""

    code = "schema_too_new"


# -- node errors -------------------------------------------------------------


class NodeError(TransientError):
    """Anything that went wrong talking to a coin node."""

    code = "node_error"
    http_status = 503


class NodeUnreachable(NodeError):
    """Connection refused, DNS failure, timeout."""

    code = "node_unreachable"


class NodeTimeout(NodeUnreachable):
    """The node took the request but did not answer within the RPC timeout: busy
    (e.g. connecting a block of many wallet transactions), not down."""

    code = "node_timeout"


class NodeAuthError(NodeError):
    """HTTP 401/403 from the node: wrong rpc_user/rpc_password or cookie."""

    code = "node_auth"


class NodeBusy(NodeError):
    """The node's RPC work queue is full (503 on Bitcoin Core, 500 on Litecoin Core)."""

    code = "node_busy"


class RPCError(NodeError):
    """The node answered with a JSON-RPC error object."""

    code = "rpc_error"

    def __init__(self, message: str, rpc_code: int | None = None, method: str | None = None) -> None:
        super().__init__(message)
        self.rpc_code = rpc_code
        self.method = method


def error_body(exc: TransientError) -> dict[str, Any]:
    """The error body of a TransientError: what the HTTP API and the AMQP commands answer."""
    message = "%s %s" % (exc.field, exc.message) if exc.field and exc.http_status in (400, 409, 422) else exc.message
    return {"success": False, "error": {"code": exc.code, "message": message, "field": exc.field}}


class RateUnavailable(TransientError):
    """No usable fiat rate for a pair (stale, disagreeing or missing quotes): fail closed."""

    code = "rate_unavailable"
    http_status = 503
