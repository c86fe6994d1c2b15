"""A burst of creates: 2 000 POST /payments at 32 keep-alive clients, default config with
a prefilled address pool, on SQLite and PostgreSQL (issue 25's load figure).

The baseline, in the same run: the anchor of bench/api_throughput.py (a bare Falcon app
under transientd's own master and worker, answering the daemon's own create body). The
two are loaded in turn, ``--rounds`` bursts each of ``--total / --rounds`` requests, so
both see the same machine. A 503 (the pool ran dry and the node was slow) or any other
error is counted, not hidden.

    python bench/post_burst.py

On SQLite a second daemon, on a file of its own, runs with ``[database] group_commit``
off, loaded in the same turns: what the group commit changes.
"""

import argparse
import json
import os
import tempfile

import _loadgen
from _harness import Bare, BenchNode, database_url, percentile, print_table, start_daemon, wait_until, write_json

BODY = json.dumps({"currency": "LTC", "amount": "0.001", "metadata": {"order": "order-1"}}).encode()


def pool_size(daemon):
    return daemon.get("/healthz").json()["coins"]["LTC"]["address_pool"]


def bursts(ports, args):
    """``--rounds`` bursts on each of ``ports`` in turn; return name -> figures."""
    got = {name: ([], [], []) for name in ports}
    for _ in range(args.rounds):
        for name, port in ports.items():
            raw = [_loadgen.request("POST", "/payments", BODY)]
            rate, latencies, errors = _loadgen.run(
                "127.0.0.1", port, raw, args.clients, 600, total=args.total // args.rounds
            )
            got[name][0].append(rate)
            got[name][1].extend(latencies)
            got[name][2].extend(errors)
    return {
        name: {
            "per_s": sum(rates) / len(rates),
            "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
            "max_ms": max(latencies) * 1000,
            "requests": len(latencies),
            "503": errors.count(503),
            "other_errors": len(errors) - errors.count(503),
        }
        for name, (rates, latencies, errors) in got.items()
    }


def measure(tmp, node, wallet, kind, args):
    """The bursts on the anchor and the daemon over a fresh database of ``kind``; on
    SQLite also on a second daemon (a file of its own) with group commit off."""
    extra = "address_pool = %d\nrpc_timeout = 60" % args.pool
    coins = node.coin_config(wallet, "transientd", poll=5, extra=extra)
    variants = {"transient": None}
    if kind == "sqlite":
        variants["group commit off"] = {"TRANSIENT_DATABASE_GROUP_COMMIT": "false"}
    daemons, drops = {}, []
    try:
        for name, env in variants.items():
            url, drop = database_url(kind, tmp, name)
            drops.append(drop)
            daemons[name] = start_daemon(tmp, url, coins, env=env)
        for daemon in daemons.values():
            if not wait_until(lambda d=daemon: pool_size(d) >= args.pool, 1800, 0.5):
                raise RuntimeError("the address pool did not fill")
        created = daemons["transient"].post("/payments", data=BODY, headers={"Content-Type": "application/json"})
        with Bare(tmp, 1, 8, worker="daemon", bodies={"post": created.json()}) as bare:
            return bursts({"anchor": bare.port, **{n: d.port for n, d in daemons.items()}}, args)
    finally:
        for daemon in daemons.values():
            daemon.kill()
        for drop in drops:
            drop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--total", type=int, default=2000, help="POSTs per app")
    parser.add_argument("--clients", type=int, default=32, help="keep-alive clients")
    parser.add_argument("--rounds", type=int, default=4, help="bursts per app, taken in turn")
    parser.add_argument("--pool", type=int, default=2500, help="address_pool, filled before the bursts")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--smoke", action="store_true", help="tiny size, SQLite only (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.total, args.clients, args.rounds, args.pool, args.databases = 100, 8, 1, 150, "sqlite"
    results = {}
    with tempfile.TemporaryDirectory(prefix="transient-bench-") as tmp:
        node = BenchNode(os.path.join(tmp, "node"), users=("transientd",))
        node.start()
        try:
            node.setup()
            wallet = node.create_wallet("shop")
            for kind in args.databases.split(","):
                results[kind] = measure(tmp, node, wallet, kind, args)
        finally:
            node.stop()
    rows = []
    for kind, got in results.items():
        ref = got["anchor"]
        for name, mine in got.items():
            rows.append(
                ("%s, %s" % (kind, name), mine["per_s"], mine["p50_ms"], mine["p99_ms"], mine["max_ms"], mine["503"])
                + (mine["other_errors"], mine["per_s"] / ref["per_s"] * 100)
            )
    print_table(
        "%d POST /payments at %d keep-alive clients per app, in %d bursts taken in turn; pool %d"
        % (args.total, args.clients, args.rounds, args.pool),
        ["app", "req/s", "p50 ms", "p99 ms", "max ms", "503", "other errors", "share of anchor"],
        rows,
        ["%s", "%.0f", "%.1f", "%.1f", "%.0f", "%d", "%d", "%.0f%%"],
    )
    write_json(args.json, results)


if __name__ == "__main__":
    main()
