"""RPC calls per paid payment at the node, in a steady stream and in a burst (issue 19).

A litecoind regtest node with ``-debug=rpc`` (each call of a batch is one line of its
debug.log, with the RPC user) and walletnotify/blocknotify wired to a real transientd
through the shipped ``transient-notify`` script. Only the merchant's wallet is loaded
while payments arrive (the funding wallets are unloaded, as on a shop's node), so every
ping is one the daemon would get in production.

- stream: ``--n`` payments paid one transaction at a time, ``--interval`` apart, a block
  mined every ``--block-every`` payments; all PAID.
- burst: ``--n`` transactions broadcast at once, then one block; all PAID.

Measured per mode: the daemon's RPC calls (from the node's log, by method) per paid
payment, and the detection latency broadcast -> PENDING (p50, p99), and block -> PAID.
The daemon runs with its default ``sync_coalesce_ms`` and ``sync_quiet_ms`` (or
``--coalesce-ms``/``--quiet-ms``). The baseline, run in the same bench: the same daemon
with ``sync_coalesce_ms = 0`` (one sync per ping). Also printed: the seed design's figure
(one gettransaction per ping: two per payment) and the figure measured before issue 19
(300 payments in a stream, ~1 180 calls: listsinceblock + getblockchaininfo per ping,
two pings per payment).

    python bench/rpc_per_payment.py --n 300 --json rpc.json
"""

import argparse
import os
import tempfile
import threading
import time
from decimal import Decimal

import requests
from _harness import (
    BenchNode,
    broadcast,
    fund,
    percentile,
    print_table,
    sign_payments,
    start_daemon,
    wait_until,
    write_json,
)

from transient.core import status as S
from transient.devnet.node import find_free_port, notify_command
from transient.settings.coins import COIN_SETTINGS
from transient.store.db import open_database
from transient.store.models import Payment

AMOUNT = Decimal("0.001")
USER = "transientd"
SEED_PER_PAYMENT = 2.0  # the seed's design: one gettransaction per walletnotify ping, two pings per payment
BEFORE_PER_PAYMENT = 1180 / 300  # measured before issue 19: a stream of 300
DEFAULTS = {s.key: s.default for s in COIN_SETTINGS}


class Watcher(threading.Thread):
    """Records the monotonic time each payment is first seen PENDING (or later) and PAID."""

    def __init__(self, ids):
        super().__init__(daemon=True)
        self.ids = ids
        self.pending, self.paid = {}, {}
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set() and len(self.paid) < len(self.ids):
            rows = Payment.select(Payment.id, Payment.status).where(Payment.id.in_(self.ids)).tuples()
            now = time.monotonic()
            for pid, status in rows:
                if status != S.UNPAID:
                    self.pending.setdefault(pid, now)
                if status == S.PAID:
                    self.paid.setdefault(pid, now)
            time.sleep(0.005)


class Shop:
    """One daemon on its own wallet and SQLite file, with notify wired to it."""

    def __init__(self, node, tmp, spacing, name):
        port = find_free_port()
        url = "http://127.0.0.1:%d" % port
        node.walletnotify = notify_command("transaction", "LTC", url)
        node.blocknotify = notify_command("block", "LTC", url)
        node.restart()
        node.load_wallets()
        self.wallet = node.create_wallet(name)
        db_url = "sqlite:///%s" % os.path.join(tmp, "%s.db" % name)
        coalesce_ms, quiet_ms = spacing
        extra = "address_pool = 0\nsync_coalesce_ms = %d\nsync_quiet_ms = %d\n" % (coalesce_ms, quiet_ms)
        self.daemon = start_daemon(tmp, db_url, node.coin_config(self.wallet, USER, poll=30, extra=extra), port=port)
        self.db = open_database(db_url)
        self.session = requests.Session()

    def create(self, n):
        url = self.daemon.base + "/payments"
        body = {"currency": "LTC", "amount": str(AMOUNT)}
        pays = [self.session.post(url, json=body, timeout=60).json()["payment"] for _ in range(n)]
        return pays, [Payment.id.python_value(p["id"]) for p in pays]

    def close(self):
        self.daemon.kill()
        self.db.close()


def only_merchant(node, keep):
    """Unload every wallet but ``keep``: their transactions would ping the daemon too."""
    for name in node.rpc("listwallets"):
        if name != keep:
            node.rpc("unloadwallet", name)


def run(node, args, tmp, outpoints, spacing, mode):
    shop = Shop(node, tmp, spacing, "shop-%s-%d-%d" % (mode, *spacing))
    try:
        pays, ids = shop.create(args.n)
        raws = sign_payments(node, "funder", outpoints, [(p["payment_address"], AMOUNT) for p in pays])
        miner = node.rpc("getnewaddress", "", wallet="payer")
        only_merchant(node, shop.wallet)
        rpc = node.client()
        watcher = Watcher(ids)
        watcher.start()
        offset = node.log_offset()
        sent, blocks = {}, {}
        if mode == "stream":
            for i, (pid, raw) in enumerate(zip(ids, raws)):
                sent[pid] = time.monotonic()
                rpc.call("sendrawtransaction", raw)
                if (i + 1) % args.block_every == 0 or i + 1 == len(ids):
                    rpc.call("generatetoaddress", 1, miner)
                    blocks.update(
                        {p: time.monotonic() for p in ids[max(0, i + 1 - args.block_every) : i + 1] if p not in blocks}
                    )
                time.sleep(args.interval)
        else:
            start = time.monotonic()
            broadcast(node, raws)
            sent = dict.fromkeys(ids, start)
            wait_until(lambda: len(watcher.pending) == len(ids), 120)
            rpc.call("generatetoaddress", 1, miner)
            blocks = dict.fromkeys(ids, time.monotonic())
        done = wait_until(lambda: len(watcher.paid) == len(ids), 120)
        watcher.stop.set()
        watcher.join()
        time.sleep(1)  # let the last syncs' calls reach the log
        calls = node.rpc_calls(offset, USER)
        rpc.close()
        node.load_wallets()
    finally:
        shop.close()
    detect = [watcher.pending[p] - sent[p] for p in ids if p in watcher.pending]
    paid = [watcher.paid[p] - blocks[p] for p in ids if p in watcher.paid and p in blocks]
    total = sum(calls.values())
    return {
        "mode": mode,
        "coalesce_ms": spacing[0],
        "quiet_ms": spacing[1],
        "n": len(ids),
        "paid": len(watcher.paid),
        "complete": done is not None,
        "calls": calls,
        "calls_total": total,
        "calls_per_payment": total / len(ids),
        "pending_p50_ms": percentile(detect, 50) * 1000,
        "pending_p99_ms": percentile(detect, 99) * 1000,
        "paid_p99_ms": percentile(paid, 99) * 1000,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300, help="payments per run")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between two payments of the stream")
    parser.add_argument("--block-every", type=int, default=20, help="a block every this many payments of the stream")
    parser.add_argument(
        "--coalesce-ms", type=int, default=DEFAULTS["sync_coalesce_ms"], help="sync_coalesce_ms (default: its default)"
    )
    parser.add_argument(
        "--quiet-ms", type=int, default=DEFAULTS["sync_quiet_ms"], help="sync_quiet_ms (default: its default)"
    )
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--smoke", action="store_true", help="tiny size: proves the bench runs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.interval, args.block_every = 12, 0.2, 6
    spacings = ((args.coalesce_ms, args.quiet_ms), (0, args.quiet_ms))
    runs = [(mode, spacing) for mode in ("stream", "burst") for spacing in spacings]
    results = []
    with tempfile.TemporaryDirectory(prefix="transient-bench-") as tmp:
        node = BenchNode(os.path.join(tmp, "node"), users=(USER,))
        node.start()
        try:
            node.setup()
            node.create_wallet("funder")
            outpoints = fund(node, "funder", len(runs) * args.n, AMOUNT + Decimal("0.00001"))
            for i, (mode, spacing) in enumerate(runs):
                results.append(run(node, args, tmp, outpoints[i * args.n : (i + 1) * args.n], spacing, mode))
        finally:
            node.stop()
    report(results, args)
    write_json(args.json, results)


def report(results, args):
    base = {r["mode"]: r for r in results if r["coalesce_ms"] == 0}
    rows = []
    for r in results:
        b = base[r["mode"]]
        rows.append(
            (
                "%s, coalesce %d ms, quiet %d ms" % (r["mode"], r["coalesce_ms"], r["quiet_ms"]),
                r["paid"],
                r["n"],
                r["calls_total"],
                r["calls_per_payment"],
                b["calls_per_payment"] / r["calls_per_payment"] if r["calls_per_payment"] else float("nan"),
                BEFORE_PER_PAYMENT / r["calls_per_payment"] if r["calls_per_payment"] else float("nan"),
                r["pending_p50_ms"],
                r["pending_p99_ms"],
                r["paid_p99_ms"],
            )
        )
    print_table(
        "RPC calls per paid payment (node's -debug=rpc log), stream: one every %gs, a block every %d; burst: %d at once"
        % (args.interval, args.block_every, args.n),
        [
            "run",
            "paid",
            "of",
            "calls",
            "per payment",
            "vs 0 ms",
            "vs before",
            "PENDING p50 ms",
            "p99 ms",
            "PAID p99 ms",
        ],
        rows,
        ["%s", "%d", "%d", "%d", "%.2f", "%.1fx", "%.1fx", "%.0f", "%.0f", "%.0f"],
    )
    for r in results:
        print(
            "  %s, %d ms: %s"
            % (r["mode"], r["coalesce_ms"], ", ".join("%s %d" % kv for kv in sorted(r["calls"].items())))
        )
    print(
        "  baselines: before this change %.2f calls per payment (1 180 for 300 in a stream); the seed's design %.1f"
        % (BEFORE_PER_PAYMENT, SEED_PER_PAYMENT)
    )


if __name__ == "__main__":
    main()
