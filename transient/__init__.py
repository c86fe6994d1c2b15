"""Transient: a small, exact, self-hosted payment gateway for bitcoind-family coins.

The rooms below (core, store, delivery, chain, payments, amqp, api, cli, ...) and the
direction of their imports are drawn in docs/ARCHITECTURE.md; this package itself
holds only ``hookimpl`` and the version, and may import nothing of Transient."""

import pluggy

__version__ = "0.1.0"

#: Plugins mark their hook implementations with this: ``from transient import hookimpl``.
hookimpl = pluggy.HookimplMarker("transient")

__all__ = ["hookimpl", "__version__"]
