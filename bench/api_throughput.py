"""API throughput: GET /payments/{id} and POST /payments against a bare Falcon app.

Runs transientd (on SQLite by default, with a litecoind regtest node behind it) under
its own server config (gunicorn gthread, ``[server] workers`` and ``threads``), and a
load generator on loopback (bench/_loadgen.py: keep-alive connections, one request in
flight each, in its own process). The baseline, measured in the same run on the same
server config: a bare Falcon app answering a constant JSON body (bench/_bare_app.py).

POST takes its address from the pool (filled before the run, refilled in the
background): it never waits on the node. The last row shows POST with the pool
switched off (``address_pool = 0``: a getnewaddress round trip per payment).

    python bench/api_throughput.py --seconds 10 --json api.json
"""

import argparse
import json
import os
import random
import tempfile

import _loadgen
from _harness import Bare, BenchNode, percentile, print_table, start_daemon, wait_until, write_json

BODY = json.dumps({"currency": "LTC", "amount": "0.001", "account": "order-1"}).encode()


def load(port, raw, connections, seconds):
    rate, latencies, errors = _loadgen.run("127.0.0.1", port, raw, connections, seconds)
    if errors:
        raise RuntimeError("%d requests failed (first: HTTP %d)" % (len(errors), errors[0]))
    return {
        "per_s": rate,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "requests": len(latencies),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="duration of each load run")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections of the load generator")
    parser.add_argument("--workers", type=int, default=1, help="[server] workers (both apps)")
    parser.add_argument("--threads", type=int, default=8, help="[server] threads (both apps)")
    parser.add_argument("--pool", type=int, default=12000, help="the daemon's address_pool for the POST run")
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--smoke", action="store_true", help="tiny size: proves the bench runs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.pool, args.connections = 1, 600, 4
    results = {}
    with tempfile.TemporaryDirectory(prefix="transient-bench-") as tmp:
        with Bare(tmp, args.workers, args.threads) as bare:
            results["bare GET"] = load(
                bare.port, [_loadgen.request("GET", "/payments/x")], args.connections, args.seconds
            )
            results["bare POST"] = load(
                bare.port, [_loadgen.request("POST", "/payments", BODY)], args.connections, args.seconds
            )
        node = BenchNode(os.path.join(tmp, "node"), users=("transientd",))
        node.start()
        try:
            node.setup()
            wallet = node.create_wallet("shop")
            db_url = args.db or "sqlite:///%s" % os.path.join(tmp, "transient.db")
            for pool in (args.pool, 0):
                coins = node.coin_config(wallet, "transientd", poll=5, extra="address_pool = %d" % pool)
                # The second run also reads with the read cache off: every GET renders.
                daemon = start_daemon(
                    tmp,
                    db_url,
                    coins,
                    workers=args.workers,
                    threads=args.threads,
                    extra="" if pool else "[api]\nread_cache = 0\n",
                )
                try:
                    if pool:
                        full = wait_until(
                            lambda d=daemon, n=pool: d.get("/healthz").json()["coins"]["LTC"]["address_pool"] >= n,
                            300,
                            0.2,
                        )
                        if not full:
                            raise RuntimeError("the address pool did not fill")
                        ids = [daemon.create(currency="LTC", amount="0.001")["id"] for _ in range(200)]
                        random.shuffle(ids)
                        results["transient GET"] = load(
                            daemon.port,
                            [_loadgen.request("GET", "/payments/%s" % i) for i in ids],
                            args.connections,
                            args.seconds,
                        )
                        results["transient POST"] = load(
                            daemon.port, [_loadgen.request("POST", "/payments", BODY)], args.connections, args.seconds
                        )
                        results["transient POST"]["pool_left"] = daemon.get("/healthz").json()["coins"]["LTC"][
                            "address_pool"
                        ]
                    else:
                        ids = [daemon.create(currency="LTC", amount="0.001")["id"] for _ in range(200)]
                        random.shuffle(ids)
                        results["transient GET, no cache"] = load(
                            daemon.port,
                            [_loadgen.request("GET", "/payments/%s" % i) for i in ids],
                            args.connections,
                            args.seconds,
                        )
                        results["transient POST, no pool"] = load(
                            daemon.port, [_loadgen.request("POST", "/payments", BODY)], args.connections, args.seconds
                        )
                finally:
                    daemon.kill()
        finally:
            node.stop()
    rows = []
    for name, key, base in (
        ("GET /payments/{id}", "transient GET", "bare GET"),
        ("GET /payments/{id}, read cache off", "transient GET, no cache", "bare GET"),
        ("POST /payments", "transient POST", "bare POST"),
        ("POST /payments, no address pool", "transient POST, no pool", "bare POST"),
    ):
        got, ref = results[key], results[base]
        rows.append((name, got["per_s"], got["p50_ms"], got["p99_ms"], ref["per_s"], got["per_s"] / ref["per_s"] * 100))
    print_table(
        "API throughput: %d worker(s) x %d threads, %d keep-alive connections, %gs each"
        % (args.workers, args.threads, args.connections, args.seconds),
        ["request", "req/s", "p50 ms", "p99 ms", "bare app req/s", "% of bare"],
        rows,
        ["%s", "%.0f", "%.2f", "%.2f", "%.0f", "%.0f%%"],
    )
    print(
        "address pool left after the POST run: %d of %d (0: it ran dry, and the figure includes node round"
        " trips; raise --pool)" % (results["transient POST"]["pool_left"], args.pool)
    )
    write_json(args.json, results)


if __name__ == "__main__":
    main()
