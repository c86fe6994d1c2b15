"""Loading the configuration: defaults, the TOML file, the environment; an unknown key, a
wrong type or a bad value is a ConfigError naming the key.

Order of precedence (last wins): built-in defaults, the TOML file
(``TRANSIENT_CONFIG``, default ``./config.toml``), environment variables
(``TRANSIENT_<SECTION>_<KEY>``, also read from ``.env``), and the seed's
``PAYMENT_WEBHOOK_URL``.
"""

import difflib
import os
import re
import tomllib

from ..chain import hdkeys
from ..core import redact as _redact
from ..core.errors import ConfigError
from .parsers import _currency
from .table import (
    _BY_KEY,
    _COIN_BY_KEY,
    COIN_SETTINGS,
    DEFAULT_COINS,
    RATE_SOURCE_SETTINGS,
    SETTINGS,
    _section_names,
    _sections,
)


class Config:
    """The effective configuration: ``config["server.bind"]`` and ``config.coins["DOGE"]["rpc_url"]``."""

    def __init__(self, values, coins, source=None, rate_sources=None):
        self.values = values
        self.coins = coins
        self.source = source
        self.rate_sources = rate_sources or {}  # source name -> {"url", "timeout"} ([rates.<name>])

    def __getitem__(self, key):
        return self.values[key]

    def coin(self, currency):
        return self.coins[currency]


def load(path=None, environ=None, dotenv=True):
    """Return the :class:`Config` from defaults, the TOML file and the environment.

    Raises ConfigError naming the key for an unknown key, a wrong type or a bad value.
    """
    if environ is None:
        if dotenv:
            from dotenv import load_dotenv

            load_dotenv(os.path.join(os.getcwd(), ".env"), override=False)
        environ = os.environ
    # Who named the file, for the error when it is missing: the caller's --config, or the variable.
    explicit = "--config" if path else "TRANSIENT_CONFIG" if environ.get("TRANSIENT_CONFIG") else None
    path = path or environ.get("TRANSIENT_CONFIG") or "config.toml"
    data = _read_toml(path, explicit)
    values = {s.key: s.default if s.default is None else s.parse(s.default) for s in SETTINGS}
    coins, sources = {}, {}
    _apply_file(data, values, coins, sources)
    _apply_env(environ, values, coins, sources)
    _default_database_in_state_directory(data, environ, values)
    if not coins:
        coins = {code: dict(opts) for code, opts in DEFAULT_COINS.items()}
    for code, opts in coins.items():
        _complete_coin(code, opts)
    for name in set(values["rates.sources"]) | set(sources):
        opts = sources.setdefault(name, {})
        for setting in RATE_SOURCE_SETTINGS:
            opts.setdefault(setting.key, setting.default)
    sources.setdefault("fixed", {})["pairs"] = values["rates.fixed"]
    return Config(values, coins, source=path if os.path.exists(path) else None, rate_sources=sources)


def _read_toml(path, explicit):
    if not os.path.exists(path):
        if explicit:
            raise ConfigError("config file %s does not exist (%s)" % (path, explicit), field=explicit)
        return {}
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config file %s is not valid TOML: %s" % (path, exc)) from None
    except OSError as exc:
        raise ConfigError("config file %s cannot be read: %s" % (path, exc.strerror)) from None


def _set(setting, name, raw, target):
    try:
        target[setting.key] = setting.parse(raw)
    except ValueError as exc:
        raise ConfigError("%s %s%s" % (name, exc, _shown(setting, raw)), field=name) from None


def _shown(setting, raw):
    """What a config error may echo of the value ``raw``: all of it, or for a secret
    setting only the scheme of a URL (its credentials might be anywhere in a bad one)."""
    if not setting.secret:
        return " (got %r)" % (raw,)
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]{0,15})://", raw) if isinstance(raw, str) else None
    if scheme:
        return " (got a %s:// URL; the rest is not shown)" % scheme.group(1)
    return " (the value is not shown: it is a secret)"


def shown(config):
    """``[(key, value as text, help)]`` of the running configuration for the dashboard's
    settings page: secrets never shown (only whether they are set), URLs redacted, and
    anything that could hold a known secret scrubbed."""
    known = secret_values(config)

    def text(setting, value):
        if setting.secret:
            return "(set, not shown)" if value else "(not set)"
        if isinstance(value, dict):
            value = ", ".join("%s=%s" % kv for kv in value.items())
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        return _redact.scrub(str(value), *known) if value not in (None, "") else ""

    rows = [(s.key, text(s, config.values.get(s.key)), s.help) for s in SETTINGS]
    for code, opts in sorted(config.coins.items()):
        rows.extend(("coins.%s.%s" % (code, s.key), text(s, opts.get(s.key)), s.help) for s in COIN_SETTINGS)
    return rows


def secret_values(config):
    """Every configured secret (plain values and URLs that may hold credentials), for
    :class:`transient.core.redact.ScrubFilter` and ``scrub``."""
    found = []
    for setting in SETTINGS:
        value = config.values.get(setting.key) if setting.secret else None
        found.extend(value if isinstance(value, list) else [value] if value else [])
    for opts in config.coins.values():
        found.extend(opts.get(s.key) for s in COIN_SETTINGS if s.secret and opts.get(s.key))
    return found


def _apply_file(data, values, coins, sources):
    for section, table in data.items():
        if section == "coins":
            if not isinstance(table, dict):
                raise ConfigError("coins must be a table of [coins.<CODE>] sections", field="coins")
            for code, opts in table.items():
                _file_coin(code, opts, coins)
            continue
        if not isinstance(table, dict) or section not in _section_names():
            close = _did_you_mean(section, _section_names()).strip(" ()")
            raise ConfigError(
                "%s: unknown %s (%ssections are %s)"
                % (
                    section,
                    "section" if isinstance(table, dict) else "key",
                    close + "; " if close else "",
                    _sections(),
                ),
                field=section,
            )
        for key, raw in table.items():
            name = "%s.%s" % (section, key)
            if section == "rates" and name not in _BY_KEY and isinstance(raw, dict):
                _file_rate_source(key, raw, sources)
                continue
            if name not in _BY_KEY:
                known = [k.split(".", 1)[1] for k in _BY_KEY if k.startswith(section + ".")]
                raise ConfigError("%s: unknown key%s" % (name, _did_you_mean(key, known)), field=name)
            _set(_BY_KEY[name], name, raw, values)


def _file_coin(code, opts, coins):
    try:
        _currency(code)
    except ValueError as exc:
        raise ConfigError("coins.%s: %s" % (code, exc), field="coins.%s" % code) from None
    if not isinstance(opts, dict):
        raise ConfigError("coins.%s must be a table" % code, field="coins.%s" % code)
    target = coins.setdefault(code, {})
    for key, raw in opts.items():
        name = "coins.%s.%s" % (code, key)
        if key not in _COIN_BY_KEY:
            raise ConfigError("%s: unknown key%s" % (name, _did_you_mean(key, _COIN_BY_KEY)), field=name)
        _set(_COIN_BY_KEY[key], name, raw, target)


def _file_rate_source(name, opts, sources):
    target = sources.setdefault(name, {})
    for key, raw in opts.items():
        full = "rates.%s.%s" % (name, key)
        if key not in _SOURCE_BY_KEY:
            raise ConfigError(
                "%s: unknown key (a source's table has %s)" % (full, ", ".join(_SOURCE_BY_KEY)), field=full
            )
        _set(_SOURCE_BY_KEY[key], full, raw, target)


_SOURCE_BY_KEY = {s.key: s for s in RATE_SOURCE_SETTINGS}


_SOURCE_ENV = re.compile(r"^TRANSIENT_RATES_([A-Z0-9]+)_(%s)$" % "|".join(k.upper() for k in _SOURCE_BY_KEY))


_COIN_ENV = re.compile(r"^TRANSIENT_COINS_([A-Z][A-Z0-9]{1,9})_(%s)$" % "|".join(k.upper() for k in _COIN_BY_KEY))


# TRANSIENT_ variables that are not settings: the config file's path, switches of the
# plugin manager, the devnet, the fault points, and the tests' and scripts' own.
NOT_SETTINGS = frozenset(
    {
        "TRANSIENT_CONFIG",
        "TRANSIENT_DISABLE_PLUGIN_AUTOLOAD",
        "TRANSIENT_DEVNET_DIR",
        "TRANSIENT_FAULTS",
        "TRANSIENT_REQUIRE_SERVICES",
        "TRANSIENT_ARTIFACTS",
        "TRANSIENT_CHROMIUM",
        "TRANSIENT_CHROMEDRIVER",
        # the coin nodes' programs for the devnet and the tests (devnet.coins.KINDS)
        "TRANSIENT_LITECOIND",
        "TRANSIENT_BITCOIND",
        "TRANSIENT_BITCOIND_28",
        "TRANSIENT_DOGECOIND",
    }
)


NOT_SETTINGS_PREFIXES = ("TRANSIENT_TEST_", "TRANSIENT_BOOTSTRAP_")


def _apply_env(environ, values, coins, sources):
    _refuse_unknown_env(environ)
    for setting in SETTINGS:
        for name in (setting.env, setting.env_alias):
            if name and environ.get(name, "") != "":
                _set(setting, name, _env_list(setting, name, environ[name]), values)
                break
    for name, raw in environ.items():
        match = _COIN_ENV.match(name)
        if match:
            code, key = match.group(1), match.group(2).lower()
            _set(_COIN_BY_KEY[key], name, _env_list(_COIN_BY_KEY[key], name, raw), coins.setdefault(code, {}))
        elif _SOURCE_ENV.match(name) and environ[name] != "":
            source, key = _SOURCE_ENV.match(name).groups()
            _set(_SOURCE_BY_KEY[key.lower()], name, environ[name], sources.setdefault(source.lower(), {}))
        elif name.startswith("TRANSIENT_COINS_"):
            raise ConfigError(
                "%s: unknown coin setting (TRANSIENT_COINS_<CODE>_<KEY>)%s"
                % (
                    name,
                    _did_you_mean(
                        name, ["TRANSIENT_COINS_%s_%s" % (name.split("_")[2], k.upper()) for k in _COIN_BY_KEY]
                    ),
                ),
                field=name,
            )


def _default_database_in_state_directory(data, environ, values):
    """Under systemd (``StateDirectory=transient``: ``$STATE_DIRECTORY=/var/lib/transient``)
    the default SQLite file goes there: the working directory is read-only under
    ``ProtectSystem=strict``. A configured database.url is never changed."""
    state = environ.get("STATE_DIRECTORY", "").split(":")[0]
    configured = "url" in (data.get("database") or {}) or environ.get("TRANSIENT_DATABASE_URL")
    if state and not configured:
        values["database.url"] = "sqlite:///" + os.path.join(os.path.abspath(state), "transient.db")


def _refuse_unknown_env(environ):
    """A misspelt TRANSIENT_ variable is an error naming it: silently ignored, it would
    leave the setting it meant at its default."""
    known = {n for s in SETTINGS for n in (s.env, s.env_alias) if n}
    for name in sorted(environ):
        if not name.startswith("TRANSIENT_") or name in known or name in NOT_SETTINGS:
            continue
        if name.startswith(NOT_SETTINGS_PREFIXES + ("TRANSIENT_COINS_",)) or _SOURCE_ENV.match(name):
            continue
        raise ConfigError(
            "%s: unknown environment variable%s; settings are TRANSIENT_<SECTION>_<KEY> (see config.example.toml)"
            % (name, _did_you_mean(name, known | NOT_SETTINGS)),
            field=name,
        )


def _env_list(setting, name, raw):
    """A list setting's value from the environment: TOML/JSON list syntax
    (``["10s", "1m"]``) or, as before, comma-separated (``10s,1m``)."""
    if not isinstance(setting.default, list) or not raw.strip().startswith("["):
        return raw
    try:
        return tomllib.loads("value = " + raw)["value"]
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError('%s is not a list such as ["a", "b"] (or a,b): %s' % (name, exc), field=name) from None


def _complete_coin(code, opts):
    for setting in COIN_SETTINGS:
        opts.setdefault(setting.key, setting.default)
    for key in ("backend", "rpc_url"):
        if not opts.get(key):
            raise ConfigError("coins.%s.%s is required" % (code, key), field="coins.%s.%s" % (code, key))
    if opts["rpc_user"] and opts["rpc_cookie_file"]:
        raise ConfigError(
            "coins.%s: give rpc_user/rpc_password or rpc_cookie_file, not both" % code,
            field="coins.%s.rpc_cookie_file" % code,
        )
    if opts["rpc_cookie_file"]:
        opts["rpc_cookie_file"] = os.path.expanduser(opts["rpc_cookie_file"])
    if opts["xpub"] or opts["descriptor"]:
        # Read offline here (garbage, checksum, private key, coin); the node's chain is
        # checked at start-up. The messages never quote the key.
        hdkeys.parse(
            code,
            opts["xpub"],
            opts["derivation"],
            opts["descriptor"],
            field="coins.%s.%s" % (code, "descriptor" if opts["descriptor"] else "xpub"),
        )


def _did_you_mean(name, known):
    """ " (did you mean rpc_password?)" for the known name closest to a misspelt ``name``, or ""."""
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), sorted(by_lower), n=1, cutoff=0.6)
    return " (did you mean %s?)" % by_lower[close[0]] if close else ""
