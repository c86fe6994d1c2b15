"""``transient wallet``: the node's watch-only wallet of a coin's xpub (init) and the
key's state: fingerprint, next index, registered range and gap (status)."""

from ..core.errors import ConfigError
from .util import OK, currency_arg, fields, load_config, open_runtime, print_json, usage


def register(sub, common):
    wallet = sub.add_parser(
        "wallet",
        parents=[common],
        help="the watch-only wallet of a coin's xpub",
        description="For coins with [coins.X] xpub or descriptor: Transient derives the "
        "addresses and the node's wallet, which holds no private key, watches them.",
    )
    actions = wallet.add_subparsers(dest="action", metavar="ACTION", required=True)
    init = actions.add_parser(
        "init", parents=[common], help="create the node's watch-only wallet, register the first range"
    )
    init.add_argument("coin", help="currency code, e.g. LTC")
    init.set_defaults(func=cmd_init)
    status = actions.add_parser("status", parents=[common], help="fingerprint, next index, registered range, gap")
    status.add_argument("coin", help="currency code, e.g. LTC")
    status.set_defaults(func=cmd_status)


def _pool(runtime, config, value):
    code = currency_arg(config.coins, value)
    pool = runtime.pools.get(code)
    if pool is None or not pool.watch_only:
        raise usage("%s has no watch-only key: set [coins.%s] xpub (or descriptor)" % (code, code))
    return code, pool


def cmd_init(args):
    config = load_config(args)
    with open_runtime(config) as runtime:
        code, pool = _pool(runtime, config, args.coin)
        name = config.coins[code]["wallet"]
        # A node of one wallet (Dogecoin Core 1.14) takes no name: its backend refuses one.
        if not name and getattr(pool.backend, "MULTIWALLET", True):
            raise ConfigError(
                "coins.%s.wallet: name the node's watch-only wallet for the key" % code, "coins.%s.wallet" % code
            )
        info = pool.backend.create_watch_wallet(name)
        pool.check_network()  # the key's network against the node's chain (ConfigError)
        pool.register(pool.key_row().next_index)  # the first range, before any address is handed out
        pool.refill()
        pool.check_wallet()  # the node derives what Transient derives, or ConfigError
        report = pool.gap_report() | {
            "wallet": name,
            "private_keys_enabled": info.get("private_keys_enabled"),
            "watch_only": pool.check_watch_only(),  # no key to the payment addresses, or ConfigError
            "import": pool.backend.watch_import(),
            "pooled": pool.available(),
        }
    _show(args, report)
    return OK


def cmd_status(args):
    config = load_config(args)
    with open_runtime(config) as runtime:
        _, pool = _pool(runtime, config, args.coin)
        report = pool.gap_report() | {"pooled": pool.available()}
    _show(args, report)
    return OK


def _show(args, report):
    if args.json:
        print_json(report)
        return
    shown = dict(report, wallet=report.get("wallet") or "the node's one wallet") if "wallet" in report else report
    pairs = [
        (key.replace("_", " "), shown[key])
        for key in (
            "wallet",
            "private_keys_enabled",
            "watch_only",
            "import",
            "fingerprint",
            "descriptor",
            "next_index",
            "pooled",
            "last_handed_out",
            "gap",
            "gap_limit",
        )
        if shown.get(key) is not None
    ]
    pairs.insert(
        pairs.index(("next index", report["next_index"])) + 1,
        ("registered", "indexes %d to %d" % (report["registered"][0], report["registered"][1] - 1)),
    )
    if report.get("skipped"):  # at a restore (transientd's start-up guard)
        skip = report["skipped"]
        pairs.append(
            (
                "skipped at a restore",
                "indexes %d to %d (%d), %s" % (skip["from"], skip["to"], skip["count"], skip["at"]),
            )
        )
    fields(pairs)
    if not report["gap_ok"]:
        print("WARNING: " + report["advice"])
