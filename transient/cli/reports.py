"""``transient reports payments|receipts ...``: the files of ``GET /reports/{kind}``,
made by the same code, on stdout or into ``--output FILE`` (written whole or not at all)."""

import os
import sys
import tempfile

from ..reports.period import period
from .util import FAILURE, OK, CommandError, currency_arg, load_config, open_runtime, print_json, table

KINDS = ("payments", "receipts", "payouts")


def register(sub, common):
    reports = sub.add_parser(
        "reports",
        parents=[common],
        help="export payments, receipts or payouts as CSV or JSON lines (for the accountant)",
        description="Write a report of the payments or payouts (made in the range) or of the "
        "receipts (first seen in the range), as CSV or JSON lines, with the documented columns "
        "(docs/reference/reports.md). Dates are whole days in --tz, both ends included.",
    )
    reports.add_argument("kind", choices=KINDS, help="which report")
    reports.add_argument("--from", dest="start", help="first day (2026-01-01) or an ISO 8601 time")
    reports.add_argument("--to", dest="end", help="last day, included (2026-01-31) or an ISO 8601 time")
    reports.add_argument("--tz", help="IANA time zone of the dates and of the file's times (default UTC)")
    reports.add_argument("--currency", help="only this coin, e.g. LTC")
    reports.add_argument(
        "--status", help="only these statuses (payments) or states (receipts, payouts), comma-separated"
    )
    reports.add_argument("--format", choices=("csv", "json"), default="csv", help="csv (default) or json (lines)")
    reports.add_argument("--output", "-o", help="write to this file instead of stdout")
    reports.set_defaults(func=cmd_reports)


def cmd_reports(args):
    params = {
        "from": args.start,
        "to": args.end,
        "tz": args.tz,
        "currency": args.currency,
        "status": args.status,
        "format": args.format,
    }
    with open_runtime(load_config(args)) as runtime:
        report = runtime.reports.open(args.kind, params)
        if not args.output:
            out = sys.stdout.buffer
            for piece in report.body:
                out.write(piece)
            out.flush()
            return OK
        try:
            _write_whole(args.output, report.body)
        except OSError as exc:
            raise CommandError("cannot write %s: %s" % (args.output, exc.strerror or exc)) from None
    print("%s: wrote %s" % (args.kind, args.output), file=sys.stderr)
    return OK


def _write_whole(path, body):
    """Write ``body`` to a file beside ``path`` and rename it over ``path`` at the end:
    an interrupted export leaves the old file (or none), never half of a new one."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".transient-report-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            for piece in body:
                out.write(piece)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def register_reconcile(sub, common):
    reconcile = sub.add_parser(
        "reconcile",
        parents=[common],
        help="compare a coin's ledger with its node's wallet history (exit 1 on a difference)",
        description="Read the node wallet's history and compare it with the ledger over the range: "
        "every output the wallet shows must be credited to its payment (or listed as unmatched: an "
        "address of no payment), every credit must be in the wallet. Changes nothing. "
        "Exit code 0: they agree; 1: a difference (listed); 2: a usage error.",
    )
    reconcile.add_argument("currency", help="currency code, e.g. LTC")
    reconcile.add_argument("--from", dest="start", help="first day (2026-01-01) or an ISO 8601 time")
    reconcile.add_argument("--to", dest="end", help="last day, included, or an ISO 8601 time")
    reconcile.add_argument("--tz", help="IANA time zone of the dates (default UTC)")
    reconcile.set_defaults(func=cmd_reconcile)


def cmd_reconcile(args):
    span = period(args.start, args.end, args.tz)
    with open_runtime(load_config(args)) as runtime:
        currency = currency_arg(runtime.backends, args.currency)
        result = runtime.reconciler.run(currency, span)
        shown = result.as_dict(runtime.backends[currency].decimals)
    if args.json:
        print_json(shown)
        return OK if result.ok else FAILURE
    print(
        "%s: %d wallet output(s), %d credit(s) in the ledger, %d matched, %d to no payment (unmatched)"
        % (currency, shown["wallet_outputs"], shown["ledger_credits"], shown["matched"], len(shown["unmatched"]))
    )
    if shown["unmatched"]:
        table([(u["txid"], u["vout"], u["address"], u["amount"]) for u in shown["unmatched"]], UNMATCHED)
    if result.ok:
        print("%s: the ledger and the wallet agree" % currency)
        return OK
    print("%s: %d difference(s)" % (currency, len(shown["differences"])))
    rows = [
        (d["kind"], d["txid"], d["vout"], d["amount"], d["payment_id"] or "-", d["detail"])
        for d in shown["differences"]
    ]
    table(rows, ["KIND", "TXID", "VOUT", "AMOUNT", "PAYMENT", "DETAIL"])
    return FAILURE


UNMATCHED = ["UNMATCHED TXID", "VOUT", "ADDRESS", "AMOUNT"]
