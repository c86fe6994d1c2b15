"""What the metrics and the lifecycle lines cost: a sync of a block that pays N payments,
and in-process GETs of a payment, each with and without them (the baseline: the same
work with ops.lifecycle and the HTTP metrics turned off, measured in the same run).

Counters are written as under transientd (prometheus_client's multiprocess files, a
fresh directory) and the lines as JSON to a file, the daemon's format.

    .venv/bin/python bench/observability_cost.py [--payments 2000] [--gets 2000] [--smoke]
"""

import argparse
import atexit
import itertools
import logging
import os
import pathlib
import shutil
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the FakeBackend runtime of the unit tests
_RUN = tempfile.mkdtemp(prefix="transient-bench-metrics-")
atexit.register(shutil.rmtree, _RUN, True)
os.mkdir(os.path.join(_RUN, "metrics"))
os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(_RUN, "metrics")  # before prometheus_client loads

import logging.config  # noqa: E402

from fakes import fake_runtime  # noqa: E402

from transient.delivery import outbox  # noqa: E402
from transient.ops import lifecycle, logs, metrics  # noqa: E402

_DB = itertools.count(1)  # a fresh database file for each run


def sync_block(workdir, payments, observed):
    """Seconds of the one sync that sees a block paying ``payments`` payments."""
    client, runtime = fake_runtime(pathlib.Path(workdir), db_name="bench-%s.db" % next(_DB))
    try:
        backend = runtime.backends["LTC"]
        ids = [runtime.payments.create({"currency": "LTC", "amount": "0.001"})[0] for _ in range(payments)]
        runtime.syncers["LTC"].run()
        backend.pay_many({runtime.payments.get(pid).address: 100_000 for pid in ids})
        backend.mine(1)
        with switched(observed):
            started = time.perf_counter()
            runtime.syncers["LTC"].run()
            return time.perf_counter() - started
    finally:
        runtime.close()


def gets(workdir, count, observed):
    """Seconds of ``count`` in-process GETs of one payment (the read cache answers)."""
    client, runtime = fake_runtime(pathlib.Path(workdir), db_name="get-%s.db" % next(_DB))
    try:
        pid = runtime.payments.create({"currency": "LTC", "amount": "1"})[0]
        path = "/payments/%s" % pid
        client.simulate_get(path)
        with switched(observed):
            started = time.perf_counter()
            for _ in range(count):
                client.simulate_get(path)
            return time.perf_counter() - started
    finally:
        runtime.close()


class switched:
    """With ``observed`` False, the lifecycle lines and counters and the HTTP metrics are off."""

    def __init__(self, observed):
        self.observed = observed

    def __enter__(self):
        self.saved = (outbox.lifecycle.committed, metrics.http_request)
        if not self.observed:
            outbox.lifecycle.committed = lambda items: None
            metrics.http_request = lambda *args: None

    def __exit__(self, *exc):
        outbox.lifecycle.committed, metrics.http_request = self.saved


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--payments", type=int, default=2000, help="payments the block pays")
    parser.add_argument("--gets", type=int, default=2000, help="GETs of a payment")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (median), after a warm-up")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves the bench runs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.payments, args.gets, args.repeat = 50, 100, 1
    with tempfile.TemporaryDirectory(prefix="transient-bench-") as workdir:
        config = logs.config("json", "INFO")
        config["handlers"]["stderr"] = {
            "class": "logging.FileHandler",
            "filename": os.path.join(workdir, "daemon.log"),
            "formatter": "transient",
            "filters": ["access", "redact"],
        }
        logging.config.dictConfig(config)
        assert lifecycle.log.isEnabledFor(logging.INFO)
        rows = []
        for what, run, size in (
            ("sync of a block paying %d" % args.payments, sync_block, args.payments),
            ("%d GET /payments/{id}" % args.gets, gets, args.gets),
        ):
            run(workdir, size, observed=True)  # warm-up: imports, first connections, caches
            base, seen = [], []
            for _ in range(args.repeat):  # alternated, so a drift of the machine hits both
                base.append(run(workdir, size, observed=False))
                seen.append(run(workdir, size, observed=True))
            rows.append((what, statistics.median(base), statistics.median(seen)))
        lines = sum(1 for _ in open(os.path.join(workdir, "daemon.log")))
    print("%-32s %14s %14s %12s" % ("what", "baseline ms", "observed ms", "vs baseline"))
    for what, base, seen in rows:
        print("%-32s %14.1f %14.1f %11.2fx" % (what, base * 1000, seen * 1000, seen / base))
    print("(%d JSON lines written by the observed runs; counters in multiprocess files)" % lines)


if __name__ == "__main__":
    main()
