"""Configuration: one table of every key (``table``), the parsers of its values
(``parsers``), loading it from TOML and the environment (``loading``) and the example
file written from it (``example``). May import every room below it (it uses their
validators); the runtime and the CLI import it."""

from .example import example_toml
from .loading import NOT_SETTINGS, NOT_SETTINGS_PREFIXES, Config, load, secret_values, shown
from .parsers import duration
from .table import COIN_SETTINGS, DEFAULT_COINS, RATE_SOURCE_SETTINGS, SETTINGS, Setting

__all__ = [
    "COIN_SETTINGS",
    "DEFAULT_COINS",
    "NOT_SETTINGS",
    "NOT_SETTINGS_PREFIXES",
    "RATE_SOURCE_SETTINGS",
    "SETTINGS",
    "Config",
    "Setting",
    "duration",
    "example_toml",
    "load",
    "secret_values",
    "shown",
]
