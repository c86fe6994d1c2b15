"""API throughput: GET /payments/{id} and POST /payments, each as a share of a bare app.

The anchor (bench/_bare_app.py) is a bare Falcon app served by transientd's own master
and worker (its Daemon class: the same gunicorn worker, ``[server] workers`` and
``threads``, timeouts, loggers), answering this run's daemon's own bodies from a dict:
the kept text of each payment for GET, a created payment's body for POST (after reading
the request's JSON). Whatever the daemon costs above it is Transient's.

Per database (SQLite, and PostgreSQL on a fresh database of the machine's server), one
daemon with a litecoind regtest node behind it and a full address pool (filled by the
daemon before the runs: creates never wait on the node); the anchor and
the daemon are loaded in turn, ``--rounds`` times each for GET then POST, with a load
generator on loopback (bench/_loadgen.py: keep-alive connections, one request in flight
each, in its own process): both see the same machine, whatever else runs on it.

    python bench/api_throughput.py --seconds 12 --json api.json
"""

import argparse
import json
import os
import random
import tempfile

import _loadgen
from _harness import Bare, BenchNode, database_url, percentile, print_table, start_daemon, wait_until, write_json

BODY = json.dumps({"currency": "LTC", "amount": "0.001", "metadata": {"order": "order-1"}}).encode()


def pool_size(daemon):
    return daemon.get("/healthz").json()["coins"]["LTC"]["address_pool"]


def alternate(ports, raw, args):
    """Load runs of ``raw`` on each of ``ports`` (name -> port) in turn, ``--rounds``
    times, each a share of ``--seconds``; return name -> figures."""
    got = {name: ([], []) for name in ports}
    for _ in range(args.rounds):
        for name, port in ports.items():
            rate, latencies, errors = _loadgen.run("127.0.0.1", port, raw, args.connections, args.seconds / args.rounds)
            if errors:
                raise RuntimeError("%s: %d requests failed (first: HTTP %d)" % (name, len(errors), errors[0]))
            got[name][0].append(rate)
            got[name][1].extend(latencies)
    return {
        name: {
            "per_s": sum(rates) / len(rates),
            "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000,
            "max_ms": max(latencies) * 1000,
            "requests": len(latencies),
        }
        for name, (rates, latencies) in got.items()
    }


def the_daemons_bodies(daemon, count):
    """``count`` payments made on ``daemon``: their GET bodies (as it serves them) and a
    create's answer, for the anchor to serve."""
    ids = [daemon.create(currency="LTC", amount="0.001")["id"] for _ in range(count)]
    created = daemon.post("/payments", data=BODY, headers={"Content-Type": "application/json"}).json()
    return ids, {"get": {i: daemon.get("/payments/%s" % i).text for i in ids}, "post": created}


def measure(tmp, node, wallet, db_url, args):
    """GET then POST on the daemon over ``db_url`` and on its anchor, in turn."""
    coins = node.coin_config(wallet, "transientd", poll=5, extra="address_pool = %d\nrpc_timeout = 60" % args.pool)
    daemon = start_daemon(tmp, db_url, coins, workers=args.workers, threads=args.threads)
    try:
        if not wait_until(lambda: pool_size(daemon) >= args.pool, 1800, 0.5):
            raise RuntimeError("the address pool did not fill")
        ids, bodies = the_daemons_bodies(daemon, 200)
        random.shuffle(ids)
        with Bare(tmp, args.workers, args.threads, worker="daemon", bodies=bodies) as bare:
            ports = {"anchor": bare.port, "transient": daemon.port}
            gets = alternate(ports, [_loadgen.request("GET", "/payments/%s" % i) for i in ids], args)
            # No wait for a refill: the keeper tops the pool up only below half.
            posts = alternate(ports, [_loadgen.request("POST", "/payments", BODY)], args)
        posts["transient"]["pool_left"] = pool_size(daemon)
    finally:
        daemon.kill()
    return {"GET": gets, "POST": posts}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=12, help="load per request kind and app, over the rounds")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections of the load generator")
    parser.add_argument("--workers", type=int, default=1, help="[server] workers (both apps)")
    parser.add_argument("--threads", type=int, default=8, help="[server] threads (both apps)")
    parser.add_argument("--pool", type=int, default=5000, help="the daemon's address_pool (filled before the runs)")
    parser.add_argument("--rounds", type=int, default=4, help="turns of the anchor and the daemon")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--smoke", action="store_true", help="tiny size, SQLite only: proves the bench runs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.pool, args.connections, args.rounds, args.databases = 1, 400, 4, 1, "sqlite"
    results, rows = {}, []
    with tempfile.TemporaryDirectory(prefix="transient-bench-") as tmp:
        node = BenchNode(os.path.join(tmp, "node"), users=("transientd",))
        node.start()
        try:
            node.setup()
            wallet = node.create_wallet("shop")
            for kind in args.databases.split(","):
                url, drop = database_url(kind, tmp)
                try:
                    results[kind] = measure(tmp, node, wallet, url, args)
                finally:
                    drop()
        finally:
            node.stop()
    for kind, figures in results.items():
        for request, name in (("GET", "GET /payments/{id}"), ("POST", "POST /payments")):
            got, ref = figures[request]["transient"], figures[request]["anchor"]
            rows.append(
                (kind, name, got["per_s"], got["p50_ms"], got["p99_ms"], got["max_ms"], ref["per_s"], ref["p99_ms"])
                + (got["per_s"] / ref["per_s"] * 100,)
            )
    print_table(
        "API throughput: %d worker(s) x %d threads, %d keep-alive connections, %gs per app and kind in %d rounds"
        % (args.workers, args.threads, args.connections, args.seconds, args.rounds),
        ["database", "request", "req/s", "p50 ms", "p99 ms", "max ms", "anchor req/s", "anchor p99", "share"],
        rows,
        ["%s", "%s", "%.0f", "%.2f", "%.2f", "%.0f", "%.0f", "%.2f", "%.0f%%"],
    )
    for kind, figures in results.items():
        print(
            "%s: address pool left after the POST runs: %d of %d (0: it ran dry, raise --pool)"
            % (kind, figures["POST"]["transient"]["pool_left"], args.pool)
        )
    write_json(args.json, results)


if __name__ == "__main__":
    main()
