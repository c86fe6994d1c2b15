"""Webhook dispatch: deliveries per second to a loopback receiver.

Queues N events (4 per payment) in a fresh database through the real outbox, then
drains them with the real Dispatcher at several pool sizes. The baseline, timed in
the same run, is how a one-try gateway sends: one delivery at a time, a new HTTP
connection and a commit for each. The receiver runs in its own process (a threaded
HTTP/1.1 server with keep-alive); ``--latency`` makes it answer after that many
milliseconds, as a real merchant application does.

    python bench/webhooks.py --n 10000
    python bench/webhooks.py --n 10000 --db postgresql://postgres@127.0.0.1:5432/test
"""

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from _outbox_load import fill  # noqa: E402

from transient.delivery.dispatcher import Dispatcher
from transient.delivery.sender import Sender  # noqa: E402
from transient.devnet.node import find_free_port  # noqa: E402
from transient.store import migrations  # noqa: E402
from transient.store.db import open_database, write_transaction  # noqa: E402
from transient.store.models import Delivery  # noqa: E402


def serve(port, latency_ms, counter):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # answer in one go, as production servers do

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if latency_ms:
                time.sleep(latency_ms / 1000)
            with counter.get_lock():
                counter.value += 1
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    server.serve_forever()


class Receiver:
    def __init__(self, latency_ms):
        self.port = find_free_port()
        self.count = multiprocessing.Value("q", 0)
        self.proc = multiprocessing.Process(target=serve, args=(self.port, latency_ms, self.count), daemon=True)

    def __enter__(self):
        self.proc.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                requests.post(self.url, data=b"{}", timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("the receiver did not start")

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.join()

    @property
    def url(self):
        return "http://127.0.0.1:%d/hook" % self.port


def one_at_a_time(db, limit):
    """The baseline: take one pending delivery, post it on a new connection, commit."""
    sent = 0
    started = time.perf_counter()
    while sent < limit:
        d = Delivery.select().where(Delivery.state == Delivery.PENDING).order_by(Delivery.id).first()
        if d is None:
            break
        resp = requests.post(d.url, data=d.body.encode(), headers={"Content-Type": "application/json"}, timeout=10)
        with write_transaction(db):
            Delivery.update(
                state=Delivery.DELIVERED if resp.ok else Delivery.FAILED, attempts=1, last_status=resp.status_code
            ).where(Delivery.id == d.id).execute()
        sent += 1
    return sent, time.perf_counter() - started


def dispatched(db, concurrency, limit):
    """The real Dispatcher (threads, keep-alive, leases, batched records) until ``limit`` are done."""
    dispatcher = Dispatcher(db, Sender("bench-secret", 10), [1], concurrency).start()
    started = time.perf_counter()
    while dispatcher.sent < limit:
        time.sleep(0.002)
    seconds = time.perf_counter() - started
    dispatcher.stop()
    return dispatcher.sent, seconds


def run(db, latency, n, baseline_n, pools):
    rows = []
    with Receiver(latency) as receiver:
        fill_s = fill(db, receiver.url, n)
        base_n = min(n, baseline_n)
        sent, seconds = one_at_a_time(db, base_n)
        base_rate = sent / seconds
        rows.append(("one at a time (baseline)", latency, sent, seconds, base_rate, 1.0))
        for pool in pools:
            fill(db, receiver.url, n)
            # A slow receiver caps a small pool: time it on fewer deliveries.
            sent, seconds = dispatched(db, pool, n if not latency else min(n, base_n * pool))
            rows.append(
                ("dispatcher, pool %d" % pool, latency, sent, seconds, sent / seconds, (sent / seconds) / base_rate)
            )
        delivered = receiver.count.value - 1  # minus the start-up probe
    return rows, fill_s, delivered


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10000, help="events queued per run")
    parser.add_argument("--baseline-n", type=int, default=2000, help="deliveries timed for the baseline")
    parser.add_argument("--latency", type=int, action="append", help="receiver latency in ms (repeatable)")
    parser.add_argument("--pools", default="1,8,32", help="dispatcher pool sizes")
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--smoke", action="store_true", help="tiny size: proves the bench runs (CI)")
    args = parser.parse_args()
    latencies = args.latency or [0, 20]
    pools = [int(p) for p in args.pools.split(",")]
    if args.smoke:
        args.n, args.baseline_n, latencies, pools = 200, 100, [0], [1, 8]
    with tempfile.TemporaryDirectory(prefix="transient-bench-") as tmp:
        url = args.db or "sqlite:///%s" % os.path.join(tmp, "bench.db")
        db = open_database(url)
        migrations.apply(db)
        rows, fills = [], []
        for latency in latencies:
            # With a slow receiver the baseline is timed on fewer deliveries (its rate is what counts).
            base_n = args.baseline_n if not latency else max(50, args.baseline_n // (latency // 2 + 1))
            got, fill_s, delivered = run(db, latency, args.n, base_n, pools)
            rows += got
            fills.append((latency, fill_s))
        db.close()
    print("database: %s; %d events queued per run (4 per payment)" % (url.split(":")[0], args.n))
    for _latency, fill_s in fills:
        print("queueing %d events through the outbox: %.2f s (%.0f events/s)" % (args.n, fill_s, args.n / fill_s))
    print("%-26s %8s %10s %9s %12s %9s" % ("sender", "latency", "delivered", "seconds", "deliveries/s", "vs base"))
    for name, latency, sent, seconds, rate, ratio in rows:
        print("%-26s %6dms %10d %9.2f %12.0f %8.1fx" % (name, latency, sent, seconds, rate, ratio))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                [dict(zip(("sender", "latency_ms", "delivered", "seconds", "per_second", "ratio"), r)) for r in rows],
                fh,
                indent=2,
            )


if __name__ == "__main__":
    main()
