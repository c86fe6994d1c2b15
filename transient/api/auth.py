"""Who may call what. A resource declares ``scopes``: the scope each method needs
(``{"POST": "payments:create"}``; HEAD as GET); a method it does not name needs no
key. For every resource that declares them, the request's Grant is left in
``req.context.grant`` (GET /payments/{id} picks the full or the public view by it)."""

from ..core.keys import KeyRing


class ApiKeys:
    """Falcon middleware over a :class:`~transient.core.keys.KeyRing`: 401 without a
    valid key (unknown, revoked), 403 naming the scope a valid key lacks."""

    def __init__(self, keys):
        self.keys = keys if isinstance(keys, KeyRing) else KeyRing(keys)

    def process_resource(self, req, resp, resource, params):
        scopes = getattr(resource, "scopes", None)
        if scopes is None:
            return
        needed = scopes.get("GET" if req.method == "HEAD" else req.method)
        given = req.get_header("Authorization")
        req.context.grant = self.keys.require(given, needed) if needed else self.keys.identify(given)
