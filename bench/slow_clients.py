"""Slow clients: what transientd's worker (requests read on the event loop, then a thread)
costs against gunicorn's gthread, and what stalled clients do to each.

Serves the bare Falcon app of bench/_bare_app.py under both workers, one after the other
in the same run (same threads): keep-alive GET throughput with bench/_loadgen.py (the
baseline ratio: buffering / gthread), then the latency of GET /healthz on a fresh
connection while ``--stalled`` connections are open that sent part of their headers or
body and stopped (a request that does not answer within 5 s counts as 5 s).

    python bench/slow_clients.py --seconds 5 --stalled 200
"""

import argparse
import socket
import tempfile
import time

import _loadgen
from _harness import Bare, percentile, print_table

STALL = [
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: a",
    b'POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"cu',
]


def healthz_ms(port, timeout=5.0):
    t0 = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if not s.recv(65536).startswith(b"HTTP/1.1 200"):
                return timeout * 1000
    except OSError:
        return timeout * 1000
    return (time.perf_counter() - t0) * 1000


def measure(tmp, worker, args):
    with Bare(tmp, 1, args.threads, worker=worker) as bare:
        rate, _, errors = _loadgen.run(
            "127.0.0.1", bare.port, [_loadgen.request("GET", "/payments/x")], args.connections, args.seconds
        )
        stalled = []
        for i in range(args.stalled):
            s = socket.create_connection(("127.0.0.1", bare.port), timeout=5)
            s.sendall(STALL[i % 2])
            stalled.append(s)
        time.sleep(0.5)
        lat = [healthz_ms(bare.port) for _ in range(args.probes)]
        for s in stalled:
            s.close()
    return rate, lat


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5, help="duration of each throughput run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--stalled", type=int, default=200, help="stalled connections held open")
    parser.add_argument("--probes", type=int, default=10, help="GET /healthz requests while they are open")
    parser.add_argument("--rounds", type=int, default=2, help="alternations of the two workers")
    parser.add_argument("--smoke", action="store_true", help="tiny size: proves the bench runs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.seconds, args.stalled, args.probes, args.rounds = 1, 20, 3, 1
    got = {"gthread": ([], []), "buffering": ([], [])}
    with tempfile.TemporaryDirectory(prefix="transient-bench-") as tmp:
        for _ in range(args.rounds):
            for worker in ("gthread", "buffering"):
                rate, lat = measure(tmp, worker, args)
                got[worker][0].append(rate)
                got[worker][1].extend(lat)
    base = sum(got["gthread"][0]) / len(got["gthread"][0])
    rows = []
    for worker in ("gthread", "buffering"):
        rates, lat = got[worker]
        rate = sum(rates) / len(rates)
        rows.append((worker, rate, rate / base * 100, percentile(lat, 50), max(lat)))
    print_table(
        "Bare app, 1 worker x %d threads: keep-alive GET (%d connections, %gs x %d), then GET /healthz"
        " with %d stalled connections open (5000 ms: no answer)"
        % (args.threads, args.connections, args.seconds, args.rounds, args.stalled),
        ["worker", "req/s", "% of gthread", "healthz p50 ms", "healthz max ms"],
        rows,
        ["%s", "%.0f", "%.0f%%", "%.1f", "%.1f"],
    )


if __name__ == "__main__":
    main()
