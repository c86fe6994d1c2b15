"""Who may call what: one check for every route, the native API's and Greenfield's.

A resource declares ``scopes``: what each method needs (``{"POST": "payments:create"}``;
HEAD as GET); a method it does not name needs no key. For every resource that declares
them, the request's Grant is left in ``req.context.grant`` (GET /payments/{id} picks the
full or the public view by it).

A foreign API's resource also declares ``permissions``: a :class:`Permissions`, its own
permission names as a mapping onto our scopes (Greenfield's ``btcpay.store.*``). Its
``scopes`` then name those permissions (one, a tuple checked in order, or None: any valid
key), a method it names needs a valid key, a method it does not name is not checked,
and a 403 names the permission the key lacks."""

from ..core.errors import Forbidden, Unauthorized
from ..core.keys import ANONYMOUS, KeyRing

KEY_REQUIRED = "a valid API key is required (Authorization: Bearer <key>)"


class Permissions:
    """A foreign API's permission names over our scopes: ``scopes`` maps each name to the
    scope that grants it, ``missing`` is the 403's message (``%s``: the name), ``schemes``
    the ``Authorization`` schemes read as ``Bearer``."""

    def __init__(self, scopes, missing, schemes=()):
        self.scopes = dict(scopes)
        self.missing = missing
        self.schemes = frozenset(s.lower() for s in schemes)

    def authorization(self, given):
        """``given`` with a scheme of this API's written as ``Bearer``."""
        if given:
            scheme, _, token = given.strip().partition(" ")
            if scheme.lower() in self.schemes:
                return "Bearer " + token.strip()
        return given

    def check(self, keys, given, needed):
        """The Grant of ``given`` if it holds every permission ``needed`` (a name, a tuple
        of them, or None: any valid key); raise Unauthorized without a valid key,
        Forbidden naming the first permission it lacks."""
        grant = keys.identify(self.authorization(given))
        if grant is ANONYMOUS:
            raise Unauthorized(KEY_REQUIRED)
        for name in (needed,) if isinstance(needed, str) else needed or ():
            if not grant.allows(self.scopes[name]):
                raise Forbidden(self.missing % name, scope=name)
        return grant


class ApiKeys:
    """Falcon middleware over a :class:`~transient.core.keys.KeyRing`: 401 without a
    valid key (unknown, revoked), 403 naming the scope (or the foreign permission) a
    valid key lacks."""

    def __init__(self, keys):
        self.keys = keys if isinstance(keys, KeyRing) else KeyRing(keys)

    def process_resource(self, req, resp, resource, params):
        scopes = getattr(resource, "scopes", None)
        if scopes is None:
            return
        method = "GET" if req.method == "HEAD" else req.method
        given = req.get_header("Authorization")
        permissions = getattr(resource, "permissions", None)
        if permissions is not None:
            if method in scopes:
                req.context.grant = permissions.check(self.keys, given, scopes[method])
            return
        needed = scopes.get(method)
        req.context.grant = self.keys.require(given, needed) if needed else self.keys.identify(given)
