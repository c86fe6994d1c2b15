"""The ``transient`` command line."""
import argparse
import json
import sys

from . import migrations, plugins, settings
from .errors import TransientError


def cmd_migrate(args, config):
    from .db import open_database

    db = open_database(config["database.url"])
    applied = migrations.apply(db)
    if args.json:
        print(json.dumps({"applied": applied}))
    elif applied:
        for name in applied:
            print("applied %s" % name)
    else:
        print("database is up to date")
    return 0


def cmd_backends(args, config):
    pm = plugins.get_plugin_manager()
    plugins.collect_backends(pm)  # fail on duplicates and broken classes like the daemon would
    rows = plugins.backend_plugins(pm)
    if args.json:
        print(json.dumps([{"backend": n, "currency": c, "plugin": p, "version": v} for n, c, p, v in rows]))
        return 0
    print("%-12s %-8s %-28s %s" % ("BACKEND", "CURRENCY", "PLUGIN", "VERSION"))
    for name, currency, plugin, version in rows:
        print("%-12s %-8s %-28s %s" % (name, currency, plugin, version or "built-in"))
    return 0


def cmd_sync(args, config):
    from .runtime import Runtime

    runtime = Runtime(config)
    try:
        runtime.prepare_schema()
        currency = args.currency.upper()
        if currency not in runtime.syncers:
            print("transient: unknown currency %r (configured: %s)" % (currency, ", ".join(runtime.syncers)),
                  file=sys.stderr)
            return 2
        runs = runtime.syncers[currency].run()
    finally:
        runtime.close()
    if args.json:
        print(json.dumps({"currency": currency, "syncs": runs}))
    else:
        print("%s: %s" % (currency, "synced" if runs else "another process is syncing; it will run again"))
    return 0


COMMANDS = {"migrate": cmd_migrate, "backends": cmd_backends, "sync": cmd_sync}


def build_parser():
    parser = argparse.ArgumentParser(prog="transient", description="Transient payment gateway command line.")
    parser.add_argument("--config", help="TOML config file (default: $TRANSIENT_CONFIG or ./config.toml)")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sub.add_parser("migrate", help="apply pending database migrations")
    sub.add_parser("backends", help="list installed coin backends and their plugins")
    sync = sub.add_parser("sync", help="sync a coin with its node now")
    sync.add_argument("currency", help="currency code, e.g. DOGE")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        config = settings.load(args.config)
        return COMMANDS[args.command](args, config)
    except TransientError as exc:
        print("transient: %s" % exc.message, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
