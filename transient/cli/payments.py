"""``transient payments``: create, show, list and watch payments through the payments service."""

import json
import sys
import time

from ..core import status as st
from ..core.clock import iso, utcnow
from .payouts import register_refund
from .util import (
    OK,
    CommandError,
    fields,
    load_config,
    open_runtime,
    parse_duration,
    print_json,
    require_daemon,
    table,
    usage,
)

FINAL = {st.PAID: 0, st.OVERPAID: 0, st.EXPIRED: 1}  # status -> exit code of `watch`


def register(sub, common):
    payments = sub.add_parser(
        "payments",
        parents=[common],
        help="create, show, list and watch payments",
        description="Payments, through the same service as the HTTP API.",
    )
    actions = payments.add_subparsers(dest="action", metavar="ACTION", required=True)
    _register_create(actions, common)
    register_refund(actions, common)
    _register_reading(actions, common)


def _register_create(actions, common):
    create = actions.add_parser("create", parents=[common], help="create a payment (the node gives its address)")
    create.add_argument("--currency", required=True, help="currency code, e.g. DOGE")
    create.add_argument("--amount", help="exact decimal amount, e.g. 10 or 0.5 (at most 8 decimals)")
    create.add_argument(
        "--price",
        help="a price in fiat instead of an amount, e.g. 19.99 (with --price-currency):"
        " converted at the current rate, locked for [rates] lock",
    )
    create.add_argument("--price-currency", metavar="CODE", help="the price's ISO 4217 code, e.g. USD")
    create.add_argument("--account", help="label for the address on the node (e.g. an order id)")
    create.add_argument(
        "--metadata",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="attach KEY=VALUE to the payment (repeatable)",
    )
    when = create.add_mutually_exclusive_group()
    when.add_argument("--expires-in", metavar="DURATION", help="expire after 90s, 15m, 2h, 1d... (default: the coin's)")
    when.add_argument("--expires-at", metavar="TIME", help="expire at an ISO 8601 time with an offset")
    create.add_argument("--confirmations", help="confirmations needed to be PAID (default: the coin's)")
    create.add_argument("--tolerance", metavar="PERCENT", help="underpayment still accepted as paid, in percent")
    create.add_argument("--callback-url", help="this payment's own webhook URL")
    create.add_argument("--redirect-url", help="where the checkout page sends the customer once paid")
    create.add_argument("--idempotency-key", help="the same key and arguments give back the same payment")
    create.add_argument(
        "--offline",
        action="store_true",
        help="create it even though transientd is not running (nobody watches it until one starts)",
    )
    create.set_defaults(func=cmd_create)


def _register_reading(actions, common):
    """show, list and watch."""
    show = actions.add_parser("show", parents=[common], help="show one payment, its transactions and history")
    show.add_argument("id", help="payment id")
    show.set_defaults(func=cmd_show)

    listing = actions.add_parser("list", parents=[common], help="list payments, newest first")
    listing.add_argument("--status", help="only this status (%s)" % ", ".join(st.STATUSES))
    listing.add_argument("--currency", help="only this currency")
    listing.add_argument("--limit", help="at most this many (default 50, at most 500)")
    listing.add_argument("--cursor", help="the next page, as printed by the previous one")
    listing.set_defaults(func=cmd_list)

    watch = actions.add_parser(
        "watch",
        parents=[common],
        help="follow a payment live until PAID, OVERPAID or EXPIRED",
        description="Print a line each time the payment changes, until it is PAID or "
        "OVERPAID (exit 0) or EXPIRED (exit 1). The running daemon does the syncing.",
    )
    watch.add_argument("id", help="payment id")
    watch.add_argument("--interval", type=float, default=1.0, help="seconds between looks (default 1)")
    watch.add_argument("--timeout", type=float, help="give up after this many seconds (exit 1)")
    watch.add_argument(
        "--offline",
        action="store_true",
        help="read the database even though transientd is not running (nothing will change)",
    )
    watch.set_defaults(func=cmd_watch)


def create_body(args):
    """Return the API request body for ``payments create``'s arguments."""
    body = {"currency": args.currency}
    if args.amount is None and args.price is None:
        raise usage("give --amount, or --price and --price-currency")
    optional = {
        "amount": args.amount,
        "price": args.price,
        "price_currency": args.price_currency,
        "account": args.account,
        "expires_at": args.expires_at,
        "confirmations": args.confirmations,
        "underpayment_tolerance": args.tolerance,
        "callback_url": args.callback_url,
        "redirect_url": args.redirect_url,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if args.metadata:
        body["metadata"] = parse_metadata(args.metadata)
    if args.expires_in is not None:
        try:
            body["expires_in"] = parse_duration(args.expires_in)
        except ValueError as exc:
            raise usage("--expires-in %s, got %r" % (exc, args.expires_in)) from None
    return body


def parse_metadata(items):
    metadata = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise usage("--metadata expects KEY=VALUE, got %r" % item)
        metadata[key.strip()] = value
    return metadata


def cmd_create(args):
    body = create_body(args)
    config = load_config(args)
    if not args.offline:
        require_daemon(config, "--offline")
    with open_runtime(config) as runtime:
        payment, created = runtime.payments.create(body, args.idempotency_key)
        rendered = runtime.payments.renderer.render(payment, private=True)  # the operator's view: the full one
    if args.json:
        print_json(rendered)
        return OK
    if not created:
        print("(an earlier payment with this idempotency key)", file=sys.stderr)
    show_payment(rendered)
    return OK


def cmd_show(args):
    with open_runtime(load_config(args)) as runtime:
        rendered = runtime.payments.renderer.render(runtime.payments.get(args.id), private=True)
    if args.json:
        print_json(rendered)
    else:
        show_payment(rendered)
    return OK


def cmd_list(args):
    with open_runtime(load_config(args)) as runtime:
        service = runtime.payments
        rows, cursor = service.list(status=args.status, currency=args.currency, limit=args.limit, cursor=args.cursor)
        rendered = service.renderer.render_many(rows, private=True)
    if args.json:
        print_json({"payments": rendered, "next_cursor": cursor})
        return OK
    if not rendered:
        print("no payments")
        return OK
    table(
        [(p["id"], p["currency"], p["amount"], p["amount_received"], p["status"], p["created_at"]) for p in rendered],
        ["ID", "CURRENCY", "AMOUNT", "RECEIVED", "STATUS", "CREATED"],
    )
    if cursor:
        print("more: transient payments list --cursor %s" % cursor, file=sys.stderr)
    return OK


def cmd_watch(args):
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    config = load_config(args)
    if not args.offline:
        require_daemon(config, "--offline")
    with open_runtime(config) as runtime:
        service = runtime.payments
        pid = service.get(args.id).id
        last = None
        while True:
            payment = service.renderer.render(service.get(pid), with_history=False, private=True)
            state = _watched(payment)
            if state != last:
                last = state
                if args.json:
                    print(json.dumps(payment), flush=True)
                else:
                    print(watch_line(payment), flush=True)
            if payment["status"] in FINAL:
                return FINAL[payment["status"]]
            if deadline is not None and time.monotonic() >= deadline:
                raise CommandError("payment %s is still %s after %gs" % (pid, payment["status"], args.timeout))
            time.sleep(args.interval)


def _watched(payment):
    """What `watch` reports a change of."""
    txs = tuple((t["txid"], t["vout"], t["confirmations"], t["status"]) for t in payment["transactions"])
    return payment["status"], payment["amount_received"], payment["amount_pending"], txs


def watch_line(p):
    counted = [t["confirmations"] for t in p["transactions"] if t["status"] in ("pending", "confirmed")]
    confs = ", %d/%d confirmations" % (min(counted), p["confirmations_required"]) if counted else ""
    return "%s  %-9s received %s of %s %s (pending %s)%s" % (
        iso(utcnow())[:19] + "Z",
        p["status"],
        p["amount_received"],
        p["amount"],
        p["currency"],
        p["amount_pending"],
        confs,
    )


def show_payment(p):
    """Print a payment as a block of fields, then its transactions and status history."""
    fields(
        [
            ("id", p["id"]),
            ("status", p["status"] + (" (paid late)" if p.get("paid_late") else "")),
            ("amount", "%s %s" % (p["amount"], p["currency"])),
            ("price", _price_line(p) if p.get("price") else None),
            ("received", "%s (pending %s)" % (p["amount_received"], p["amount_pending"])),
            ("due", p["amount_due"]),
            ("overpaid", p["amount_overpaid"] if p.get("amount_overpaid", "0") != "0" else None),
            ("address", p["payment_address"]),
            ("uri", p["payment_uri"]),
            ("checkout", _checkout_line(p.get("checkout_url"))),
            ("account", p.get("account")),
            ("metadata", json.dumps(p["metadata"], sort_keys=True) if p.get("metadata") else None),
            ("confirmations", "%d required" % p["confirmations_required"]),
            (
                "tolerance",
                "%s%%" % p["underpayment_tolerance"] if p.get("underpayment_tolerance", "0") != "0" else None,
            ),
            ("callback url", p.get("callback_url")),
            ("redirect url", p.get("redirect_url")),
            ("created", p["created_at"]),
            ("expires", p["expires_at"] or "never"),
            ("paid", p.get("paid_at")),
        ]
    )
    if p["transactions"]:
        print()
        table(
            [
                (t["txid"], t["vout"], t["amount"], t["confirmations"], t["status"], t["first_seen"])
                for t in p["transactions"]
            ],
            ["TXID", "VOUT", "AMOUNT", "CONF", "STATUS", "FIRST SEEN"],
        )
    if p.get("status_history"):
        print()
        table([(h["at"], h["status"], h.get("cause") or "") for h in p["status_history"]], ["AT", "STATUS", "CAUSE"])


def _checkout_line(url):
    """The page to send the customer to; a relative one says how to make it whole."""
    if url and url.startswith("/"):
        return "%s (relative: set [server] public_url for a full link)" % url
    return url


def _price_line(p):
    sources = ", ".join(sorted({s["source"] for s in p.get("rate_sources") or ()}))
    return "%s %s at %s %s/%s (%s; rate of %s)" % (
        p["price"],
        p["price_currency"],
        p["rate"],
        p["price_currency"],
        p["currency"],
        sources,
        p["rate_at"],
    )
