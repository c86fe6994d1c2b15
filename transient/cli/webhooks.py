"""``transient webhooks``: the event log, redelivery and a test ping, on the same
service functions as the HTTP API."""

from ..core.errors import ValidationError
from ..core.redact import redact, scrub
from ..delivery import admin
from ..delivery.sender import Sender
from ..payments.validation import check_url
from ..store.models import Delivery
from .util import OK, CommandError, load_config, open_runtime, print_json, table, usage


def register(sub, common):
    hooks = sub.add_parser(
        "webhooks",
        parents=[common],
        help="webhook events, deliveries, redelivery and a test ping",
        description="Webhook deliveries are sent by the running daemon; these commands "
        "read and queue them in the database it uses.",
    )
    actions = hooks.add_subparsers(dest="action", metavar="ACTION", required=True)

    events = actions.add_parser("events", parents=[common], help="a payment's events with their deliveries")
    events.add_argument("id", help="payment id")
    events.set_defaults(func=cmd_events)

    listing = actions.add_parser("list", parents=[common], help="deliveries, newest first")
    listing.add_argument(
        "--state", choices=(Delivery.PENDING, Delivery.DELIVERED, Delivery.FAILED), help="only deliveries in this state"
    )
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.set_defaults(func=cmd_list)

    again = actions.add_parser(
        "redeliver",
        parents=[common],
        help="send deliveries again (the daemon sends them)",
        description="Queue the same body to the same URL again, marked as a redelivery.",
    )
    again.add_argument("ids", nargs="*", metavar="DELIVERY_ID", help="delivery ids (see `webhooks events`)")
    again.add_argument(
        "--failed", action="store_true", help="every delivery that failed for good and was not redelivered since"
    )
    again.set_defaults(func=cmd_redeliver)

    ping = actions.add_parser("ping", parents=[common], help="send a signed test event now")
    ping.add_argument("--url", help="where to (default: [webhook] url)")
    ping.set_defaults(func=cmd_ping)


def cmd_events(args):
    with open_runtime(load_config(args)) as runtime:
        payment = runtime.payments.get(args.id)
        log = admin.event_log(payment, runtime.renderer)
    if args.json:
        print_json(log)
        return OK
    rows = []
    for e in log:
        sent = ["#%d %s %s (%d)" % (d["id"], d["state"], d["url"], d["attempts"]) for d in e["deliveries"]]
        rows.append((e["sequence"], e["type"], e["created_at"], "; ".join(sent) or "-"))
    table(rows, ["SEQ", "TYPE", "CREATED", "DELIVERIES (#id state url (attempts))"])
    return OK


def cmd_list(args):
    if not 1 <= args.limit <= 1000:
        raise usage("--limit must be between 1 and 1000, got %d" % args.limit)
    with open_runtime(load_config(args)):  # the database, migrated, for the query below
        rows = admin.recent(args.state, args.limit)
    if args.json:
        print_json(
            [admin.render_delivery(d, []) | {"payment_id": str(d.payment_id), "sequence": d.sequence} for d in rows]
        )
        return OK
    if not rows:
        print("no deliveries")
        return OK
    table(
        [
            (
                d.id,
                d.payment_id,
                d.sequence,
                d.state,
                d.attempts,
                d.last_status or scrub(d.last_error, d.url) or "",
                redact(d.url),
            )
            for d in rows
        ],
        ["ID", "PAYMENT", "SEQ", "STATE", "ATTEMPTS", "LAST", "URL"],
    )
    return OK


def cmd_redeliver(args):
    if bool(args.ids) == args.failed:
        raise usage("give delivery ids or --failed")
    with open_runtime(load_config(args)) as runtime:
        ids = admin.failed_ids() if args.failed else args.ids
        queued = [admin.redeliver(i, runtime.db) for i in ids]
    if args.json:
        print_json([{"id": d.id, "redelivery_of": d.redelivery_of_id, "url": redact(d.url)} for d in queued])
    else:
        for d in queued:
            print("delivery %d queued again as #%d (%s)" % (d.redelivery_of_id, d.id, redact(d.url)))
        if not queued:
            print("nothing to redeliver")
    return OK


def cmd_ping(args):
    config = load_config(args)
    url = args.url or config["webhook.url"]
    if not url:
        raise usage("no [webhook] url is configured: give --url")
    try:
        check_url(url, "url")
    except ValidationError as exc:
        raise usage("--url %s" % exc.message) from None
    out = admin.ping(Sender(config["webhook.secret"], config["webhook.timeout"]), url)
    if args.json:
        print_json(
            {
                "url": redact(url),
                "ok": out.ok,
                "status_code": out.status,
                "error": out.error,
                "duration_ms": out.duration_ms,
                "signed": bool(config["webhook.secret"]),
            }
        )
    else:
        what = "HTTP %d" % out.status if out.status is not None else out.error
        print(
            "%s: %s in %d ms%s"
            % (redact(url), what, out.duration_ms, "" if config["webhook.secret"] else " (unsigned)")
        )
    if not out.ok:
        raise CommandError("the receiver did not accept the ping (%s)" % (out.error or "HTTP %d" % out.status))
    return OK
