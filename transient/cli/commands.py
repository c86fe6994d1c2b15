"""The ``transient`` command line.

Every command runs on the same service layer as the HTTP API (the runtime's
payments service, syncers and backends). Human-readable output by default,
``--json`` for scripts. Exit codes: 0 success, 1 failure (node down, payment
not found...), 2 usage or config error, 130 interrupted.
"""

import argparse
import os
import re
import sys

from peewee import InterfaceError, OperationalError

from .. import installed_version
from ..chain.rescan import Rescan
from ..core.errors import TransientError
from ..core.money import format_amount
from ..core.redact import scrub
from ..devnet.node import DevnetError
from ..runtime import plugins
from ..store import migrations
from ..store.db import open_database
from . import devnet as cli_devnet
from . import doctor
from . import keys as cli_keys
from . import payments as cli_payments
from . import payouts as cli_payouts
from . import rates as cli_rates
from . import reports as cli_reports
from . import users as cli_users
from . import wallet as cli_wallet
from . import webhooks as cli_webhooks
from .util import (
    OK,
    USAGE,
    CommandError,
    ProgressBar,
    currency_arg,
    fail_line,
    load_config,
    open_runtime,
    print_json,
    table,
    usage,
)

_HASH = re.compile(r"[0-9a-fA-F]{64}")


class Parser(argparse.ArgumentParser):
    """argparse with one clear line for a usage error (exit code 2)."""

    def error(self, message):
        self.exit(USAGE, "%s: %s (see %s --help)\n" % (self.prog, message, self.prog))


def common_options():
    """Options accepted before or after the command (``transient --json payments list``
    and ``transient payments list --json`` both work)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", default=argparse.SUPPRESS, help="TOML config file (default: $TRANSIENT_CONFIG or ./config.toml)"
    )
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts")
    return common


def non_negative(text):
    if not text.isdigit():
        raise argparse.ArgumentTypeError("expected a whole number >= 0, got %r" % text)
    return int(text)


def positive(text):
    value = non_negative(text)
    if value < 1:
        raise argparse.ArgumentTypeError("expected a whole number >= 1, got %r" % text)
    return value


# -- commands -------------------------------------------------------------------


def cmd_migrate(args):
    db = open_database(load_config(args)["database.url"])
    try:
        applied = migrations.apply(db)
    finally:
        db.close()
    if args.json:
        print_json({"applied": applied})
    elif applied:
        for name in applied:
            print("applied %s" % name)
    else:
        print("database is up to date")
    return OK


def cmd_backends(args):
    pm = plugins.get_plugin_manager()
    plugins.collect_backends(pm)  # fail on duplicates and broken classes like the daemon would
    rows = plugins.backend_plugins(pm)
    if args.json:
        print_json([{"backend": n, "currency": c, "plugin": p, "version": v} for n, c, p, v in rows])
    else:
        table([(n, c, p, v or "built-in") for n, c, p, v in rows], ["BACKEND", "CURRENCY", "PLUGIN", "VERSION"])
    return OK


def cmd_sync(args):
    with open_runtime(load_config(args)) as runtime:
        currency = currency_arg(runtime.backends, args.currency)
        runs = runtime.syncers[currency].run()
    if args.json:
        print_json({"currency": currency, "syncs": runs})
    else:
        print("%s: %s" % (currency, "synced" if runs else "another process is syncing; it will run again"))
    return OK


def cmd_notify(args):
    config = load_config(args)
    currency = currency_arg(config.coins, args.currency)
    if not _HASH.fullmatch(args.hash):
        raise usage(
            "%s must be 64 hexadecimal characters, got %r"
            % ("TXID" if args.kind == "transaction" else "HASH", args.hash)
        )
    base = (args.url or doctor.daemon_url(config)).rstrip("/")
    status, text = doctor.post(
        "%s/notify/%s/%s/%s" % (base, currency, args.kind, args.hash), config["notify.token"], timeout=args.timeout
    )
    if status is None:
        raise CommandError("transientd is not reachable at %s (%s): is it running?" % (base, text))
    if status != 202:
        raise CommandError("transientd at %s refused the ping: HTTP %d: %s" % (base, status, text))
    if args.json:
        print_json({"currency": currency, "kind": args.kind, "hash": args.hash, "accepted": True})
    else:
        print("%s: sync requested" % currency)
    return OK


def cmd_doctor(args):
    found = []
    for check in doctor.checks(args.config, roundtrip=not args.no_roundtrip, notify_timeout=args.notify_timeout):
        found.append(check)
        if not args.json:
            fix = " -> fix: %s" % check.fix if check.fix and check.status != doctor.OK else ""
            print("%-4s  %-18s %s%s" % (check.status.upper(), check.name, check.detail, fix), flush=True)
    failed = [c for c in found if c.status == doctor.FAIL]
    if args.json:
        print_json({"ok": not failed, "checks": [c.as_dict() for c in found]})
    elif failed:
        print("%d problem(s) found" % len(failed), file=sys.stderr)
    if any(c.config_error for c in failed):
        return USAGE
    return 1 if failed else OK


def cmd_rescan(args):
    with open_runtime(load_config(args)) as runtime:
        currency = currency_arg(runtime.backends, args.currency)
        decimals = runtime.backends[currency].decimals
        bar = ProgressBar(1, "%s rescan" % currency, tty=False if args.json else None)

        def progress(done, total, height):
            bar.total = max(total, 1)
            bar.update(done, "%d/%d outputs, height %d" % (done, total, height))

        try:
            report = Rescan(runtime.syncers[currency], args.from_height, args.batch, progress).run()
        finally:
            bar.close()
    changed = [
        {"id": str(pid), "before": _amounts(old, decimals), "after": _amounts(new, decimals)}
        for pid, old, new in report.payments
    ]
    if args.json:
        print_json(
            {
                "currency": currency,
                "from_height": report.from_height,
                "to_height": report.to_height,
                "outputs": report.outputs,
                "receipts_added": report.receipts_added,
                "receipts_updated": report.receipts_updated,
                "payments_changed": changed,
                "matched": report.matched,
            }
        )
        return OK
    print(
        "%s: read %d wallet output(s) in blocks %d-%d from the node"
        % (currency, report.outputs, report.from_height, report.to_height)
    )
    if report.matched:
        print("%s: the ledger matches the node (nothing changed)" % currency)
        return OK
    print(
        "%s: ledger repaired: %d receipt(s) added, %d updated, %d payment(s) changed"
        % (currency, report.receipts_added, report.receipts_updated, len(changed))
    )
    if changed:
        table(
            [
                (c["id"], _arrow(c, "amount_received"), _arrow(c, "amount_pending"), _arrow(c, "status"))
                for c in changed
            ],
            ["PAYMENT", "RECEIVED", "PENDING", "STATUS"],
        )
    return OK


def _amounts(values, decimals):
    if values is None:
        return None
    received, pending, status = values
    return {
        "amount_received": format_amount(received, decimals),
        "amount_pending": format_amount(pending, decimals),
        "status": status,
    }


def _arrow(change, key):
    before, after = (change["before"] or {}).get(key), change["after"][key]
    return after if before == after else "%s -> %s" % (before, after)


# -- the parser -----------------------------------------------------------------


def build_parser():
    common = common_options()
    parser = Parser(
        prog="transient",
        description="Transient payment gateway: the command line. "
        "Exit codes: 0 success, 1 failure, 2 usage or config error.",
    )
    parser.add_argument("--config", default=None, help="TOML config file (default: $TRANSIENT_CONFIG or ./config.toml)")
    parser.add_argument("--json", action="store_true", default=False, help="print JSON for scripts")
    parser.add_argument("--version", action="version", version="%(prog)s " + installed_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    cli_payments.register(sub, common)
    _register_node_commands(sub, common)
    cli_webhooks.register(sub, common)
    cli_rates.register(sub, common)
    cli_reports.register(sub, common)
    cli_reports.register_reconcile(sub, common)
    cli_payouts.register(sub, common)
    cli_wallet.register(sub, common)
    cli_keys.register(sub, common)
    cli_users.register(sub, common)
    cli_devnet.register(sub, common)

    migrate = sub.add_parser("migrate", parents=[common], help="apply pending database migrations")
    migrate.set_defaults(func=cmd_migrate)
    backends = sub.add_parser("backends", parents=[common], help="list installed coin backends and their plugins")
    backends.set_defaults(func=cmd_backends)
    sync = sub.add_parser("sync", parents=[common], help="sync a coin with its node now")
    sync.add_argument("currency", help="currency code, e.g. DOGE")
    sync.set_defaults(func=cmd_sync)
    return parser


def _register_node_commands(sub, common):
    """notify, doctor and rescan: the commands that talk to the daemon or the coin nodes."""
    notify = sub.add_parser(
        "notify",
        parents=[common],
        help="tell the running daemon a coin changed (walletnotify)",
        description="Ping transientd as walletnotify/blocknotify do, e.g. "
        "walletnotify=transient notify transaction DOGE %s",
    )
    notify.add_argument("kind", choices=("transaction", "block"), help="what changed")
    notify.add_argument("currency", help="currency code, e.g. DOGE")
    notify.add_argument("hash", help="the txid or block hash (64 hex characters)")
    notify.add_argument("--url", help="the daemon's base URL (default: from server.bind)")
    notify.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the daemon (default 3)")
    notify.set_defaults(func=cmd_notify)

    doc = sub.add_parser(
        "doctor",
        parents=[common],
        help="check the config, the database and each coin node",
        description="Check the config, the database and its migrations, and each coin node "
        "(reachable, credentials, wallet, chain and network, walletnotify/blocknotify). "
        "On a regtest node with the daemon running, notify is checked by a round trip: "
        "the doctor mines one block and makes a wallet transaction in a wallet of its own.",
    )
    doc.add_argument("--no-roundtrip", action="store_true", help="never mine or touch wallets, even on regtest")
    doc.add_argument(
        "--notify-timeout",
        type=float,
        default=10.0,
        help="seconds to wait for the daemon to report a ping (default 10)",
    )
    doc.set_defaults(func=cmd_doctor)

    rescan = sub.add_parser(
        "rescan",
        parents=[common],
        help="re-read a coin's wallet history to rebuild or verify the ledger",
        description="Re-read the wallet history from the node and replay it through the "
        "ledger: missing receipts are added, wrong ones corrected, payments recomputed. "
        "Safe to interrupt and to run again; the daemon may keep running.",
    )
    rescan.add_argument("currency", help="currency code, e.g. DOGE")
    rescan.add_argument(
        "--from-height", type=non_negative, default=0, help="start at this block height (default: the whole wallet)"
    )
    rescan.add_argument("--batch", type=positive, default=500, help="outputs per database transaction (default 500)")
    rescan.set_defaults(func=cmd_rescan)


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\ntransient: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `transient payments list | head`: the reader left; say nothing, as SIGPIPE would.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (CommandError, TransientError) as exc:
        message, code = fail_line(exc)
    except DevnetError as exc:
        message, code = str(exc), 1
    except _database_errors() as exc:
        message, code = "database error: %s" % str(exc).strip().splitlines()[0], 1
    print("transient: %s" % scrub(message), file=sys.stderr)
    return code


def _database_errors():
    return (OperationalError, InterfaceError)


if __name__ == "__main__":
    sys.exit(main())
