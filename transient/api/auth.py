"""Who may call what: with API keys configured, the resources marked ``needs_key``
(creating and listing payments, the event log, webhooks) need a Bearer key."""
from ..core.keys import KeyRing


class ApiKeys:
    """Falcon middleware over a :class:`~transient.core.keys.KeyRing` of ``keys``."""

    def __init__(self, keys):
        self.keys = KeyRing(keys)

    def process_resource(self, req, resp, resource, params):
        if not self.keys or not getattr(resource, "needs_key", False):
            return
        self.keys.check(req.get_header("Authorization"))

    def check(self, given):
        """Raise Unauthorized unless keys are off or ``given`` is "Bearer <a configured key>"."""
        self.keys.check(given)
