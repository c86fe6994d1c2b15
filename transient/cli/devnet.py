"""``transient devnet``: a private Litecoin Core regtest network to take a first payment on."""

import argparse
import os

from .. import settings
from ..core.money import parse_amount, to_decimal
from ..devnet.workspace import DEFAULT_DIR, Devnet
from .util import OK, CommandError, daemon_answers, fields, open_runtime, print_json, require_daemon

DIR_ENV = "TRANSIENT_DEVNET_DIR"


def register(sub, common):
    devnet = sub.add_parser(
        "devnet",
        parents=[common],
        help="a private regtest network to try Transient on",
        description="A private Litecoin Core regtest node (needs litecoind) with a funded "
        "payer wallet, wired to the daemon, and a config transientd runs with.",
    )
    actions = devnet.add_subparsers(dest="action", metavar="ACTION", required=True)
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "--dir",
        default=os.environ.get(DIR_ENV) or DEFAULT_DIR,
        help="the devnet's directory (default: $%s or ./%s)" % (DIR_ENV, DEFAULT_DIR),
    )
    parents = [common, where]

    up = actions.add_parser(
        "up",
        parents=parents,
        help="start the node and write the daemon's config",
        description="Start the regtest node (the first time: create the wallets and mine "
        "mature coins), wire its walletnotify and blocknotify to the daemon, and write "
        "config.toml for transientd and this CLI.",
    )
    up.add_argument("--api-port", type=_port, help="port of the daemon's API (default 8080, or a free one)")
    up.set_defaults(func=cmd_up)

    down = actions.add_parser("down", parents=parents, help="stop the node (its chain and wallets are kept)")
    down.add_argument("--purge", action="store_true", help="also delete the devnet's directory")
    down.set_defaults(func=cmd_down)

    status = actions.add_parser("status", parents=parents, help="is the devnet running; where are its files")
    status.set_defaults(func=cmd_status)

    pay = actions.add_parser("pay", parents=parents, help="pay a payment from the devnet's payer wallet")
    pay.add_argument("id", help="payment id")
    pay.add_argument("amount", nargs="?", help="amount to send (default: what is due)")
    pay.add_argument(
        "--offline", action="store_true", help="pay even though transientd is not running (it sees it once started)"
    )
    pay.set_defaults(func=cmd_pay)

    mine = actions.add_parser("mine", parents=parents, help="mine blocks (confirms what is in the mempool)")
    mine.add_argument("blocks", nargs="?", type=_count, default=1, help="how many (default 1)")
    mine.set_defaults(func=cmd_mine)

    reorg = actions.add_parser(
        "reorg",
        parents=parents,
        help="replace the top blocks with a longer empty branch",
        description="Replace the top DEPTH blocks with DEPTH+1 empty ones: their "
        "transactions go back to the mempool, and payments back to PENDING.",
    )
    reorg.add_argument("depth", nargs="?", type=_count, default=1, help="how many blocks (default 1)")
    reorg.set_defaults(func=cmd_reorg)


def _count(text):
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError("expected a whole number from 1 to 1000, got %r" % text)
    return int(text)


def _port(text):
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError("expected a TCP port, got %r" % text)
    return int(text)


def running_node(devnet):
    """Return the node of a running devnet, or raise telling how to start it."""
    node = devnet.node()
    if not node.running:
        raise CommandError("the devnet in %s is not running: run `transient devnet up`" % devnet.directory)
    return node


def cmd_up(args):
    devnet = Devnet(args.dir)
    state, started = devnet.up(args.api_port)
    if args.json:
        print_json(
            dict(
                _public(state),
                started=started,
                directory=devnet.directory,
                config=devnet.config_path,
                api_url=devnet.api_url,
            )
        )
        return OK
    print(
        "devnet %s: Litecoin Core regtest node (pid %d), RPC on 127.0.0.1:%d, files in %s"
        % ("up" if started else "already running", state["pid"], state["rpc_port"], devnet.directory)
    )
    print("config for transientd and the CLI: %s (API on %s)" % (devnet.config_path, devnet.api_url))
    print()
    print("Start the daemon on it (in the foreground; Ctrl-C stops it):")
    print("  %s" % devnet.start_line())
    print("then take a payment, in another terminal:")
    print("  export TRANSIENT_CONFIG=%s" % devnet.config_path)
    print("  transient payments create --currency %s --amount 1.5" % devnet.CURRENCY)
    print("  transient payments watch ID &   # follows the payment live")
    print("  transient devnet pay ID         # the customer pays, from the payer wallet")
    print("  transient devnet mine           # one confirmation: the payment is PAID")
    return OK


def cmd_down(args):
    devnet = Devnet(args.dir)
    daemon_stopped = devnet.stop_daemon()
    url = devnet.api_url if devnet.state is not None else None
    other = not daemon_stopped and url is not None and daemon_answers(url, timeout=1)
    was_running = devnet.down(purge=args.purge)
    if args.json:
        print_json(
            {
                "stopped": was_running,
                "purged": args.purge,
                "directory": devnet.directory,
                "daemon_stopped": daemon_stopped,
                "daemon_still_running": other,
            }
        )
        return OK
    if daemon_stopped:
        print("transientd stopped (the one ./scripts/run started on this devnet)")
    if other:
        print(
            "transientd still runs at %s (not started by ./scripts/run here): stop it where it runs"
            % url.removeprefix("http://")
        )
    print(
        "devnet %s%s"
        % ("stopped" if was_running else "was not running", "; %s deleted" % devnet.directory if args.purge else "")
    )
    return OK


def cmd_status(args):
    devnet = Devnet(args.dir)
    if devnet.state is None:
        raise CommandError("no devnet in %s: run `transient devnet up`" % devnet.directory)
    node = devnet.node()
    info = dict(
        _public(devnet.state),
        running=node.running,
        directory=devnet.directory,
        config=devnet.config_path,
        api_url=devnet.api_url,
    )
    if node.running:
        info["height"] = node.rpc("getblockcount")
        info["payer_balance"] = str(node.rpc("getbalance", wallet=devnet.PAYER))
    if args.json:
        print_json(info)
    else:
        fields(
            [
                ("running", "yes (pid %d)" % info["pid"] if node.running else "no"),
                ("height", info.get("height")),
                ("payer balance", info.get("payer_balance")),
                ("rpc", "127.0.0.1:%d" % info["rpc_port"]),
                ("config", info["config"]),
                ("api", info["api_url"]),
                ("directory", info["directory"]),
            ]
        )
    return OK if node.running else 1


def cmd_pay(args):
    devnet = Devnet(args.dir)
    node = running_node(devnet)
    config = settings.load(devnet.config_path)
    if not args.offline:
        require_daemon(config, "--offline")
    with open_runtime(config) as runtime:
        payment = runtime.payments.get(args.id)
        if payment.currency != devnet.CURRENCY:
            raise CommandError(
                "payment %s is in %s; the devnet pays %s" % (payment.id, payment.currency, devnet.CURRENCY)
            )
        rendered = runtime.payments.renderer.render(payment, with_history=False)
        backend = runtime.backends[devnet.CURRENCY]
    amount = args.amount if args.amount is not None else rendered["amount_due"]
    units = parse_amount(amount, "AMOUNT", backend.max_money, backend.decimals, allow_zero=args.amount is None)
    if units == 0:
        raise CommandError(
            "payment %s has nothing due (%s): give an AMOUNT to send more" % (payment.id, rendered["status"])
        )
    txid = node.pay(rendered["payment_address"], to_decimal(units, backend.decimals), wallet=devnet.PAYER)
    if args.json:
        print_json({"txid": txid, "address": rendered["payment_address"], "amount": amount, "payment": str(payment.id)})
    else:
        print("sent %s %s to %s" % (amount, devnet.CURRENCY, rendered["payment_address"]))
        print("txid %s (in the mempool: `transient devnet mine` confirms it)" % txid)
    return OK


def cmd_mine(args):
    devnet = Devnet(args.dir)
    node = running_node(devnet)
    hashes = node.mine(args.blocks, wallet=devnet.PAYER)
    height = node.rpc("getblockcount")
    if args.json:
        print_json({"blocks": hashes, "height": height})
    else:
        print("mined %d block(s); the tip is now %d (%s)" % (len(hashes), height, hashes[-1]))
    return OK


def cmd_reorg(args):
    devnet = Devnet(args.dir)
    node = running_node(devnet)
    height = node.rpc("getblockcount")
    if args.depth >= height:
        raise CommandError("cannot replace %d blocks of a chain %d high" % (args.depth, height), 2)
    before = len(node.rpc("getrawmempool"))
    node.reorg(args.depth, replace=True)
    back = len(node.rpc("getrawmempool")) - before
    tip = node.rpc("getblockcount")
    if args.json:
        print_json(
            {
                "depth": args.depth,
                "from_height": height - args.depth + 1,
                "height": tip,
                "transactions_back_in_mempool": back,
            }
        )
    else:
        print(
            "replaced blocks %d-%d with %d empty block(s); the tip is now %d"
            % (height - args.depth + 1, height, args.depth + 1, tip)
        )
        print("%d transaction(s) back in the mempool (`transient devnet mine` confirms them again)" % back)
    return OK


def _public(state):
    return {k: v for k, v in state.items() if k != "rpc_password"}
