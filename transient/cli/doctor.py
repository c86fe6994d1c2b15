"""``transient doctor``: check the config, the database and each coin node, one line each.

:func:`checks` yields :class:`Check` results as it goes (a slow node shows up
as it happens). Every failure carries a fix. On a regtest node with the daemon
running, walletnotify and blocknotify are checked by a real round trip: the
node is made to fire each one, and the daemon must report the ping.
"""

import os
from dataclasses import replace

from .. import settings
from ..core.clock import utcnow
from ..core.errors import ConfigError, NodeError, PluginError
from ..core.redact import redact, scrub
from ..runtime import plugins
from ..runtime.build import build_rates
from ..store import migrations
from ..store.db import open_database
from .node_checks import FAIL, OK, SKIP, WARN, Check, CoinDoctor, daemon_url, post  # noqa: F401  (commands uses doctor.OK, FAIL, daemon_url, post)


def checks(config_path=None, roundtrip=True, notify_timeout=10.0):
    """Yield a :class:`Check` per thing checked, scrubbed of every configured secret."""
    try:
        secrets = settings.secret_values(settings.load(config_path))
    except ConfigError:
        secrets = ()
    for check in _checks(config_path, roundtrip, notify_timeout):
        yield replace(check, detail=scrub(check.detail, *secrets), fix=scrub(check.fix, *secrets))


def _checks(config_path, roundtrip, notify_timeout):
    try:
        config = settings.load(config_path)
    except ConfigError as exc:
        yield Check("config", FAIL, exc.message, _config_fix(exc.field, config_path), config_error=True)
        return
    yield Check(
        "config",
        OK,
        "%s; coins: %s" % (config.source or "built-in defaults (no config file)", ", ".join(sorted(config.coins))),
    )
    backends = yield from _backends(config)
    db = yield from _database(config)
    for code, backend in sorted(backends.items()):
        try:
            yield from CoinDoctor(config, code, backend, db, roundtrip, notify_timeout).checks()
        except NodeError as exc:  # the node failed half-way through: report, go on with the next coin
            yield Check("%s node" % code, FAIL, exc.message, "see the node's log")
        finally:
            backend.close()
    if db is not None:
        yield from _rates(config)
        db.close()


def _config_fix(field, config_path):
    """Where to correct a config error: the variable, the flag, or the key in its file."""
    where = config_path or os.environ.get("TRANSIENT_CONFIG") or "config.toml"
    if field and field.startswith("TRANSIENT_"):
        return "correct (or unset) the environment variable %s" % field
    if field == "--config":
        return "give --config the path of an existing TOML file"
    return "correct %s in %s (or its environment variable)" % (field or "the file", where)


def _rates(config):
    """A check per configured fiat pair: is its stored rate usable now (kept fresh by transientd)?"""
    if not config["rates.fiat"]:
        return
    try:
        book, _ = build_rates(config, plugins.get_plugin_manager(), config.coins, None, utcnow)
        stale = dict(book.stale_pairs())
    except (ConfigError, PluginError) as exc:
        yield Check("rates", FAIL, exc.message, "correct %s" % (exc.field or "[rates]"), config_error=True)
        return
    for pair in book.pairs():
        if pair in stale:
            yield Check(
                "rate %s" % pair,
                FAIL,
                stale[pair],
                "is transientd running (it refreshes rates)? check [rates] sources and each "
                "[rates.<name>] url, and that this host reaches the exchanges",
            )
        else:
            report = book.report(*pair.split("/"))
            yield Check(
                "rate %s" % pair,
                OK,
                "%s (%d quote(s), at %s)"
                % (report["rate"], sum(q["state"] == "used" for q in report["quotes"]), report["rate_at"]),
            )


def _backends(config):
    try:
        classes = plugins.collect_backends(plugins.get_plugin_manager())
    except PluginError as exc:
        yield Check("plugins", FAIL, exc.message, "uninstall or fix the plugin named above")
        return {}
    backends = {}
    for code, opts in sorted(config.coins.items()):
        cls = classes.get(opts["backend"])
        if cls is None:
            yield Check(
                "%s backend" % code,
                FAIL,
                "coins.%s.backend: no backend %r is installed (installed: %s)"
                % (code, opts["backend"], ", ".join(sorted(classes))),
                "install the plugin that provides it, or set coins.%s.backend" % code,
                config_error=True,
            )
            continue
        try:
            backends[code] = cls(code, opts)
        except ConfigError as exc:  # an option this backend cannot take (a wallet name on Dogecoin 1.14)
            yield Check("%s backend" % code, FAIL, exc.message, "correct %s" % exc.field, config_error=True)
    built = ", ".join("%s (%s)" % (b.name, c) for c, b in sorted(backends.items()))
    yield Check("plugins", OK, "backends: %s" % (built or "none built (see above)"))
    return backends


def _database(config):
    url = config["database.url"]
    shown = redact(url)
    path = url.split(":///", 1)[1] if url.startswith("sqlite") and ":///" in url else None
    if path and path != ":memory:" and not os.path.exists(path):
        yield Check(
            "database",
            FAIL,
            "%s: the file %s does not exist" % (shown, os.path.abspath(path)),
            "run `transient migrate` to create it (or check database.url)",
        )
        return None
    try:
        db = open_database(url)
        db.connect(reuse_if_open=True)
        db.execute_sql("SELECT 1")
        todo = migrations.pending(db)
    except Exception as exc:  # noqa: BLE001 - any driver's failure is a finding, not a crash
        yield Check(
            "database",
            FAIL,
            "cannot use %s: %s" % (shown, str(exc).strip().splitlines()[0]),
            "check database.url, and that the database server is running and accepts this user",
        )
        return None
    yield Check("database", OK, shown)
    if not todo:
        yield Check("migrations", OK, "schema up to date")
    elif config["database.auto_migrate"]:
        yield Check(
            "migrations",
            WARN,
            "%d pending (%s); transientd applies them at start-up (auto_migrate)" % (len(todo), ", ".join(todo)),
            "run `transient migrate` to apply them now",
        )
    else:
        yield Check(
            "migrations",
            FAIL,
            "%d pending: %s" % (len(todo), ", ".join(todo)),
            "run `transient migrate` (or set database.auto_migrate = true)",
        )
    return db
