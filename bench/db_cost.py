"""Database cost per operation: statements and round trips per created payment, per
read, per synced payment and per delivered webhook, on SQLite and on PostgreSQL.

In-process: a Runtime on a litecoind regtest node (a wallet of its own), its Falcon app
called through Falcon's test client, its Syncer and webhook dispatcher run by hand so
nothing else touches the database meanwhile. Every database call of the process goes
through the connection's cursor, which is wrapped to count: "statements" are what the
code asks for (SELECT, INSERT, UPDATE, DELETE), "round trips" add the transaction's
BEGIN/COMMIT/SAVEPOINT (each one a network round trip on PostgreSQL; on SQLite a call
into the library). The baseline in the same run: the ratio PostgreSQL / SQLite, and the
figures measured before this change (``BEFORE``, from this bench on the previous code).

    python bench/db_cost.py --n 200
    python bench/db_cost.py --n 200 --show create     # print the statements of one create
"""

import argparse
import collections
import os
import tempfile
from decimal import Decimal

from _harness import BenchNode, print_table, write_json
from _pgbouncer import fresh_database
from _receiver import Receiver
from falcon import testing

from transient import settings
from transient.runtime import Runtime

AMOUNT = Decimal("0.001")
PG_ADMIN = os.environ.get("TRANSIENT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
OPS = ("create", "read", "read (unchanged)", "sync (mempool)", "sync (block)", "webhook delivered")
#: Statements per operation on PostgreSQL measured before this change (this bench on the
#: previous commit, --n 200; SQLite's were the same): the renderer read each synced
#: payment's receipts and status changes with a query each, a create rendered its new
#: payment with three queries, then read the events' ids back and updated event_seq.
BEFORE = {
    "create": 9.02,
    "read": 3.00,
    "read (unchanged)": None,
    "sync (mempool)": 2.10,
    "sync (block)": 2.10,
    "webhook delivered": 0.50,
}


class Counter:
    """Counts what goes through ``db.cursor()``: statements and transaction control."""

    CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")

    def __init__(self, db):
        self.statements = self.round_trips = 0
        self.log = []
        self.recording = False
        cursor = db.cursor
        counter = self

        class Counted:
            def __init__(self, inner):
                self._inner = inner

            def execute(self, sql, params=()):
                counter.round_trips += 1
                if not sql.lstrip().upper().startswith(Counter.CONTROL):
                    counter.statements += 1
                if counter.recording:
                    counter.log.append(sql)
                return self._inner.execute(sql, params)

            def executemany(self, sql, rows):
                counter.round_trips += 1
                counter.statements += 1
                if counter.recording:
                    counter.log.append(sql)
                return self._inner.executemany(sql, rows)

            def __getattr__(self, name):
                return getattr(self._inner, name)

            def __iter__(self):
                return iter(self._inner)

        db.cursor = lambda *a, **kw: Counted(cursor(*a, **kw))

    def take(self):
        figures = (self.statements, self.round_trips)
        self.statements = self.round_trips = 0
        return figures


def config_text(db_url, node, wallet, hook_url):
    return '[database]\nurl = "%s"\nauto_migrate = true\n[webhook]\nurl = "%s"\n%s' % (
        db_url,
        hook_url,
        node.coin_config(wallet, "transientd", poll=3600),
    )


def measure(node, tmp, db_url, label, n, hook_url, show):
    wallet = node.create_wallet("shop-%s" % label)
    path = os.path.join(tmp, "%s.toml" % label)
    with open(path, "w") as fh:
        fh.write(config_text(db_url, node, wallet, hook_url))
    runtime = Runtime(settings.load(path, environ={}))
    runtime.prepare_schema()
    client = testing.TestClient(runtime.app())
    runtime.pools["LTC"].refill()  # the keeper's job, outside the measured requests
    syncer = runtime.syncers["LTC"]
    syncer.run()  # the first sync reads the wallet's history: not a payment's cost
    counter = Counter(runtime.db)
    figures = {}
    try:
        counter.recording = show == "create"
        pays = [
            client.simulate_post("/payments", json={"currency": "LTC", "amount": str(AMOUNT)}).json["payment"]
            for _ in range(n)
        ]
        figures["create"] = counter.take() + (n,)
        counter.recording = show == "read"
        for p in pays:
            assert client.simulate_get("/payments/%s" % p["id"]).status_code == 200
        figures["read"] = counter.take() + (n,)
        for p in pays:  # the kept body: the payment did not change
            assert client.simulate_get("/payments/%s" % p["id"]).status_code == 200
        figures["read (unchanged)"] = counter.take() + (n,)
        node.sendmany({p["payment_address"]: AMOUNT for p in pays})
        counter.recording = show == "sync"
        syncer.run()
        figures["sync (mempool)"] = counter.take() + (n,)
        node.mine(1)
        syncer.run()
        figures["sync (block)"] = counter.take() + (n,)
        counter.recording = show == "webhook"
        delivered = 0
        while True:
            done = runtime.dispatcher.run_once()
            if not done:
                break
            delivered += len(done)
        figures["webhook delivered"] = counter.take() + (max(delivered, 1),)
    finally:
        runtime.close()
    if show:
        print("\nstatements (%s, %s):" % (label, show))
        for sql, count in collections.Counter(s.split(" WHERE")[0][:140] for s in counter.log).most_common(25):
            print("  %5d  %s" % (count, sql))
    return {op: {"statements": s / k, "round_trips": r / k, "count": k} for op, (s, r, k) in figures.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="payments")
    parser.add_argument(
        "--show", choices=("create", "read", "sync", "webhook"), help="print the statements of one step"
    )
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--smoke", action="store_true", help="tiny size: proves the bench runs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.n = 10
    results = {}
    hooks = Receiver().start()
    name, drop = fresh_database(PG_ADMIN, prefix="transient_bench_")
    with tempfile.TemporaryDirectory(prefix="transient-bench-") as tmp:
        node = BenchNode(os.path.join(tmp, "node"), users=("transientd",))
        node.start()
        try:
            node.setup()
            sqlite_url = "sqlite:///%s" % os.path.join(tmp, "shop.db")
            results["sqlite"] = measure(node, tmp, sqlite_url, "sqlite", args.n, hooks.url, args.show)
            pg_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
            results["postgresql"] = measure(node, tmp, pg_url, "postgresql", args.n, hooks.url, args.show)
        finally:
            node.stop()
            hooks.stop()
            drop()
    report(results, args.n)
    write_json(args.json, results)


def report(results, n):
    rows = []
    for op in OPS:
        lite, pg = results["sqlite"][op], results["postgresql"][op]
        before = BEFORE.get(op)
        rows.append(
            (
                op,
                lite["statements"],
                lite["round_trips"],
                pg["statements"],
                pg["round_trips"],
                pg["round_trips"] / lite["round_trips"] if lite["round_trips"] else float("nan"),
                "%.2f" % before if before else "-",
                before / pg["statements"] if before and pg["statements"] else float("nan"),
            )
        )
    print_table(
        "database cost per operation (%d payments; one sync of all of them, per payment)" % n,
        ["operation", "SQLite stmts", "SQLite trips", "PG stmts", "PG trips", "PG/SQLite", "PG before", "before/now"],
        rows,
        ["%s", "%.2f", "%.2f", "%.2f", "%.2f", "%.2fx", "%s", "%.1fx"],
    )


if __name__ == "__main__":
    main()
