"""Transient: a small, exact, self-hosted payment gateway for bitcoind-family coins.

The rooms below (core, store, delivery, chain, payments, amqp, api, cli, ...) and the
direction of their imports are drawn in docs/ARCHITECTURE.md; this package itself
holds only ``hookimpl`` and the version, and may import nothing of Transient."""

from importlib import metadata

import pluggy

#: The one place the version is written: pyproject.toml reads it ([tool.setuptools.dynamic]).
__version__ = "0.1.0"

#: Plugins mark their hook implementations with this: ``from transient import hookimpl``.
hookimpl = pluggy.HookimplMarker("transient")


def installed_version():
    """The version of the installed distribution (its metadata, what pip installed), for
    ``--version``; ``__version__`` in a tree that is not installed."""
    try:
        return metadata.version("transient")
    except metadata.PackageNotFoundError:
        return __version__


__all__ = ["hookimpl", "__version__", "installed_version"]
