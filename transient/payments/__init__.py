"""Payments: the service (create, get, list), input validation, rendering (JSON and the
read cache) and the per-coin address pool.

May import core, store and chain; the outbox is passed in."""
