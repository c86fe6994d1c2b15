"""Detection latency: transaction broadcast -> payment PENDING, with walletnotify and without.

A litecoind regtest node and a real transientd (SQLite by default). The bench creates
N payments through the API and signs one transaction for each beforehand; then it
broadcasts them one at a time (``--interval`` apart) and watches the database for each
payment turning PENDING (a read every few milliseconds). Twice: with walletnotify and
blocknotify wired to the daemon through the shipped ``transient-notify`` script, once
more with walletnotify on the line for volume of docs/guides/walletnotify.md (the node's shell takes the ping
turn with flock before Python starts), and, as the baseline measured in the same run,
with no notify at all (the daemon's fallback poll every ``--poll`` seconds, its default).

    python bench/detect_latency.py --n 200 --json latency.json
"""

import argparse
import os
import tempfile
import threading
import time
from decimal import Decimal

import requests
from _harness import BenchNode, fund, percentile, print_table, sign_payments, start_daemon, wait_until, write_json

from transient.core import status as S
from transient.devnet.node import find_free_port, notify_command
from transient.store.db import open_database
from transient.store.models import Payment

AMOUNT = Decimal("0.001")


def watch(db, ids, seen, stop):
    """Record the monotonic time each payment of ``ids`` is first seen PENDING."""
    waiting = set(ids)
    while waiting and not stop.is_set():
        found = (
            Payment.select(Payment.id)
            .where(Payment.id.in_(list(waiting)[:500]) & (Payment.status == S.PENDING))
            .tuples()
        )
        now = time.monotonic()
        for (pid,) in found:
            seen[pid] = now
            waiting.discard(pid)
        time.sleep(0.002)


def run(node, args, tmp, wiring, outpoints):
    """``wiring``: "script", "gated" (the line for volume) or None (poll only)."""
    port = find_free_port()
    url = "http://127.0.0.1:%d" % port
    lock = os.path.join(tmp, "notify-%d.lock" % port) if wiring == "gated" else None
    node.walletnotify = notify_command("transaction", "LTC", url, lock=lock) if wiring else None
    node.blocknotify = notify_command("block", "LTC", url) if wiring else None
    node.restart()
    wallet = node.create_wallet("shop-%s" % (wiring or "poll"))
    db_url = "sqlite:///%s" % os.path.join(tmp, "%s.db" % wallet)
    daemon = start_daemon(tmp, db_url, node.coin_config(wallet, "transientd", poll=args.poll), port=port)
    db = open_database(db_url)
    try:
        session = requests.Session()
        pays = [
            session.post(daemon.base + "/payments", json={"currency": "LTC", "amount": str(AMOUNT)}, timeout=60).json()[
                "payment"
            ]
            for _ in range(args.n)
        ]
        raws = sign_payments(node, "funder", outpoints, [(p["payment_address"], AMOUNT) for p in pays])
        rpc = node.client()
        ids = [Payment.id.python_value(p["id"]) for p in pays]
        seen, sent, stop = {}, {}, threading.Event()
        watcher = threading.Thread(target=watch, args=(db, ids, seen, stop), daemon=True)
        watcher.start()
        for pid, raw in zip(ids, raws):
            sent[pid] = time.monotonic()
            rpc.call("sendrawtransaction", raw)
            time.sleep(args.interval)
        wait_until(lambda: len(seen) == len(ids), args.poll * 3 + 30)
        stop.set()
        watcher.join()
        rpc.close()
        node.mine(1)  # leave an empty mempool for the next run
    finally:
        daemon.kill()
        db.close()
    latencies = [seen[pid] - sent[pid] for pid in ids if pid in seen]
    return {
        "n": args.n,
        "detected": len(latencies),
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "max_ms": max(latencies) * 1000 if latencies else None,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="payments, paid one transaction at a time")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between two broadcasts")
    parser.add_argument("--poll", type=int, default=5, help="the daemon's poll interval (its default: 5 s)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--smoke", action="store_true", help="tiny size: proves the bench runs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.poll = 10, 2
    results = {}
    with tempfile.TemporaryDirectory(prefix="transient-bench-") as tmp:
        node = BenchNode(os.path.join(tmp, "node"), users=("transientd",))
        node.start()
        try:
            node.setup()
            node.create_wallet("funder")
            outpoints = fund(node, "funder", 3 * args.n, AMOUNT + Decimal("0.00001"))
            results["walletnotify"] = run(node, args, tmp, "script", outpoints[: args.n])
            results["walletnotify, line for volume"] = run(node, args, tmp, "gated", outpoints[args.n : 2 * args.n])
            results["poll only"] = run(node, args, tmp, None, outpoints[2 * args.n :])
        finally:
            node.stop()
    base = results["poll only"]
    rows = [
        (name, r["detected"], r["n"], r["p50_ms"], r["p99_ms"], r["max_ms"], base["p99_ms"] / r["p99_ms"])
        for name, r in results.items()
    ]
    print_table(
        "detection latency: broadcast -> PENDING, %d payments, one every %gs (poll every %ds)"
        % (args.n, args.interval, args.poll),
        ["wiring", "detected", "of", "p50 ms", "p99 ms", "max ms", "p99 vs poll only"],
        rows,
        ["%s", "%d", "%d", "%.0f", "%.0f", "%.0f", "%.1fx"],
    )
    write_json(args.json, results)


if __name__ == "__main__":
    main()
