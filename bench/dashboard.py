"""The dashboard's pages over N stored payments (a million by default), on SQLite and on
PostgreSQL: p50 and p99 of the overview, a filtered payments page (one coin, one status,
a date range), a search by txid and a payment's page, each against a bare Falcon page in
the same run (the floor: routing, a session-less resource, a small HTML body).

The pages are served by the daemon's own WSGI app (Runtime.app(): every middleware, the
session check, the templates) called in-process, one request at a time, so the figure is
the page's own cost, not the load generator's. The payments are bulk-inserted straight
into the tables (a year of them, 40% paid with a receipt, the rest expired, unpaid or
underpaid; half priced in EUR at a rate that changes every ten minutes). The health
report's node ping (one RPC a coin, measured by bench/rpc_per_payment.py) is left out:
there is no node behind this runtime, its health is a fixed report.

    python bench/dashboard.py                 # one million payments (minutes: mostly seeding)
    python bench/dashboard.py --n 200000 --no-postgres
    python bench/dashboard.py --smoke         # 5000 payments, SQLite: proves the bench runs (CI)
"""

import argparse
import dataclasses
import datetime
import io
import os
import sys
import tempfile
import time
import uuid

from _harness import ROOT, percentile, print_table, write_json
from falcon import testing

sys.path.insert(0, os.path.join(ROOT, "tests"))
from _pgbouncer import fresh_database  # noqa: E402

from transient import settings  # noqa: E402
from transient.runtime import Runtime  # noqa: E402
from transient.store import migrations  # noqa: E402
from transient.store.db import open_database  # noqa: E402

PG_ADMIN = os.environ.get("TRANSIENT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PAYMENT_COLUMNS = (
    "id currency amount address account metadata status confirmations_required tolerance_bp expires_at "
    "amount_received amount_pending paid_at created_at updated_at event_seq price price_currency rate rate_at"
).split()
RECEIPT_COLUMNS = "currency txid output address amount payment_id state block_height first_seen last_seen".split()
STATUSES = ["PAID"] * 8 + ["EXPIRED"] * 6 + ["UNPAID", "UNDERPAID", "EXPIRED", "OVERPAID"]
ROLLUP = "0017_overview_rollup"
HEALTH = {"ok": True, "database": "ok", "coins": {"LTC": {"node": "ok", "tip_height": 2000, "cursor_height": 2000}}}


def rows(n, now):
    """Yield (payment, receipt or None) of ``n`` LTC payments over the year before ``now``."""
    step = datetime.timedelta(days=365) / n
    for i in range(n):
        at = (now - step * (n - i)).replace(microsecond=0)
        pid = str(uuid.UUID(int=i + 1, version=4))
        status = STATUSES[i % len(STATUSES)]
        received = {"PAID": 150_000_000, "OVERPAID": 160_000_000, "UNDERPAID": 50_000_000}.get(status, 0)
        if status == "EXPIRED" and i % 20 == 14:
            received = 150_000_000  # paid after expiry
        priced = i % 2 == 0
        rate = "63.%02d" % (int(at.timestamp()) // 600 % 100) if priced else None
        address = "rltc1q%034d" % i
        payment = (
            pid, "LTC", 150_000_000, address, "shop-%d" % (i % 1000), '{"order_id": "o-%d"}' % i, status, 1, 0,
            at + datetime.timedelta(minutes=15), received, 0, at if received else None, at, at, 1,
            "94.76" if priced else None, "EUR" if priced else None, rate, at if priced else None,
        )  # fmt: skip
        receipt = None
        if received:
            receipt = ("LTC", "%064x" % (i + 1), "0", address, received, pid, "confirmed", 1000, at, at)
        yield payment, receipt


def migrate_around(url, seed):
    """Migrate, then seed with the overview's totals (0017) down, then up again: its
    migration sums the seeded rows in one statement, where its triggers would have
    worked row by row."""
    db = open_database(url)
    migrations.apply(db)
    migrations.runner(db).down(ROLLUP)
    db.close()
    seed()
    db = open_database(url)
    migrations.apply(db)
    db.close()


def seed_sqlite(path, n, now):
    migrate_around("sqlite:///" + path, lambda: _seed_sqlite(path, n, now))


def _seed_sqlite(path, n, now):
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=wal")
    pay = "INSERT INTO payment (%s) VALUES (%s)" % (", ".join(PAYMENT_COLUMNS), ", ".join("?" * len(PAYMENT_COLUMNS)))
    rec = "INSERT INTO receipt (%s) VALUES (%s)" % (", ".join(RECEIPT_COLUMNS), ", ".join("?" * len(RECEIPT_COLUMNS)))

    def text(row):  # as peewee stores them on SQLite: times as text, UUIDs as hex
        return [str(v) if isinstance(v, datetime.datetime) else _hex(v) for v in row]

    batch = []
    for pair in list(rows(n, now)) + [None]:
        if pair is not None:
            batch.append(pair)
        if len(batch) == 50_000 or (pair is None and batch):
            with conn:
                conn.executemany(pay, [text(p) for p, _ in batch])
                conn.executemany(rec, [text(r) for _, r in batch if r])
            batch = []
    conn.execute("INSERT INTO chain_state (currency, cursor_height, rerun) VALUES ('LTC', 2000, 0)")
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


def _hex(value):
    if isinstance(value, str) and len(value) == 36 and value.count("-") == 4:
        return uuid.UUID(value).hex
    return value


def seed_postgres(url, n, now):
    migrate_around(url, lambda: _seed_postgres(url, n, now))


def _seed_postgres(url, n, now):
    import psycopg2

    conn = psycopg2.connect(url)
    for table, columns, pick in (("payment", PAYMENT_COLUMNS, 0), ("receipt", RECEIPT_COLUMNS, 1)):
        buffer = io.StringIO()
        for pair in rows(n, now):
            if pair[pick] is not None:
                buffer.write("\t".join("\\N" if v is None else str(v) for v in pair[pick]) + "\n")
        buffer.seek(0)
        with conn.cursor() as cur:
            cur.copy_expert("COPY %s (%s) FROM STDIN" % (table, ", ".join(columns)), buffer)
        conn.commit()
    with conn.cursor() as cur:
        cur.execute("INSERT INTO chain_state (currency, cursor_height, rerun) VALUES ('LTC', 2000, false)")
        cur.execute("ANALYZE")
    conn.commit()
    conn.close()


class BarePage:
    def on_get(self, req, resp):
        resp.content_type = "text/html; charset=utf-8"
        resp.text = "<!doctype html><title>bare</title><p>bare</p>"


def runtime_for(folder, url):
    path = os.path.join(folder, "config.toml")
    with open(path, "w") as fh:
        fh.write('[database]\nurl = "%s"\n[log]\nlevel = "WARNING"\n' % url)
        fh.write('[coins.LTC]\nbackend = "litecoin"\nrpc_url = "http://127.0.0.1:9/"\nrpc_user = "u"\n')
        fh.write('rpc_password = "p"\naddress_pool = 0\n')
    runtime = Runtime(settings.load(path, environ={}))
    make = runtime.dashboard  # the dashboard as the runtime builds it, with a fixed health report
    runtime.dashboard = lambda: dataclasses.replace(make(), health=lambda: HEALTH)  # no node (see above)
    return runtime


def measure(client, url, cookie, count):
    headers = {"Cookie": "transient_session=" + cookie} if cookie else {}
    client.simulate_get(url, headers=headers)  # warm: templates compiled, statements prepared
    times = []
    for _ in range(count):
        started = time.perf_counter()
        result = client.simulate_get(url, headers=headers)
        times.append(time.perf_counter() - started)
        assert result.status_code == 200, (url, result.status_code, result.text[:300])
    return percentile(times, 50) * 1000, percentile(times, 99) * 1000


def run_one(label, folder, url, n, now, count, results):
    runtime = runtime_for(folder, url)
    try:
        app = runtime.app()
        app.add_route("/bare", BarePage())
        client = testing.TestClient(app)
        runtime.accounts.create_user("bench@example.com", "viewer", "a bench password")
        token, _ = runtime.accounts.sign_in("bench@example.com", "a bench password", "127.0.0.1")
        day = (now - datetime.timedelta(days=30)).date().isoformat()
        pages = [
            ("bare Falcon page", "/bare", None),
            ("overview", "/dashboard", token),
            ("payments: LTC, PAID, a month", "/dashboard/payments?currency=LTC&status=PAID&from=%s" % day, token),
            ("payments: search a txid", "/dashboard/payments?q=%064x" % (n // 2), token),
            ("a payment", "/dashboard/payments/%s" % uuid.UUID(int=n // 2, version=4), token),
        ]
        base = None
        for name, path, cookie in pages:
            p50, p99 = measure(client, path, cookie, count)
            base = base or p50
            results.append((label, name, p50, p99, p50 / base))
            print("  %-10s %-30s p50 %7.2f ms  p99 %7.2f ms" % (label, name, p50, p99), flush=True)
    finally:
        runtime.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="stored payments")
    parser.add_argument("--requests", type=int, default=200, help="requests per page")
    parser.add_argument("--smoke", action="store_true", help="5000 payments on SQLite: proves the bench runs (CI)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    n, count = (5000, 30) if args.smoke else (args.n, args.requests)
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    results = []
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "dashboard.db")
        started = time.perf_counter()
        seed_sqlite(path, n, now)
        print("seeded %d payments into SQLite in %.1fs" % (n, time.perf_counter() - started), flush=True)
        run_one("SQLite", folder, "sqlite:///" + path, n, now, count, results)
        if not (args.no_postgres or args.smoke):
            name, drop = fresh_database(PG_ADMIN, prefix="transient_bench_dashboard_")
            try:
                url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
                started = time.perf_counter()
                seed_postgres(url, n, now)
                print("seeded %d payments into PostgreSQL in %.1fs" % (n, time.perf_counter() - started), flush=True)
                run_one("PostgreSQL", folder, url, n, now, count, results)
            finally:
                drop()
    print_table(
        "dashboard pages over %d payments, %d requests each, in-process (ratio: p50 / the bare page's)" % (n, count),
        ["database", "page", "p50 ms", "p99 ms", "ratio"],
        results,
        ["%s", "%s", "%.2f", "%.2f", "%.1f"],
    )
    write_json(args.json, [dict(zip(["database", "page", "p50_ms", "p99_ms", "ratio"], r)) for r in results])


if __name__ == "__main__":
    main()
