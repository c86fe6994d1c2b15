"""Watch-only mode against node-wallet mode on a litecoind regtest node, in one run:

1. addresses made ready for payments: Transient deriving N addresses from an xpub and
   registering them with a keyless wallet (the pool's refill: the ranged descriptor in
   importmulti, LTC's path; and importmulti of each address and public key, DOGE's
   path), against the node's own ``getnewaddress`` (the node-wallet pool's refill,
   batched JSON-RPC) as the baseline;
2. POST /payments through the in-process API (Falcon TestClient) in both modes, with
   the pool filled beforehand, so neither mode waits on the node.

    python bench/watch_only.py              # 10 000 addresses, 500 payments
    python bench/watch_only.py --smoke      # 200 addresses, 50 payments
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from _watch import create_keyless_wallet, fresh_tpub  # noqa: E402
from falcon import testing  # noqa: E402

from transient import settings  # noqa: E402
from transient.chain import hdkeys  # noqa: E402
from transient.devnet.node import RegtestNode  # noqa: E402
from transient.payments.pool import AddressPool, WatchPool  # noqa: E402
from transient.runtime import Runtime  # noqa: E402
from transient.store import migrations  # noqa: E402
from transient.store.db import open_database  # noqa: E402
from transient.store.models import PooledAddress  # noqa: E402
from transient_litecoin import LitecoinBackend  # noqa: E402


def backend(cls, node, wallet, currency):
    return cls(
        currency,
        {
            "rpc_url": node.rpc_url,
            "rpc_user": node.rpc_user,
            "rpc_password": node.rpc_password,
            "wallet": wallet,
            "rpc_timeout": 600,
        },
    )


def timed_refill(pool):
    PooledAddress.delete().execute()  # each mode fills an empty pool
    start = time.perf_counter()
    added = pool.refill()
    return added, time.perf_counter() - start


def addresses(node, tmp, count):
    """Rows of (mode, seconds) for ``count`` addresses made ready in each mode."""
    rows = []
    db = open_database("sqlite:///%s" % os.path.join(tmp, "addresses.db"))
    migrations.apply(db)
    node_wallet = node.create_wallet("bench_node")
    pool = AddressPool("LTC", backend(LitecoinBackend, node, node_wallet, "LTC"), db, count)
    rows.append(("node wallet: getnewaddress (batched)",) + timed_refill(pool))
    watch = create_keyless_wallet(node, "bench_watch")
    pool = WatchPool(
        "LTC", backend(LitecoinBackend, node, watch, "LTC"), db, count, hdkeys.parse("LTC", fresh_tpub()), gap_limit=20
    )
    rows.append(("watch-only LTC: derive + importmulti ranged",) + timed_refill(pool))
    db.close()
    return rows


def runtime_for(node, tmp, wallet, xpub, pool_size):
    path = os.path.join(tmp, "%s.toml" % wallet)
    with open(path, "w") as fh:
        fh.write(
            '[database]\nurl = "sqlite:///%s"\n[coins.LTC]\nbackend = "litecoin"\nrpc_url = "%s"\n'
            'rpc_user = "%s"\nrpc_password = "%s"\nwallet = "%s"\naddress_pool = %d\n%s'
            % (
                os.path.join(tmp, wallet + ".db"),
                node.rpc_url,
                node.rpc_user,
                node.rpc_password,
                wallet,
                pool_size,
                'xpub = "%s"\n' % xpub if xpub else "",
            )
        )
    runtime = Runtime(settings.load(path, environ={}))
    migrations.apply(runtime.db)
    return runtime


def posts(node, tmp, count):
    """Rows of (mode, median ms, payments/s) for ``count`` POST /payments in each mode."""
    rows = []
    for mode, wallet, xpub in (
        ("node wallet", node.create_wallet("bench_api_node"), None),
        ("watch-only", create_keyless_wallet(node, "bench_api_watch"), fresh_tpub()),
    ):
        runtime = runtime_for(node, tmp, wallet, xpub, count + 10)
        runtime.pools["LTC"].refill()
        client = testing.TestClient(runtime.app())
        body = json.dumps({"currency": "LTC", "amount": "0.5"})
        times = []
        for _ in range(count):
            start = time.perf_counter()
            resp = client.simulate_post("/payments", body=body, headers={"Content-Type": "application/json"})
            times.append(time.perf_counter() - start)
            assert resp.status_code == 201, resp.text
        rows.append((mode, statistics.median(times) * 1000, count / sum(times)))
        runtime.close()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=10000)
    parser.add_argument("--payments", type=int, default=500)
    parser.add_argument("--smoke", action="store_true", help="small sizes: checks the bench runs")
    args = parser.parse_args()
    if args.smoke:
        args.addresses, args.payments = 200, 50
    with tempfile.TemporaryDirectory(prefix="transient-bench-") as tmp:
        node = RegtestNode(os.path.join(tmp, "node"))
        node.start()
        try:
            made = addresses(node, tmp, args.addresses)
            api = posts(node, tmp, args.payments)
        finally:
            node.stop()
    base = made[0][2]
    print("%-50s %8s %9s %10s %9s" % ("addresses ready for payments", "count", "seconds", "per second", "vs node"))
    for name, added, seconds in made:
        print("%-50s %8d %9.2f %10.0f %8.2fx" % (name, added, seconds, added / seconds, seconds / base))
    print()
    print("%-50s %8s %9s %10s %9s" % ("POST /payments (pool filled)", "count", "median ms", "per second", "vs node"))
    for name, median_ms, rate in api:
        print("%-50s %8d %9.2f %10.0f %8.2fx" % (name, args.payments, median_ms, rate, median_ms / api[0][1]))


if __name__ == "__main__":
    main()
