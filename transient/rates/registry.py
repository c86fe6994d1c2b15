"""The rate sources the plugins provide, by name."""

from ..core.errors import ConfigError, PluginError
from .sources import RateSource


def collect_sources(pm):
    """Return ``{source name: class}`` from every plugin's ``transient_register_rate_sources``.

    Raises PluginError for a class that is not a RateSource or a name registered twice."""
    found = {}
    for impl in pm.hook.transient_register_rate_sources.get_hookimpls():
        for cls in impl.function() or ():
            if not (isinstance(cls, type) and issubclass(cls, RateSource)) or not cls.name:
                raise PluginError(
                    "plugin %s registered %r, which is not a named RateSource subclass" % (impl.plugin_name, cls)
                )
            if cls.name in found:
                raise PluginError(
                    "rate source %r is registered twice (by %s and %s)"
                    % (cls.name, found[cls.name][1], impl.plugin_name)
                )
            found[cls.name] = (cls, impl.plugin_name)
    return {name: cls for name, (cls, _) in found.items()}


def build_sources(names, classes, options, session=None):
    """Return ``[source instance]`` for the ``names`` of ``[rates] sources``; ``options`` maps a
    name to its ``[rates.<name>]`` table. An unknown name is a ConfigError naming the key."""
    sources = []
    for name in names:
        cls = classes.get(name)
        if cls is None:
            raise ConfigError(
                "rates.sources: unknown rate source %r (installed: %s)" % (name, ", ".join(sorted(classes)) or "none"),
                field="rates.sources",
            )
        sources.append(cls(options.get(name, {}), session=session))
    return sources
