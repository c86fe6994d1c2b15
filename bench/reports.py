"""Reports: rows per second, time to the first byte and peak memory of `transient reports`
over N payments with one receipt each, on SQLite and on PostgreSQL, against each database's
own CSV export of the same rows in the same run (`sqlite3 -csv`, psql's `COPY ... TO
STDOUT`): the floor a report cannot beat, since it reads those rows and writes them too.

Each export runs as its own process (the real `transient` entry point, python -m
transient.cli), its output read through a pipe by this process: the first byte's time is
taken here, the peak RSS is the child's own (GNU time, /usr/bin/time). A report of 1% of the range shows
that memory does not grow with the range (constant memory: keyset chunks). psql's RSS is
the client's; the server's COPY runs in its backend.

    python bench/reports.py                 # one million payments (a few minutes)
    python bench/reports.py --n 200000
    python bench/reports.py --smoke         # 2000, CSV only: proves the bench runs (CI)
"""

import argparse
import datetime
import io
import os
import subprocess
import sys
import tempfile
import time
import uuid

from _harness import ROOT, print_table, write_json
from _pgbouncer import fresh_database

from transient.store import migrations
from transient.store.db import open_database

PG_ADMIN = os.environ.get("TRANSIENT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
T0 = datetime.datetime(2026, 1, 1)
PAYMENT_COLUMNS = (
    "id currency amount address account metadata status confirmations_required tolerance_bp expires_at "
    "amount_received amount_pending paid_at created_at updated_at event_seq price price_currency rate "
    "rate_sources rate_at"
).split()
RECEIPT_COLUMNS = "currency txid output address amount payment_id state block_height first_seen last_seen".split()
# What the baselines export: the payments' columns the report reads, in its order.
BASELINE_SQL = (
    "SELECT id, metadata, currency, status, amount, amount_received, amount_pending, tolerance_bp, expires_at, "
    "confirmations_required, created_at, paid_at, updated_at, price, price_currency, rate, rate_at, rate_sources, "
    "account, address FROM payment ORDER BY created_at, id"
)


def rows(n):
    """Yield (payment, receipt) tuples of ``n`` paid LTC payments, 10 a second from T0."""
    for i in range(n):
        at = T0 + datetime.timedelta(milliseconds=100 * i)
        pid = str(uuid.UUID(int=i + 1, version=4))
        address = "rltc1q%034d" % i
        rate = "63.17" if i % 2 else None
        payment = (
            pid, "LTC", 150_000_000, address, "shop", '{"order_id": "o-%d"}' % i, "PAID", 1, 0, None,
            150_000_000, 0, at, at, at, 3, "94.76" if rate else None, "EUR" if rate else None, rate,
            '[{"source":"fixed","pair":"LTC/EUR","rate":"63.17"}]' if rate else None, at if rate else None,
        )  # fmt: skip
        receipt = ("LTC", "%064x" % i, "0", address, 150_000_000, pid, "confirmed", 1000 + i // 1000, at, at)
        yield payment, receipt


def seed_sqlite(path, n):
    db = open_database("sqlite:///" + path)
    migrations.apply(db)
    db.close()
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=wal")
    pay = "INSERT INTO payment (%s) VALUES (%s)" % (", ".join(PAYMENT_COLUMNS), ", ".join("?" * len(PAYMENT_COLUMNS)))
    rec = "INSERT INTO receipt (%s) VALUES (%s)" % (", ".join(RECEIPT_COLUMNS), ", ".join("?" * len(RECEIPT_COLUMNS)))
    batch = []
    for pair in rows(n):
        batch.append(pair)
        if len(batch) == 50_000:
            _insert(conn, pay, rec, batch)
            batch = []
    _insert(conn, pay, rec, batch)
    conn.execute("INSERT INTO chain_state (currency, cursor_height, rerun) VALUES ('LTC', 2000, 0)")
    conn.commit()
    conn.close()


def _insert(conn, pay, rec, batch):
    with conn:
        conn.executemany(pay, [[_sqlite(v) for v in p] for p, _ in batch])
        conn.executemany(rec, [[_sqlite(v) for v in r] for _, r in batch])


def _sqlite(value):
    return str(value) if isinstance(value, datetime.datetime) else value  # as peewee stores times


def seed_postgres(url, n):
    import psycopg2

    db = open_database(url)
    migrations.apply(db)
    db.close()
    conn = psycopg2.connect(url)
    for table, columns, pick in (("payment", PAYMENT_COLUMNS, 0), ("receipt", RECEIPT_COLUMNS, 1)):
        buffer = io.StringIO()
        for pair in rows(n):
            buffer.write("\t".join("\\N" if v is None else str(v) for v in pair[pick]) + "\n")
            if buffer.tell() > 32 << 20:
                _copy(conn, table, columns, buffer)
                buffer = io.StringIO()
        _copy(conn, table, columns, buffer)
    with conn.cursor() as cur:
        cur.execute("INSERT INTO chain_state (currency, cursor_height, rerun) VALUES ('LTC', 2000, false)")
        cur.execute("ANALYZE")
    conn.commit()
    conn.close()


def _copy(conn, table, columns, buffer):
    buffer.seek(0)
    with conn.cursor() as cur:
        cur.copy_expert("COPY %s (%s) FROM STDIN" % (table, ", ".join(columns)), buffer)
    conn.commit()


def measure(args, env=None):
    """Run ``args``, read its stdout; return (lines, seconds, seconds to the first byte, peak RSS MB).

    The peak RSS is GNU time's figure (its child's wait4): a child forked from this
    process counts this process's pages until it execs, so its own wait4 would not do."""
    rss_file = tempfile.NamedTemporaryFile(prefix="rss-", delete=False).name
    start = time.perf_counter()
    timed = ["/usr/bin/time", "-f", "%M", "-o", rss_file] + args
    child = subprocess.Popen(timed, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first, lines = None, 0
    while True:
        piece = child.stdout.read1(1 << 16)
        if not piece:
            break
        if first is None:
            first = time.perf_counter() - start
        lines += piece.count(b"\n")
    err = child.stderr.read()
    child.wait()
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        sys.exit("%s failed: %s" % (args[0], err.decode(errors="replace")))
    with open(rss_file) as fh:
        rss_kb = int(fh.read().split()[-1])
    os.unlink(rss_file)
    return lines, seconds, first or seconds, rss_kb / 1024


def config_file(folder, url):
    path = os.path.join(folder, "config-%s.toml" % url.split(":")[0])
    with open(path, "w") as fh:
        fh.write(
            '[database]\nurl = "%s"\n[coins.LTC]\nbackend = "litecoin"\nrpc_url = "http://127.0.0.1:9/"\n'
            'wallet = "w"\n' % url
        )
    return path


def run_one(label, url, baseline, n, folder, results, smoke=False, wanted=("csv", "json", "receipts", "small")):
    cli = [sys.executable, "-m", "transient.cli", "reports"]
    config = config_file(folder, url)
    env = dict(os.environ, PYTHONPATH=ROOT)
    small_to = (T0 + datetime.timedelta(milliseconds=100 * max(1, n // 100))).isoformat() + "Z"
    cases = [
        ("base", "%s COPY/-csv (baseline)" % label, baseline, None, n),
        ("csv", "%s payments csv" % label, cli + ["payments", "--config", config], env, n),
        ("json", "%s payments json" % label, cli + ["payments", "--format", "json", "--config", config], env, n),
        ("receipts", "%s receipts csv" % label, cli + ["receipts", "--config", config], env, n),
        (
            "small",
            "%s payments csv, 1%%" % label,
            cli + ["payments", "--to", small_to, "--config", config],
            env,
            n // 100,
        ),  # noqa: E501
    ]
    keep = ("base", "csv") if smoke else ("base", *wanted)
    cases = [case[1:] for case in cases if case[0] in keep]
    base = None
    for name, command, environ, expected in cases:
        lines, seconds, ttfb, rss = measure(command, environ)
        header = 0 if "json" in name or "baseline" in name else 1
        count = lines - header
        assert count == expected, (name, count, expected)  # the same rows, every one
        rate = count / seconds
        base = base or rate
        results.append((name, count, rate, ttfb * 1000, rss, rate / base))
        print("  %-34s %9d rows  %9.0f rows/s  ttfb %7.1f ms  rss %6.1f MB" % results[-1][:5], flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="payments (each with one receipt)")
    parser.add_argument("--smoke", action="store_true", help="2000 payments, CSV only: proves the bench runs (CI)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--cases",
        default="csv,json,receipts,small",
        help="which exports besides the baseline: csv, json, receipts, small (1%% of the range); default all",
    )
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    n = 2000 if args.smoke else args.n
    results = []
    with tempfile.TemporaryDirectory() as folder:
        wanted = tuple(c.strip() for c in args.cases.split(",") if c.strip())
        if not args.no_sqlite:
            path = os.path.join(folder, "reports.db")
            started = time.perf_counter()
            seed_sqlite(path, n)
            print("seeded %d payments into SQLite in %.1fs" % (n, time.perf_counter() - started), flush=True)
            baseline = ["sqlite3", "-csv", path, BASELINE_SQL]
            run_one("SQLite", "sqlite:///" + path, baseline, n, folder, results, args.smoke, wanted)
        if not args.no_postgres:
            name, drop = fresh_database(PG_ADMIN, prefix="transient_bench_reports_")
            try:
                url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
                started = time.perf_counter()
                seed_postgres(url, n)
                print("seeded %d payments into PostgreSQL in %.1fs" % (n, time.perf_counter() - started), flush=True)
                copy = ["psql", "-q", "-X", url, "-c", "COPY (%s) TO STDOUT WITH CSV" % BASELINE_SQL]
                run_one("PostgreSQL", url, copy, n, folder, results, args.smoke, wanted)
            finally:
                drop()
    print_table(
        "reports over %d payments with one receipt each (ratio: rows/s / the database's own export's)" % n,
        ["export", "rows", "rows/s", "first byte ms", "peak RSS MB", "ratio"],
        results,
        ["%s", "%d", "%.0f", "%.1f", "%.1f", "%.2f"],
    )
    names = ["export", "rows", "rows_per_s", "ttfb_ms", "rss_mb", "ratio"]
    write_json(args.json, [dict(zip(names, r)) for r in results])


if __name__ == "__main__":
    main()
