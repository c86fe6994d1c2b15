"""Sending N approved payouts of one coin: in one sendmany (the sender's batch) against
one sendmany per payout (the same sender, batch_max = 1), in the same run (issue 27).

A litecoind regtest node with ``-debug=rpc``; each mode has its own shop wallet, funded
with one confirmed output, its own database and its own RPC user, so the node's log counts
each mode's calls. The one-by-one sends chain their change; a block every 50 sends keeps
that chain within the mempool's limits (a few ms each, counted in their time).
Measured per mode: the wall time of the sending rounds, the RPC calls at the node (by
method), the transactions made and the fees paid; each compared with the baseline.

    python bench/payouts.py --n 1000
    python bench/payouts.py --smoke        # 10 payouts, for CI (< 40 s)
"""

import argparse
import os
import tempfile
import time
from decimal import Decimal

from _harness import BenchNode, print_table, write_json

from transient import settings
from transient.runtime import Runtime
from transient.store import migrations
from transient.store.payouts import Payout


def shop(node, workdir, name, batch_max):
    """A runtime sending the payouts of wallet ``name`` as RPC user ``name``."""
    path = os.path.join(workdir, name + ".toml")
    with open(path, "w") as fh:
        fh.write(
            '[database]\nurl = "sqlite:///%s"\n[payouts]\nfee_rate_cap = { LTC = "20" }\nbatch_max = %d\n%s'
            % (
                os.path.join(workdir, name + ".db"),
                batch_max,
                node.coin_config(name, name, 60, "address_pool = 0\nrpc_timeout = 120"),
            )
        )
    runtime = Runtime(settings.load(path, environ={}))
    migrations.apply(runtime.db)
    return runtime


def approve(runtime, addresses, amount):
    for address in addresses:
        payout, _ = runtime.payouts.create({"currency": "LTC", "amount": amount, "destination": address})
        runtime.payouts.approve(payout.id)


def send_all(runtime, node, user):
    """Run sender rounds until nothing is left; return (seconds, rounds, RPC calls)."""
    sender, _, _ = runtime.payout_runner.coins["LTC"]
    offset = node.log_offset()
    started = time.perf_counter()
    rounds = 0
    while Payout.select().where(Payout.state == "approved").exists():
        sender.run()  # a round the node did not answer in time is looked up in the next one
        rounds += 1
        if rounds % 50 == 0:
            node.mine(1)  # the one-by-one sends chain their change: confirm it (mempool limits)
    seconds = time.perf_counter() - started
    return seconds, rounds, node.rpc_calls(offset, user)


def fees(node, wallet):
    sends = node.rpc("listtransactions", "*", 100000, 0, True, wallet=wallet)
    txids = {e["txid"]: e["fee"] for e in sends if e["category"] == "send"}
    return len(txids), -sum(txids.values(), Decimal(0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="payouts per mode")
    parser.add_argument("--smoke", action="store_true", help="10 payouts: a quick run for CI")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    n = 10 if args.smoke else args.n
    with tempfile.TemporaryDirectory() as workdir:
        node = BenchNode(os.path.join(workdir, "node"), users=["batched", "single"])
        node.start()
        try:
            node.setup()
            for wallet in ("batched", "single"):
                node.create_wallet(wallet)
                # One output each: a wallet of thousands of outputs makes every sendmany
                # slow (coin selection), which would flatter the batch.
                node.pay(node.rpc("getnewaddress", "", wallet=wallet), Decimal(n) / 1000 + 1)
            node.mine(1)
            node.create_wallet("customer")
            addresses = node.client("customer").batch([("getnewaddress", [])] * (2 * n))
            figures = {}
            # One mode after the other: the models' database is one per process.
            for name, batch_max, chosen in (("single", 1, addresses[n:]), ("batched", 1000, addresses[:n])):
                runtime = shop(node, workdir, name, batch_max)
                try:
                    approve(runtime, chosen, "0.001")
                    seconds, rounds, calls = send_all(runtime, node, name)
                finally:
                    runtime.close()
                txs, fee = fees(node, name)
                figures[name] = {"seconds": seconds, "rounds": rounds, "rpc": calls, "txs": txs, "fee": fee}
        finally:
            node.stop()
    base = figures["single"]
    rows = []
    for name, label in (("single", "one sendmany per payout (baseline)"), ("batched", "one sendmany per batch")):
        f = figures[name]
        calls = sum(f["rpc"].values())
        rows.append(
            (
                label,
                f["seconds"],
                f["seconds"] / base["seconds"],
                calls,
                calls / sum(base["rpc"].values()),
                f["txs"],
                f["fee"],
                f["fee"] / base["fee"],
            )
        )
    print_table(
        "%d approved LTC payouts, litecoind regtest (fee rate capped at 20 sat/vB)" % n,
        ["mode", "seconds", "x base", "RPC calls", "x base", "txs", "fees LTC", "x base"],
        rows,
        ["%s", "%.2f", "%.3f", "%d", "%.3f", "%d", "%s", "%.3f"],
    )
    for name in ("single", "batched"):
        print("%s RPC calls by method: %s" % (name, figures[name]["rpc"]))
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
