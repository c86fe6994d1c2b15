"""Cost of one sync with 100 new transactions as the database grows to 1M payments.

Fills the database with synthetic payments (paid ones with a confirmed receipt, and
``--open-share`` of them still open), step by step up to each size; at each size
it pays 100 new payments with 100 separate transactions on a litecoind regtest
node and times the daemon's sync of them in-process (``Syncer.sync_once``: the
mempool sync that makes them PENDING, then the sync of the block that makes them
PAID). The figures should stay flat: a sync reads what the node lists since the
cursor and looks rows up by index, whatever the database holds.

The baseline, measured at each size in the same run, is per-invoice polling as
SatSale does it: one ``listtransactions(label)`` call per open invoice (and a write
for each that moved), which grows with the number of open invoices.

With ``--explain`` it prints the query plans of the sync's lookups at the largest size.

    python bench/sync_cost.py --json sync_cost.json
    python bench/sync_cost.py --db postgresql://postgres@127.0.0.1:5432/test
"""

import argparse
import os
import statistics
import tempfile
import time
import uuid
from decimal import Decimal

from _harness import BenchNode, broadcast, fund, print_table, sign_payments, wait_until, write_json

from transient.chain.sync import Syncer
from transient.core import status as S
from transient.core.clock import utcnow
from transient.store import migrations
from transient.store.db import is_sqlite, open_database
from transient.store.models import ChainState, Payment
from transient_litecoin import LitecoinBackend

AMOUNT = Decimal("0.001")
NEW = 100


def fill(db, start, stop, open_every, now):
    """Insert synthetic payments number ``start``..``stop - 1`` (every ``open_every``-th
    one open, the others paid with one confirmed receipt) in a few statements."""
    if stop <= start:
        return
    stamp = now.isoformat(" ") if is_sqlite(db) else now
    p = db.param
    cols = (
        "id, currency, amount, address, account, metadata, status, confirmations_required, tolerance_bp,"
        " amount_received, amount_pending, paid_at, created_at, updated_at, event_seq"
    )
    is_open = "x %s %d = 0" % ("%" if is_sqlite(db) else "%%", open_every)  # psycopg2 wants %% for a %
    pick = (
        "'LTC', 100000, 'synthetic-' || x, 'invoice-' || x, '{{}}',"
        " CASE WHEN {o} THEN 'UNPAID' ELSE 'PAID' END, 1, 0, CASE WHEN {o} THEN 0 ELSE 100000 END, 0,"
        " CASE WHEN {o} THEN NULL ELSE {p} END, {p}, {p}, 2"
    ).format(o=is_open, p=p)
    if is_sqlite(db):
        db.execute_sql(
            "INSERT INTO payment (%s) WITH RECURSIVE seq(x) AS (SELECT %s UNION ALL SELECT x + 1 FROM seq"
            " WHERE x < %s) SELECT lower(hex(randomblob(16))), %s FROM seq" % (cols, p, p, pick),
            (start, stop - 1, stamp, stamp, stamp),
        )
        txid = "p.id || p.id"
    else:
        db.execute_sql(
            "INSERT INTO payment (%s) SELECT gen_random_uuid(), %s FROM generate_series(%s, %s) AS x"
            % (cols, pick, p, p),
            (stamp, stamp, stamp, start, stop - 1),
        )
        txid = "replace(p.id::text, '-', '') || replace(p.id::text, '-', '')"
    db.execute_sql(
        "INSERT INTO receipt (currency, txid, output, address, amount, payment_id, state, block_hash, block_height,"
        " first_seen, last_seen) SELECT 'LTC', %s, '0', p.address, 100000, p.id, 'confirmed', %s, 1, %s, %s"
        " FROM payment p WHERE p.created_at = %s AND p.status = 'PAID'" % (txid, txid, p, p, p),
        (stamp, stamp, stamp),
    )


def new_payments(node, wallet, count, round_no):
    """``count`` real payments, each with its own labelled address; return them."""
    rpc = node.client(wallet)
    labels = ["invoice-new-%d-%d" % (round_no, i) for i in range(count)]
    addresses = rpc.batch([("getnewaddress", [label]) for label in labels])
    rpc.close()
    now = utcnow()
    rows = [
        dict(
            id=uuid.uuid4(),
            currency="LTC",
            amount=int(AMOUNT * 10**8),
            address=a,
            account=label,
            status=S.UNPAID,
            confirmations_required=1,
            created_at=now,
            updated_at=now,
        )
        for a, label in zip(addresses, labels)
    ]
    Payment.insert_many(rows).execute()
    return rows


def per_invoice_poll(db, node, wallet):
    """The baseline: one listtransactions(label) per open invoice, a write for each that
    moved (rolled back: the sync under test must find the same state). Returns (seconds, calls)."""
    rpc = node.client(wallet)
    started = time.perf_counter()
    open_ = list(
        Payment.select(Payment.id, Payment.account, Payment.amount)
        .where((Payment.currency == "LTC") & (Payment.status == S.UNPAID))
        .tuples()
    )
    moved = 0
    with db.atomic() as txn:
        for pid, label, amount in open_:
            entries = rpc.call("listtransactions", label, 10, 0, True)
            received = sum(int(e["amount"] * 10**8) for e in entries if e["category"] == "receive")
            if received:
                moved += 1
                Payment.update(
                    amount_received=received,
                    status=S.PENDING if received >= amount else S.UNDERPAID,
                    updated_at=utcnow(),
                ).where(Payment.id == pid).execute()
        txn.rollback()
    seconds = time.perf_counter() - started
    rpc.close()
    return seconds, len(open_), moved


def one_round(node, db, syncer, wallet, outpoints, round_no):
    """Pay NEW fresh payments; return (poll baseline s, open invoices, mempool sync s, block sync s)."""
    pays = new_payments(node, wallet, NEW, round_no)
    raws = sign_payments(node, "funder", outpoints, [(p["address"], AMOUNT) for p in pays])
    rpc = node.client(wallet)
    before = rpc.call("getwalletinfo")["txcount"]
    broadcast(node, raws)
    wait_until(lambda: rpc.call("getwalletinfo")["txcount"] >= before + NEW, 60)
    rpc.close()
    poll_s, open_count, moved = per_invoice_poll(db, node, wallet)
    started = time.perf_counter()
    syncer.sync_once()
    mempool_s = time.perf_counter() - started
    node.mine(1)
    started = time.perf_counter()
    syncer.sync_once()
    block_s = time.perf_counter() - started
    ids = [p["id"] for p in pays]
    paid = Payment.select().where(Payment.id.in_(ids) & (Payment.status == S.PAID)).count()
    if paid != NEW or moved != NEW:
        raise RuntimeError("round %d: %d of %d paid, the baseline saw %d" % (round_no, paid, NEW, moved))
    return poll_s, open_count, mempool_s, block_s


EXPLAINED = {
    "payments by address (new receipts)": "SELECT id FROM payment WHERE currency = 'LTC' AND address IN ('a', 'b')",
    "receipts by txid (listed outputs)": "SELECT id FROM receipt WHERE currency = 'LTC' AND txid IN ('a', 'b')",
    "pending receipts in blocks (maturing)": "SELECT id FROM receipt WHERE currency = 'LTC' AND state = 'pending'"
    " AND block_height IS NOT NULL",
    "receipts of touched payments": "SELECT id FROM receipt WHERE payment_id IN (%s)",
    "payments due to expire": "SELECT id FROM payment WHERE currency = 'LTC' AND status IN ('UNPAID', 'UNDERPAID')"
    " AND expires_at IS NOT NULL AND expires_at <= '2030-01-01'",
}


def explain(db):
    pid = Payment.select(Payment.id).scalar()
    for name, sql in EXPLAINED.items():
        sql = sql.replace("%s", "'%s'" % Payment.id.db_value(pid))
        rows = db.execute_sql(("EXPLAIN QUERY PLAN " if is_sqlite(db) else "EXPLAIN ") + sql).fetchall()
        print("  %-40s %s" % (name, " | ".join(str(r[-1]).strip() for r in rows)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000", help="stored payments at each step")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of %d new transactions per size" % NEW)
    parser.add_argument("--open-share", type=float, default=0.01, help="share of stored payments still open")
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file); its tables are emptied")
    parser.add_argument("--explain", action="store_true", help="print the query plans at the largest size")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--smoke", action="store_true", help="tiny size: proves the bench runs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.repeat, args.explain = "200,2000", 1, True
    sizes = [int(s) for s in args.sizes.split(",")]
    open_every = max(1, round(1 / args.open_share))
    rows, figures = [], []
    with tempfile.TemporaryDirectory(prefix="transient-bench-") as tmp:
        db = open_database(args.db or "sqlite:///%s" % os.path.join(tmp, "bench.db"))
        migrations.apply(db)
        if not is_sqlite(db):
            db.execute_sql(
                "TRUNCATE delivery_attempt, delivery, event, receipt, chain_state, payment,"
                " pooled_address RESTART IDENTITY CASCADE"
            )
        node = BenchNode(os.path.join(tmp, "node"))
        node.start()
        try:
            node.setup()
            node.create_wallet("funder")
            wallet = node.create_wallet("shop")
            outpoints = fund(node, "funder", len(sizes) * args.repeat * NEW, AMOUNT + Decimal("0.00001"))
            backend = LitecoinBackend(
                "LTC",
                {
                    "rpc_url": node.rpc_url,
                    "rpc_user": node.rpc_user,
                    "rpc_password": node.rpc_password,
                    "wallet": wallet,
                },
            )
            syncer = Syncer("LTC", backend, 1, db)
            ChainState.insert(currency="LTC").on_conflict_ignore().execute()
            syncer.sync_once()
            stored, round_no = 0, 0
            for size in sizes:
                started = time.perf_counter()
                with db.atomic():
                    fill(db, stored, size, open_every, utcnow())
                if not is_sqlite(db):
                    db.execute_sql("ANALYZE")  # what autovacuum does on a database that grew
                fill_s = time.perf_counter() - started
                stored = size
                polls, mempool, block, open_counts = [], [], [], []
                for _ in range(args.repeat):
                    use = outpoints[round_no * NEW : (round_no + 1) * NEW]
                    poll_s, open_count, mempool_s, block_s = one_round(node, db, syncer, wallet, use, round_no)
                    round_no += 1
                    polls.append(poll_s)
                    open_counts.append(open_count)
                    mempool.append(mempool_s)
                    block.append(block_s)
                total = Payment.select().count()
                figures.append(
                    {
                        "stored": total,
                        "fill_s": fill_s,
                        "open_invoices": max(open_counts),
                        "sync_mempool_ms": statistics.median(mempool) * 1000,
                        "sync_block_ms": statistics.median(block) * 1000,
                        "poll_ms": statistics.median(polls) * 1000,
                    }
                )
            if args.explain:
                print("query plans at %d payments (%s):" % (total, "SQLite" if is_sqlite(db) else "PostgreSQL"))
                explain(db)
        finally:
            node.stop()
            db.close()
    first = figures[0]
    for f in figures:
        rows.append(
            (
                f["stored"],
                f["open_invoices"],
                f["sync_mempool_ms"],
                f["sync_mempool_ms"] / first["sync_mempool_ms"],
                f["sync_block_ms"],
                f["sync_block_ms"] / first["sync_block_ms"],
                f["poll_ms"],
                f["poll_ms"] / f["sync_mempool_ms"],
            )
        )
    print_table(
        "one sync of %d new transactions (median of %d) vs per-invoice polling (%s)"
        % (NEW, args.repeat, "SQLite" if not args.db else args.db.split(":")[0]),
        [
            "stored payments",
            "open invoices",
            "sync (mempool) ms",
            "vs first",
            "sync (block) ms",
            "vs first",
            "per-invoice poll ms",
            "poll / sync",
        ],
        rows,
        ["%d", "%d", "%.1f", "%.2fx", "%.1f", "%.2fx", "%.1f", "%.1fx"],
    )
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
