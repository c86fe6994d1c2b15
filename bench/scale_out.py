"""Scale out: 1, 2 and 3 daemons on one PostgreSQL database against 1 daemon on SQLite.

Each daemon is a transientd of its own (process tree, config, port, lease holder: as
separate hosts would run them; tests/_cluster.py) on one litecoind regtest node. Phases:

- API: POST /payments, then GET /payments/{id}, from one load generator per daemon
  (bench/_loadgen.py: keep-alive connections, one request in flight each), for
  ``--seconds`` each: requests per second of the whole fleet, p50/p99 latency.
- block: ``--block`` payments paid (sendmany, in the mempool first), then one block
  pays them all: seconds from the block to all PAID, with 1 and 3 daemons.
- outbox: ``--events`` events queued through the real outbox, drained to a loopback
  receiver by 1 and by 3 webhook dispatchers, each in its own process.

On a machine with few cores the daemons share them, so each phase also reports the CPU
seconds every daemon (master and workers, from /proc) or dispatcher spent, per 1 000
payments (or events): the figure that predicts a machine per daemon. The baseline of
every row, measured in the same run: 1 daemon on SQLite for the API, 1 daemon on
PostgreSQL for the block, 1 dispatcher for the outbox.

    python bench/scale_out.py --json scale.json
    python bench/scale_out.py --smoke
"""

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

# The cluster harness of the tests (tests/_cluster.py), as bench/_harness.py does.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))

import _loadgen  # noqa: E402
from _cluster import Cluster  # noqa: E402
from _harness import BenchNode, percentile, print_table, process_tree, start_daemon, wait_until, write_json  # noqa: E402
from _outbox_load import fill  # noqa: E402
from _pgbouncer import fresh_database  # noqa: E402
from webhooks import Receiver  # noqa: E402

from transient.core import status as S  # noqa: E402
from transient.delivery.dispatcher import Dispatcher  # noqa: E402
from transient.delivery.sender import Sender  # noqa: E402
from transient.store import migrations  # noqa: E402
from transient.store.db import open_database  # noqa: E402
from transient.store.models import Delivery, Payment  # noqa: E402

BODY = json.dumps({"currency": "LTC", "amount": "0.001", "account": "order-1"}).encode()
PG_ADMIN = os.environ.get("TRANSIENT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU seconds of ``pid`` and its children (gunicorn's master and workers)."""
    total = 0
    for p in process_tree(pid):
        try:
            with open("/proc/%d/stat" % p) as fh:
                fields = fh.read().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / TICK


class Fleet:
    """``n`` daemons on SQLite (n = 1) or on one fresh PostgreSQL database."""

    def __init__(self, node, wallet, tmp, n, db, pool):
        coins = node.coin_config(wallet, "transientd", poll=5, extra="address_pool = %d" % pool)
        self.cluster = None
        if db == "sqlite":
            url = "sqlite:///%s" % os.path.join(tmp, "%s.db" % wallet)
            self.daemons = [start_daemon(tmp, url, coins, threads=8)]
        else:
            self.cluster = Cluster(coins, bouncer=False, threads=8, log_level="WARNING").start(n)
            self.daemons = self.cluster.daemons
            url = self.cluster.direct_url
        self.db = open_database(url)
        self.pool = pool

    def cpu(self):
        return [cpu_seconds(d.proc.pid) for d in self.daemons]

    def wait_pool(self, at_least):
        def full():
            return self.daemons[0].get("/healthz").json()["coins"]["LTC"]["address_pool"] >= at_least

        if not wait_until(full, 600, 0.2):
            raise RuntimeError("the address pool did not fill")

    def close(self):
        self.db.close()
        if self.cluster is not None:
            self.cluster.stop()
        else:
            for d in self.daemons:
                d.kill()


def load(fleet, raw_for, connections, seconds):
    """One load generator per daemon at once; return the fleet's figures and CPU per daemon."""
    share = max(1, connections // len(fleet.daemons))
    before = fleet.cpu()
    with ThreadPoolExecutor(len(fleet.daemons)) as pool:
        runs = list(pool.map(lambda d: _loadgen.run("127.0.0.1", d.port, raw_for(d), share, seconds), fleet.daemons))
    cpu = [a - b for a, b in zip(fleet.cpu(), before)]
    latencies = [x for _, lat, _ in runs for x in lat]
    errors = [e for _, _, errs in runs for e in errs]
    return {
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "per_s": sum(rate for rate, _, _ in runs),
        "requests": len(latencies),
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "cpu_per_daemon": cpu,
        "cpu_s_per_1000": sum(cpu) / len(latencies) * 1000 if latencies else float("nan"),
    }


def api_phase(node, tmp, args, db, n):
    wallet = node.create_wallet("api-%s-%d" % (db, n))
    fleet = Fleet(node, wallet, tmp, n, db, args.pool)
    try:
        # Full: a POST that finds the pool empty asks the node, whose RPC queue then says busy (503).
        fleet.wait_pool(args.pool - 100)
        post = load(fleet, lambda d: [_loadgen.request("POST", "/payments", BODY)], args.connections, args.seconds)
        ids = [str(i) for (i,) in Payment.select(Payment.id).limit(500).tuples()]
        get = load(
            fleet, lambda d: [_loadgen.request("GET", "/payments/%s" % i) for i in ids], args.connections, args.seconds
        )
    finally:
        fleet.close()
    return {"post": post, "get": get}


def block_phase(node, tmp, args, n):
    wallet = node.create_wallet("block-%d" % n)
    # Twice the block: after the creates the pool is still half full, so no refill (2 000
    # getnewaddress calls and inserts) runs during the block.
    fleet = Fleet(node, wallet, tmp, n, "pg", 2 * args.block)
    try:
        fleet.wait_pool(2 * args.block - 100)
        with ThreadPoolExecutor(8) as pool:
            pays = list(
                pool.map(
                    lambda i: fleet.daemons[i % n].create(currency="LTC", amount="0.001")["payment_address"],
                    range(args.block),
                )
            )
        for start in range(0, len(pays), 500):
            node.sendmany({a: Decimal("0.001") for a in pays[start : start + 500]})

        def count(status):
            return Payment.select().where(Payment.status == status).count()

        for d in fleet.daemons:
            d.post("/notify/LTC/transaction/%s" % ("0" * 64))
        if not wait_until(lambda: count(S.PENDING) == args.block, 600, 0.1):
            raise RuntimeError("the payments did not turn PENDING")
        before = fleet.cpu()
        mined = time.monotonic()
        block = node.mine(1)[0]
        for d in fleet.daemons:
            d.post("/notify/LTC/block/%s" % block)
        done = wait_until(lambda: count(S.PAID) == args.block, 600, 0.05)
        cpu = [a - b for a, b in zip(fleet.cpu(), before)]
    finally:
        fleet.close()
    return {
        "seconds": (done - mined) if done else float("nan"),
        "cpu_per_daemon": cpu,
        "cpu_s_per_1000": sum(cpu) / args.block * 1000,
    }


def _dispatch(url, stop_at, queue):
    """A dispatcher in a process of its own: drain until nothing is pending; report CPU."""
    db = open_database(url)
    dispatcher = Dispatcher(db, Sender("bench-secret", 10), [1], 8).start()
    while Delivery.select().where(Delivery.state == Delivery.PENDING).count() and time.monotonic() < stop_at:
        time.sleep(0.05)
    dispatcher.stop()
    usage = os.times()
    queue.put((dispatcher.sent, usage.user + usage.system))


def outbox_phase(args, receiver, k):
    name, drop = fresh_database(PG_ADMIN, prefix="transient_bench_")
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        db = open_database(url)
        migrations.apply(db)
        fill(db, receiver.url, args.events)
        db.close()
        queue = multiprocessing.Queue()
        procs = [multiprocessing.Process(target=_dispatch, args=(url, time.monotonic() + 600, queue)) for _ in range(k)]
        started = time.monotonic()
        for p in procs:
            p.start()
        results = [queue.get(timeout=700) for _ in procs]
        seconds = time.monotonic() - started
        for p in procs:
            p.join()
    finally:
        drop()
    sent = sum(s for s, _ in results)
    return {
        "seconds": seconds,
        "sent": sent,
        "per_s": sent / seconds,
        "cpu_per_dispatcher": [c for _, c in results],
        "cpu_s_per_1000": sum(c for _, c in results) / max(sent, 1) * 1000,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="duration of each API load run")
    parser.add_argument("--connections", type=int, default=24, help="keep-alive connections in all")
    parser.add_argument("--pool", type=int, default=12000, help="each fleet's address_pool for the POST run")
    parser.add_argument("--block", type=int, default=2000, help="payments one block pays")
    parser.add_argument("--events", type=int, default=10000, help="events the outbox drains")
    parser.add_argument("--phases", default="api,block,outbox", help="which phases to run (comma-separated)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--smoke", action="store_true", help="tiny size: proves the bench runs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.connections, args.pool, args.block, args.events = 0.5, 6, 700, 40, 400
    results = {"api": {}, "block": {}, "outbox": {}}
    phases = args.phases.split(",")
    with tempfile.TemporaryDirectory(prefix="transient-bench-") as tmp:
        os.chmod(tmp, 0o755)
        node = BenchNode(os.path.join(tmp, "node"), users=("transientd",))
        node.start()
        try:
            node.setup()
            for db, n in (("sqlite", 1), ("pg", 1), ("pg", 2), ("pg", 3)) if "api" in phases else ():
                results["api"]["%s x%d" % (db, n)] = api_phase(node, tmp, args, db, n)
            for n in (1, 3) if "block" in phases else ():
                results["block"][n] = block_phase(node, tmp, args, n)
        finally:
            node.stop()
    with Receiver(0) as receiver:
        for k in (1, 3) if "outbox" in phases else ():
            results["outbox"][k] = outbox_phase(args, receiver, k)
    report(results, args)
    write_json(args.json, results)


def report(results, args):
    if results["api"]:
        report_api(results, args)
    if results["block"]:
        report_block(results, args)
    if results["outbox"]:
        report_outbox(results, args)


def report_api(results, args):
    base = results["api"]["sqlite x1"]
    rows = []
    for name, r in results["api"].items():
        for kind in ("post", "get"):
            got, ref = r[kind], base[kind]
            rows.append(
                (
                    "%s %s" % ("POST /payments" if kind == "post" else "GET /payments/{id}", name),
                    got["per_s"],
                    got["per_s"] / ref["per_s"],
                    got["p50_ms"],
                    got["p99_ms"],
                    got["cpu_s_per_1000"],
                    " ".join("%.1f" % c for c in got["cpu_per_daemon"]),
                    got["errors"],
                )
            )
    rows.sort(key=lambda row: row[0])
    print_table(
        "API: %d connections in all, %gs per run; baseline: 1 daemon on SQLite" % (args.connections, args.seconds),
        [
            "request, database x daemons",
            "req/s",
            "vs SQLite x1",
            "p50 ms",
            "p99 ms",
            "CPU s/1000 (all)",
            "CPU s each",
            "errors",
        ],
        rows,
        ["%s", "%.0f", "%.2fx", "%.1f", "%.1f", "%.2f", "%s", "%d"],
    )


def report_block(results, args):
    b1 = results["block"][1]
    print_table(
        "block: one block pays %d payments -> all PAID (PostgreSQL); baseline: 1 daemon" % args.block,
        ["daemons", "seconds", "vs 1", "CPU s/1000 (all)", "CPU s each"],
        [
            (
                n,
                r["seconds"],
                b1["seconds"] / r["seconds"],
                r["cpu_s_per_1000"],
                " ".join("%.2f" % c for c in r["cpu_per_daemon"]),
            )
            for n, r in results["block"].items()
        ],
        ["%d", "%.2f", "%.2fx", "%.2f", "%s"],
    )


def report_outbox(results, args):
    o1 = results["outbox"][1]
    print_table(
        "outbox: %d events drained to a loopback receiver (PostgreSQL); baseline: 1 dispatcher" % args.events,
        ["dispatchers", "seconds", "events/s", "vs 1", "CPU s/1000 (all)", "CPU s each"],
        [
            (
                k,
                r["seconds"],
                r["per_s"],
                r["per_s"] / o1["per_s"],
                r["cpu_s_per_1000"],
                " ".join("%.1f" % c for c in r["cpu_per_dispatcher"]),
            )
            for k, r in results["outbox"].items()
        ],
        ["%d", "%.1f", "%.0f", "%.2fx", "%.2f", "%s"],
    )


if __name__ == "__main__":
    main()
