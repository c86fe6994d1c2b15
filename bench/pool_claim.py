"""The address pool's claim at any pool size: time per claim with the partial index of the
unclaimed rows (migration 0010) against the same database without it, in the same run, on
SQLite and PostgreSQL, at pools of 1 000 and 50 000 unclaimed addresses.

Each claim is the daemon's own (``AddressPool.claim`` in a write transaction, as a create
takes it). The baseline drops the partial index and claims from the same pool: PostgreSQL
then sorts every unclaimed row of the coin on each claim.

    python bench/pool_claim.py                 # pools of 1 000 and 50 000, 500 claims each
    python bench/pool_claim.py --smoke
"""

import argparse
import datetime
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from _harness import percentile, print_table
from _pgbouncer import fresh_database
from fakes import FakeBackend

from transient.payments.pool import AddressPool
from transient.store import migrations
from transient.store.db import open_database, write_transaction
from transient.store.models import PooledAddress

PG_ADMIN = os.environ.get("TRANSIENT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def fill(db, size):
    """``size`` unclaimed LTC addresses behind as many claimed ones (a pool in use)."""
    now = datetime.datetime(2026, 1, 1)
    rows = [
        {"currency": "LTC", "address": "addr%07d" % i, "created_at": now, "claimed_at": None if i >= size else now}
        for i in range(2 * size)
    ]
    with db.atomic():
        for start in range(0, len(rows), 1000):
            PooledAddress.insert_many(rows[start : start + 1000]).execute()
    if db.param == "%s":  # PostgreSQL: no autovacuum of the fresh rows in the middle of a timing
        db.execute_sql("VACUUM ANALYZE pooled_address")


def claims(db, pool, n):
    """Time ``n`` claims, each in its own write transaction; return the times in ms."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        with write_transaction(db):
            assert pool.claim() is not None
        times.append((time.perf_counter() - start) * 1000)
    return times


def measure(url, size, n):
    db = open_database(url)
    migrations.apply(db)
    fill(db, size)
    pool = AddressPool("LTC", FakeBackend("LTC", {}), db, size=size)
    with_index = claims(db, pool, n)
    db.execute_sql('DROP INDEX IF EXISTS "pooled_address_unclaimed"')
    if db.param == "%s":
        db.execute_sql("ANALYZE pooled_address")
    without = claims(db, pool, n)
    db.close()
    return with_index, without


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,50000", help="unclaimed addresses in the pool (comma-separated)")
    ap.add_argument("--claims", type=int, default=500, help="claims timed per case")
    ap.add_argument("--smoke", action="store_true", help="a small, fast run (CI)")
    args = ap.parse_args()
    sizes = [200, 2000] if args.smoke else [int(s) for s in args.sizes.split(",")]
    n = 50 if args.smoke else args.claims
    rows = []
    for engine in ("sqlite", "postgres"):
        for size in sizes:
            if engine == "sqlite":
                tmp = tempfile.mkdtemp(prefix="transient-bench-")
                url, drop = "sqlite:///%s/pool.db" % tmp, (lambda: None)
            else:
                name, drop = fresh_database(PG_ADMIN, prefix="transient_bench_")
                url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
            try:
                fast, slow = measure(url, size, n)
            finally:
                drop()
            p50, p99 = percentile(fast, 50), percentile(fast, 99)
            b50, b99 = percentile(slow, 50), percentile(slow, 99)
            rows.append((engine, size, p50, p99, b50, b99, b50 / p50))
    print_table(
        "Pool claim: partial index vs none (%d claims per case)" % n,
        ("database", "unclaimed", "p50 ms", "p99 ms", "no index p50", "no index p99", "speed-up p50"),
        rows,
        ("%s", "%d", "%.3f", "%.3f", "%.3f", "%.3f", "%.1fx"),
    )


if __name__ == "__main__":
    main()
