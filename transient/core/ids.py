"""Public ids of things a foreign API names (a Greenfield invoice, store, webhook, delivery)."""

import secrets

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def new_id(length=22, choice=secrets.choice):
    """A random base58 id (BTCPay's look; only ``[A-Za-z0-9]``, as its plugins keep them)."""
    return "".join(choice(_BASE58) for _ in range(length))
