"""``transient reports payments|receipts ...``: the files of ``GET /reports/{kind}``,
made by the same code, on stdout or into ``--output FILE`` (written whole or not at all)."""

import os
import sys
import tempfile

from .util import OK, CommandError, load_config, open_runtime

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
