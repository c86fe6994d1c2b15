"""Transient: a small, exact, self-hosted payment gateway for bitcoind-family coins."""
import pluggy

__version__ = "0.1.0"

#: Plugins mark their hook implementations with this: ``from transient import hookimpl``.
hookimpl = pluggy.HookimplMarker("transient")

__all__ = ["hookimpl", "__version__"]
