"""API throughput: GET /payments/{id} and POST /payments against a bare Falcon app.

Runs transientd (on SQLite by default, with a litecoind regtest node behind it) under
its own server config (its gunicorn worker, ``[server] workers`` and ``threads``), and a
load generator on loopback (bench/_loadgen.py: keep-alive connections, one request in
flight each, in its own process). The baseline, measured in the same run on the same
server config: a bare Falcon app answering a constant JSON body (bench/_bare_app.py).

GET is measured on two daemons side by side, on one database, loaded in turn
(``--rounds``), and POST on each in turn, from a full pool: transientd as it ships (its worker reads each request on
the event loop before a thread serves it, so slow clients cost no thread) and the same
daemon under gunicorn's plain gthread worker (bench/_gthread_daemon.py), what it ran
before; the ratio between them is printed below the table.

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


def pool_size(daemon):
    return daemon.get("/healthz").json()["coins"]["LTC"]["address_pool"]


def alternate(results, kind, daemons, raw, args):
    """Load runs of ``raw`` on each daemon in turn, ``--rounds`` times, each a share of
    ``--seconds``: both daemons see the same machine (other load, the pool's refill)."""
    got = {suffix: ([], []) for suffix in daemons}
    for _ in range(args.rounds):
        for suffix, daemon in daemons.items():
            rate, latencies, errors = _loadgen.run(
                "127.0.0.1", daemon.port, raw, args.connections, args.seconds / args.rounds
            )
            if errors:
                raise RuntimeError("%d requests failed (first: HTTP %d)" % (len(errors), errors[0]))
            got[suffix][0].append(rate)
            got[suffix][1].extend(latencies)
    for suffix, (rates, latencies) in got.items():
        results["transient %s%s" % (kind, suffix)] = {
            "per_s": sum(rates) / len(rates),
            "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
            "requests": len(latencies),
        }


def side_by_side_gets(results, tmp, node, wallet, db_url, args):
    """GET on transientd as it ships and on the same daemon under plain gthread, side by
    side on one database, loaded in turn; no pool and polls far apart, so that neither
    works in the background while loaded."""
    coins = node.coin_config(wallet, "transientd", poll=600, extra="address_pool = 0")
    daemons = {}
    try:
        for suffix, worker in (("", None), (", gthread", "gthread")):
            daemons[suffix] = start_daemon(
                tmp, db_url, coins, workers=args.workers, threads=args.threads, worker=worker
            )
        ids = [daemons[""].create(currency="LTC", amount="0.001")["id"] for _ in range(200)]
        random.shuffle(ids)
        alternate(results, "GET", daemons, [_loadgen.request("GET", "/payments/%s" % i) for i in ids], args)
    finally:
        for daemon in daemons.values():
            daemon.kill()


def one_after_the_other_posts(results, tmp, node, wallet, db_url, args):
    """POST on each of the two, one after the other (two processes writing one SQLite file
    at once would measure its lock), each starting from a full pool."""
    coins = node.coin_config(wallet, "transientd", poll=5, extra="address_pool = %d" % args.pool)
    for suffix, worker in (("", None), (", gthread", "gthread")):
        daemon = start_daemon(tmp, db_url, coins, workers=args.workers, threads=args.threads, worker=worker)
        try:
            if not wait_until(lambda d=daemon: pool_size(d) >= args.pool, 300, 0.2):
                raise RuntimeError("the address pool did not fill")
            post = results["transient POST" + suffix] = load(
                daemon.port, [_loadgen.request("POST", "/payments", BODY)], args.connections, args.seconds
            )
            post["pool_left"] = pool_size(daemon)
        finally:
            daemon.kill()


def unpooled_run(results, tmp, node, wallet, db_url, args):
    """No address pool (a getnewaddress per POST) and no read cache (every GET renders)."""
    coins = node.coin_config(wallet, "transientd", poll=5, extra="address_pool = 0")
    daemon = start_daemon(
        tmp, db_url, coins, workers=args.workers, threads=args.threads, extra="[api]\nread_cache = 0\n"
    )
    try:
        ids = [daemon.create(currency="LTC", amount="0.001")["id"] for _ in range(200)]
        random.shuffle(ids)
        gets = [_loadgen.request("GET", "/payments/%s" % i) for i in ids]
        results["transient GET, no cache"] = load(daemon.port, gets, args.connections, args.seconds)
        results["transient POST, no pool"] = load(
            daemon.port, [_loadgen.request("POST", "/payments", BODY)], args.connections, args.seconds
        )
    finally:
        daemon.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="duration of each load run")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections of the load generator")
    parser.add_argument("--workers", type=int, default=1, help="[server] workers (both apps)")
    parser.add_argument("--threads", type=int, default=8, help="[server] threads (both apps)")
    parser.add_argument("--pool", type=int, default=12000, help="the daemons' address_pool for the POST runs")
    parser.add_argument("--rounds", type=int, default=4, help="turns of the two GET daemons in --seconds")
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--smoke", action="store_true", help="tiny size: proves the bench runs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.pool, args.connections, args.rounds = 1, 600, 4, 1
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
            side_by_side_gets(results, tmp, node, wallet, db_url, args)
            one_after_the_other_posts(results, tmp, node, wallet, db_url, args)
            unpooled_run(results, tmp, node, wallet, db_url, args)
        finally:
            node.stop()
    rows = []
    for name, key, base in (
        ("GET /payments/{id}", "transient GET", "bare GET"),
        ("GET /payments/{id}, read cache off", "transient GET, no cache", "bare GET"),
        ("GET /payments/{id}, under gthread", "transient GET, gthread", "bare GET"),
        ("POST /payments", "transient POST", "bare POST"),
        ("POST /payments, under gthread", "transient POST, gthread", "bare POST"),
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
    for kind in ("GET", "POST"):
        mine, base = results["transient %s" % kind], results["transient %s, gthread" % kind]
        ratio = mine["per_s"] / base["per_s"] * 100
        print(
            "%s: transientd's worker gives %.0f%% of the same daemon's throughput under plain gthread"
            " (p99 %.2f ms against %.2f ms)" % (kind, ratio, mine["p99_ms"], base["p99_ms"])
        )
    print(
        "address pool left after the POST runs: %d and %d of %d (0: it ran dry, and the figures include"
        " node round trips; raise --pool)"
        % (results["transient POST"]["pool_left"], results["transient POST, gthread"]["pool_left"], args.pool)
    )
    write_json(args.json, results)


if __name__ == "__main__":
    main()
