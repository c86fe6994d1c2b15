"""The HTTP API: the Falcon app factory, its resources, auth, error mapping, /healthz and
the checkout page with its QR codes.

May import every room but cli; nothing imports it but runtime (and cli through runtime)."""
