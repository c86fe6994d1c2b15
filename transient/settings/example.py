"""The example configuration, written from the settings table (so it cannot drift from
the code): `transient config example` and the shipped config.example.toml."""

from ..rates.sources import BUILTIN as _RATE_SOURCE_SETTINGS_CLASSES
from .table import COIN_SETTINGS, DEFAULT_COINS, RATE_SOURCE_SETTINGS, SETTINGS


def example_toml():
    """Return the text of config.example.toml, generated from the settings table."""
    lines = [
        "# Transient configuration. Every key, its default and its environment variable.",
        "# Copy to config.toml (or point TRANSIENT_CONFIG at it) and edit.",
        "",
    ]
    section = None
    for s in SETTINGS:
        sec, key = s.key.split(".")
        if sec != section:
            lines += ["", "[%s]" % sec] if section else ["[%s]" % sec]
            section = sec
        env = s.env + (" or " + s.env_alias if s.env_alias else "")
        lines.append("# %s  (env %s)" % (s.help, env))
        lines.append(_toml_line(key, s.default) if s.key != "rates.fixed" else '# fixed = { "DOGE/USD" = "0.125" }')
        if s.key == "rates.fixed":
            lines += _rate_source_lines()
    lines += [
        "",
        "# One section per coin. Environment: TRANSIENT_COINS_<CODE>_<KEY>.",
        "# With no [coins.*] at all, a local Dogecoin Core (cookie auth) is used.",
        "[coins.DOGE]",
    ]
    for s in COIN_SETTINGS:
        lines.append("# %s" % s.help)
        value = DEFAULT_COINS["DOGE"].get(s.key, s.default)
        lines.append(_toml_line(s.key, value))
    return "\n".join(lines) + "\n"


def _rate_source_lines():
    lines = []
    for cls in _RATE_SOURCE_SETTINGS_CLASSES:
        if cls.default_url:
            lines += ["", "[rates.%s]" % cls.name]
            for s in RATE_SOURCE_SETTINGS:
                lines.append("# %s  (env TRANSIENT_RATES_%s_%s)" % (s.help, cls.name.upper(), s.key.upper()))
                lines.append(_toml_line(s.key, cls.default_url if s.key == "url" else s.default))
    return lines


def _toml_line(key, value):
    if isinstance(value, dict):  # a per-coin table: shown commented out, with an example
        return '# %s = { LTC = "0.01" }' % key
    if value is None:
        return '# %s = ""' % key
    if isinstance(value, bool):
        return "%s = %s" % (key, "true" if value else "false")
    if isinstance(value, int):
        return "%s = %d" % (key, value)
    if isinstance(value, list):
        return "%s = [%s]" % (key, ", ".join('"%s"' % v for v in value))
    return '%s = "%s"' % (key, value)
