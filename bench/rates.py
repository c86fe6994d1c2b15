"""Fiat rates: what a price costs on the hot path, and what N daemons ask the exchanges.

1. POST /payments with a price (``price`` + ``price_currency``: one indexed read of the
   stored quotes, the median, the conversion) against POST with an amount, on the same
   daemon in the same run (amount, priced, amount again; the baseline is the mean of the
   two amount runs). The priced create should cost at most 10 % more.
2. N transientd processes on one database, their sources (kraken, coinbase, bitstamp)
   pointed at a local exchange server that counts requests: the per-pair lease makes
   it one request per source per refresh interval for the whole cluster, not N. The
   baseline is the same count with one daemon, in the same run.

    python bench/rates.py --seconds 10 --daemons 3 --interval 5
"""

import argparse
import json
import os
import sys
import tempfile
import time

import _loadgen
from _harness import BenchNode, percentile, print_table, start_daemon, wait_until, write_json

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from _exchange import Exchange  # noqa: E402

AMOUNT = json.dumps({"currency": "LTC", "amount": "0.001", "account": "order-1"}).encode()
PRICED = json.dumps({"currency": "LTC", "price": "19.99", "price_currency": "USD", "account": "order-1"}).encode()
SOURCES = ("kraken", "coinbase", "bitstamp")


def rates_config(exchange, interval, max_age):
    return '[rates]\nfiat = ["USD"]\nrefresh_interval = %d\nmax_age = %d\n' % (interval, max_age) + "".join(
        '[rates.%s]\nurl = "%s"\n' % (n, exchange.url(n)) for n in SOURCES
    )


def load(port, body, connections, seconds):
    rate, latencies, errors = _loadgen.run(
        "127.0.0.1", port, [_loadgen.request("POST", "/payments", body)], connections, seconds
    )
    if errors:
        raise RuntimeError("%d requests failed (first: HTTP %d)" % (len(errors), errors[0]))
    return {"per_s": rate, "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000}


def hot_path(tmp, node, wallet, exchange, args):
    coins = node.coin_config(wallet, "transientd", poll=5, extra="address_pool = %d\nrpc_timeout = 60" % args.pool)
    daemon = start_daemon(
        tmp,
        "sqlite:///%s" % os.path.join(tmp, "hot.db"),
        coins,
        threads=args.threads,
        extra=rates_config(exchange, 60, 3600),
    )
    try:
        if not wait_until(lambda: daemon.get("/healthz").json()["coins"]["LTC"]["address_pool"] >= args.pool, 600, 0.2):
            raise RuntimeError("the address pool did not fill")
        if not wait_until(lambda: daemon.get("/rates/LTC/USD").status_code == 200, 60, 0.2):
            raise RuntimeError("no rate: %s" % daemon.get("/rates/LTC/USD").text)
        runs = {
            "amount": load(daemon.port, AMOUNT, args.connections, args.seconds),
            "priced": load(daemon.port, PRICED, args.connections, args.seconds),
            "amount again": load(daemon.port, AMOUNT, args.connections, args.seconds),
        }
        runs["pool_left"] = daemon.get("/healthz").json()["coins"]["LTC"]["address_pool"]
        return runs
    finally:
        daemon.kill()


def cluster(tmp, node, wallet, exchange, count, args):
    """Start ``count`` daemons on one database; return exchange requests per minute per source."""
    db = "sqlite:///%s" % os.path.join(tmp, "cluster-%d.db" % count)
    coins = node.coin_config(wallet, "transientd", poll=30, extra="address_pool = 0")
    daemons = [start_daemon(tmp, db, coins, threads=2, extra=rates_config(exchange, args.interval, 3600))]
    try:
        for _ in range(count - 1):
            daemons.append(start_daemon(tmp, db, coins, threads=2, extra=rates_config(exchange, args.interval, 3600)))
        exchange.requests.clear()
        started = time.monotonic()
        time.sleep(args.window)
        minutes = (time.monotonic() - started) / 60
        return {name: exchange.requests[name] / minutes for name in SOURCES}
    finally:
        for daemon in daemons:
            daemon.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="duration of each POST load run")
    parser.add_argument("--connections", type=int, default=8, help="keep-alive connections of the load generator")
    parser.add_argument("--threads", type=int, default=8, help="[server] threads")
    parser.add_argument("--pool", type=int, default=8000, help="the daemon's address_pool (all three runs)")
    parser.add_argument("--daemons", type=int, default=3, help="daemons in the cluster run")
    parser.add_argument("--interval", type=int, default=5, help="[rates] refresh_interval of the cluster run")
    parser.add_argument("--window", type=float, default=30, help="seconds the exchange's requests are counted")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--smoke", action="store_true", help="tiny size: proves the bench runs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.pool, args.connections, args.daemons, args.interval, args.window = 1, 800, 2, 2, 2, 6
    exchange = Exchange().start()
    exchange.set("LTC/USD", "80.10", only=["kraken"])
    exchange.set("LTC/USD", "80.20", only=["coinbase"])
    exchange.set("LTC/USD", "80.40", only=["bitstamp"])
    results = {}
    with tempfile.TemporaryDirectory(prefix="transient-bench-") as tmp:
        node = BenchNode(os.path.join(tmp, "node"), users=("transientd",))
        node.start()
        try:
            node.setup()
            wallet = node.create_wallet("shop")
            results["hot path"] = hot_path(tmp, node, wallet, exchange, args)
            results["1 daemon"] = cluster(tmp, node, wallet, exchange, 1, args)
            results["%d daemons" % args.daemons] = cluster(tmp, node, wallet, exchange, args.daemons, args)
        finally:
            node.stop()
            exchange.stop()
    hot = results["hot path"]
    base = (hot["amount"]["per_s"] + hot["amount again"]["per_s"]) / 2
    rows = [
        (name, hot[key]["per_s"], hot[key]["p50_ms"], hot[key]["p99_ms"], base, base / hot[key]["per_s"] * 100 - 100)
        for name, key in (
            ("POST amount", "amount"),
            ("POST price (USD)", "priced"),
            ("POST amount, again", "amount again"),
        )
    ]
    print_table(
        "POST /payments, priced vs amount: 1 worker x %d threads, %d connections, %gs each"
        % (args.threads, args.connections, args.seconds),
        ["request", "req/s", "p50 ms", "p99 ms", "amount req/s (mean)", "cost vs amount"],
        rows,
        ["%s", "%.0f", "%.2f", "%.2f", "%.0f", "%+.1f%%"],
    )
    print("address pool left: %d of %d (0: it ran dry; raise --pool)" % (hot["pool_left"], args.pool))
    one, many = results["1 daemon"], results["%d daemons" % args.daemons]
    expected = 60 / args.interval
    rows = [
        (name, one[name], many[name], expected, many[name] / one[name] if one[name] else float("nan"))
        for name in SOURCES
    ]
    print_table(
        "Exchange requests per minute (1 pair, refresh_interval %ds, %gs window)" % (args.interval, args.window),
        ["source", "1 daemon", "%d daemons" % args.daemons, "expected", "ratio N/1"],
        rows,
        ["%s", "%.1f", "%.1f", "%.1f", "%.2f"],
    )
    write_json(args.json, results)


if __name__ == "__main__":
    main()
