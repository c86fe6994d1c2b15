"""Hook specifications: what a Transient plugin can provide."""

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("transient")


@hookspec
def transient_register_backends() -> list[type[Any]]:  # type: ignore[empty-body]
    """Return a list of coin backend classes (subclasses of
    :class:`transient.plugin.CoinBackend`, defined in :mod:`transient.chain.backend`) that this
    plugin provides.

    Each class's ``name`` is what ``[coins.<CODE>] backend`` refers to in the
    config. Two plugins registering the same name is a start-up error.
    """


@hookspec
def transient_register_rate_sources() -> list[type[Any]]:  # type: ignore[empty-body]
    """Return a list of rate source classes (subclasses of
    :class:`transient.rates.sources.RateSource`) that this plugin provides.

    Each class's ``name`` is what ``[rates] sources`` lists and its options come
    from ``[rates.<name>]``. Two plugins registering the same name is a start-up error.
    """
