"""``transient payouts``: list, show, create, approve, cancel and send payouts through the
payouts service; ``transient payments refund`` makes a payment's refund."""

import sys

from ..payouts.service import by_cli
from .util import OK, CommandError, fields, load_config, open_runtime, print_json, table


def register(sub, common):
    payouts = sub.add_parser(
        "payouts",
        parents=[common],
        help="list, approve, cancel and send payouts (refunds)",
        description="Payouts: money Transient owes to an address, through the same service as the HTTP API.",
    )
    actions = payouts.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=[common], help="list payouts, newest first")
    listing.add_argument("--state", help="only payouts in this state, e.g. awaiting_approval")
    listing.add_argument("--currency", help="only this coin's")
    listing.add_argument("--limit", default="50", help="at most this many (1-500)")
    listing.add_argument(
        "--uris", action="store_true", help="print each payout's BIP21 URI only (to pay them from your own wallet)"
    )
    listing.set_defaults(func=cmd_list)
    show = actions.add_parser("show", parents=[common], help="show one payout")
    show.add_argument("id")
    show.set_defaults(func=cmd_show)
    create = actions.add_parser("create", parents=[common], help="record a payout (it awaits approval)")
    create.add_argument("--currency", required=True)
    create.add_argument("--amount", required=True, help="exact decimal amount, e.g. 0.5")
    create.add_argument("--destination", required=True, help="the address to pay (checked by the coin's node)")
    create.add_argument("--idempotency-key")
    create.set_defaults(func=cmd_create)
    approve = actions.add_parser("approve", parents=[common], help="approve a payout: it is sent next round")
    approve.add_argument("id")
    approve.set_defaults(func=lambda args: _change(args, "approve"))
    cancel = actions.add_parser("cancel", parents=[common], help="cancel a payout that is not being sent")
    cancel.add_argument("id")
    cancel.set_defaults(func=lambda args: _change(args, "cancel"))
    paid = actions.add_parser("mark-paid", parents=[common], help="mark a payout paid from elsewhere")
    paid.add_argument("id")
    paid.set_defaults(func=lambda args: _change(args, "mark_paid"))
    send = actions.add_parser(
        "send",
        parents=[common],
        help="run one round of the sender now (a batch left by a crash is looked up in the wallet first)",
    )
    send.set_defaults(func=cmd_send)
    psbt = actions.add_parser(
        "psbt", parents=[common], help="print a watch-only batch's unsigned PSBT (base64; no id: list the unsigned)"
    )
    psbt.add_argument("batch", nargs="?", help="batch id")
    psbt.set_defaults(func=cmd_psbt)
    submit = actions.add_parser(
        "submit", parents=[common], help="upload a batch's signed PSBT: checked, then broadcast"
    )
    submit.add_argument("batch", help="batch id")
    submit.add_argument("file", help="the signed PSBT, base64 (- reads it from standard input)")
    submit.set_defaults(func=cmd_submit)


def register_refund(actions, common):
    """``transient payments refund ID``: under ``transient payments``."""
    refund = actions.add_parser("refund", parents=[common], help="refund a payment (a pull payment to claim)")
    refund.add_argument("id", help="payment id")
    refund.add_argument(
        "--variant",
        default="RateThen",
        choices=["RateThen", "CurrentRate", "Fiat", "OverpaidAmount", "Custom"],
        help="how the amount is chosen (default RateThen: the coins the price was worth when paid)",
    )
    refund.add_argument("--amount", help="Custom: the coin amount; Fiat: the fiat amount")
    refund.add_argument("--currency", help="the currency of --amount (a coin or a fiat code)")
    refund.add_argument("--subtract-percentage", help="take this percentage off, e.g. 10")
    refund.add_argument("--destination", help="pay it to this address at once (a payout)")
    refund.set_defaults(func=cmd_refund)


def _print(args, rendered):
    if args.json:
        print_json(rendered)
    else:
        fields([(k, "" if v is None else v) for k, v in rendered.items() if not isinstance(v, dict)])


def cmd_list(args):
    with open_runtime(load_config(args)) as runtime:
        rows = runtime.payouts.list(args.state, args.currency, args.limit)
        rendered = [runtime.payouts.render(p) for p in rows]
    if args.json:
        print_json(rendered)
        return OK
    if args.uris:
        for p in rendered:
            print(p["uri"])
        return OK
    table(
        [(p["id"], p["currency"], p["amount"], p["state"], p["destination"], p["txid"] or "") for p in rendered],
        ["ID", "COIN", "AMOUNT", "STATE", "DESTINATION", "TXID"],
    )
    return OK


def cmd_show(args):
    with open_runtime(load_config(args)) as runtime:
        _print(args, runtime.payouts.render(runtime.payouts.get(args.id)))
    return OK


def cmd_create(args):
    body = {"currency": args.currency, "amount": args.amount, "destination": args.destination}
    with open_runtime(load_config(args)) as runtime:
        payout, created = runtime.payouts.create(body, args.idempotency_key)
        if not created:
            print("(an earlier payout with this idempotency key)", file=sys.stderr)
        _print(args, runtime.payouts.render(payout))
    return OK


def _change(args, action):
    with open_runtime(load_config(args)) as runtime:
        if action == "approve":
            payout = runtime.payouts.approve(args.id, by=by_cli())
        else:
            payout = getattr(runtime.payouts, action)(args.id)
        _print(args, runtime.payouts.render(payout))
    return OK


def cmd_send(args):
    with open_runtime(load_config(args)) as runtime:
        if not any(sender for sender, _, _ in runtime.payout_runner.coins.values()):
            raise CommandError("no coin sends payouts here: set [payouts] fee_rate_cap for a node-wallet coin")
        try:
            if not runtime.payout_runner.round():
                raise CommandError("another process is sending payouts now (it holds the payouts lease): try again")
        finally:
            runtime.payout_runner.stop()  # gives the lease back at once
    return OK


def cmd_refund(args):
    body = {"variant": args.variant}
    for key, value in (
        ("amount", args.amount),
        ("currency", args.currency),
        ("subtract_percentage", args.subtract_percentage),
        ("destination", args.destination),
    ):
        if value is not None:
            body[key] = value
    with open_runtime(load_config(args)) as runtime:
        pull, payout, _ = runtime.refunds.refund(args.id, body)
        rendered = runtime.payouts.render_pull(pull)
        if payout is not None:
            rendered["payout"] = runtime.payouts.render(payout)
    if args.json:
        print_json(rendered)
    else:
        _print(args, rendered)
    return OK


def cmd_psbt(args):
    with open_runtime(load_config(args)) as runtime:
        batches = runtime.payout_batches
        if args.batch is None:
            rows = [batches.render(b) for b in batches.list("unsigned")]
            if args.json:
                print_json(rows)
            else:
                table(
                    [(b["id"], b["currency"], len(b["payouts"]), b["created_at"]) for b in rows],
                    ["BATCH", "COIN", "PAYOUTS", "MADE"],
                )
            return OK
        batch = batches.render(batches.get(args.batch))
    if batch["psbt"] is None:
        raise CommandError("batch %s is %s: it has no PSBT to sign" % (batch["id"], batch["state"]), code=2)
    if args.json:
        print_json(batch)
    else:
        print(batch["psbt"])
    return OK


def cmd_submit(args):
    try:
        text = sys.stdin.read() if args.file == "-" else open(args.file, encoding="ascii").read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError("cannot read %s: %s" % (args.file, getattr(exc, "strerror", None) or exc), code=2) from None
    with open_runtime(load_config(args)) as runtime:
        batch = runtime.payout_batches.submit(args.batch, text.strip())
        _print(args, runtime.payout_batches.render(batch))
    return OK
