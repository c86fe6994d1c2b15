"""The plugin manager: built once, loads the ``transient`` entry points."""

import os

import pluggy

from .. import hookspecs
from ..chain.backend import CoinBackend
from ..core.errors import PluginError

DISABLE_AUTOLOAD = "TRANSIENT_DISABLE_PLUGIN_AUTOLOAD"
DEFAULT_PLUGINS = ("transient_backends.dogecoin", "transient.rates.builtin")


def get_plugin_manager(autoload=None):
    """Return a plugin manager with the built-in plugins and, unless disabled by
    ``TRANSIENT_DISABLE_PLUGIN_AUTOLOAD=1`` (or ``autoload=False``), every
    installed ``transient`` entry point.

    Raises PluginError when a plugin implements a hook that does not exist.
    """
    import importlib

    pm = pluggy.PluginManager("transient")
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    if autoload is None:
        autoload = os.environ.get(DISABLE_AUTOLOAD, "") in ("", "0")
    if autoload:
        pm.load_setuptools_entrypoints("transient")
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError("plugin %s implements an unknown hook: %s" % (exc.plugin_name, exc)) from None
    return pm


def collect_backends(pm):
    """Return ``{backend name: class}`` from every plugin.

    Raises PluginError for a class that is not a CoinBackend, misses a required
    member, or reuses a name another plugin registered.
    """
    found = {}
    for plugin, classes in _results_by_plugin(pm):
        for cls in classes or ():
            check_backend_class(cls, plugin)
            if cls.name in found:
                raise PluginError(
                    "backend %r is registered twice (by %s and %s)" % (cls.name, found[cls.name][1], plugin)
                )
            found[cls.name] = (cls, plugin)
    return {name: cls for name, (cls, _) in found.items()}


def backend_plugins(pm):
    """Return ``[(backend name, plugin name, distribution version or None)]``."""
    versions = {}
    for plugin, dist in pm.list_plugin_distinfo():
        versions[pm.get_name(plugin)] = (
            dist.project_name if hasattr(dist, "project_name") else dist.metadata["name"],
            dist.version,
        )
    rows = []
    for plugin, classes in _results_by_plugin(pm):
        dist = versions.get(plugin)
        for cls in classes or ():
            rows.append((cls.name, cls.currency, dist[0] if dist else plugin, dist[1] if dist else None))
    return sorted(rows)


def _results_by_plugin(pm):
    for impl in pm.hook.transient_register_backends.get_hookimpls():
        yield impl.plugin_name, impl.function()


def check_backend_class(cls, plugin):
    if not (isinstance(cls, type) and issubclass(cls, CoinBackend)):
        raise PluginError("plugin %s registered %r, which is not a CoinBackend subclass" % (plugin, cls))
    for attr in CoinBackend.REQUIRED:
        if getattr(cls, attr, None) is None:
            raise PluginError("backend %s from plugin %s does not define %r" % (cls.__name__, plugin, attr))
    for meth in CoinBackend.METHODS:
        if getattr(cls, meth) is getattr(CoinBackend, meth) and meth != "close":
            raise PluginError("backend %s from plugin %s does not implement %s()" % (cls.__name__, plugin, meth))
