"""The daemon's memory when idle with N payments stored (100 000 by default): PSS of
transientd's master and worker added up (what the daemon costs the machine, shared pages
charged in equal parts), against the anchor (bench/_bare_app.py: a bare Falcon app under
transientd's own master and worker) in the same run, each sampled a few times once idle.
The daemon syncs against a regtest litecoind (its poll running, nothing to pay), over
SQLite or PostgreSQL; the payments are bulk-inserted (bench/dashboard.py's rows).
PSS also splits the library pages shared with every other process on the machine, so it
moves by a MB or two with what else runs; USS (what the processes alone hold) does not.

    python bench/idle_memory.py                 # 100k payments, SQLite
    python bench/idle_memory.py --db postgresql://postgres@127.0.0.1:5432/test
    python bench/idle_memory.py --smoke         # 1000 payments: proves the bench runs (CI)
"""

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time

from _harness import Bare, BenchNode, daemon_memory, print_table, start_daemon, write_json
from dashboard import PG_ADMIN, fresh_database, seed_postgres, seed_sqlite

USER = "transientd"


def sample(pid, count, pause):
    """The median over ``count`` samples of the tree's PSS, RSS and USS (MB), and the last
    sample's PSS of each process (``"each"``)."""
    found = []
    for _ in range(count):
        time.sleep(pause)
        found.append(daemon_memory(pid))
    total = {k: statistics.median(f["total"][k] for f in found) for k in ("pss", "rss", "uss")}
    total["each"] = {p: round(m["pss"], 1) for p, m in found[-1].items() if p != "total"}
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="stored payments")
    parser.add_argument("--db", default="sqlite", help="sqlite, or postgresql (a fresh database of the test server)")
    parser.add_argument("--settle", type=float, default=15, help="seconds idle before sampling")
    parser.add_argument("--samples", type=int, default=5, help="samples, 1 s apart")
    parser.add_argument("--smoke", action="store_true", help="1000 payments, short waits (CI)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.settle, args.samples = 1000, 2, 2
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    rows = []
    with tempfile.TemporaryDirectory(prefix="transient-bench-") as tmp:
        drop = None
        if args.db == "sqlite":
            url = "sqlite:///%s" % os.path.join(tmp, "transient.db")
            seed_sqlite(url[len("sqlite:///") :], args.n, now)
        else:
            name, drop = fresh_database(PG_ADMIN, prefix="transient_bench_memory_")
            url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
            seed_postgres(url, args.n, now)
        node = BenchNode(os.path.join(tmp, "node"), users=(USER,))
        node.start()
        try:
            node.setup()
            node.create_wallet("shop")
            coins = node.coin_config("shop", USER, poll=5, extra="address_pool = 0")
            daemon = start_daemon(tmp, url, coins)
            try:
                time.sleep(args.settle)
                got = sample(daemon.proc.pid, args.samples, 1)
            finally:
                daemon.kill()
            with Bare(tmp, 1, 8, worker="daemon") as bare:
                time.sleep(args.settle)
                base = sample(bare.proc.pid, args.samples, 1)
        finally:
            node.stop()
            if drop:
                drop()
    print("PSS MB by process (master first): transientd %s, anchor %s" % (got["each"], base["each"]))
    label = "SQLite" if args.db == "sqlite" else "PostgreSQL"
    rows.append((label, "anchor (bare app, daemon's worker)", base["pss"], base["rss"], base["uss"], 1.0))
    rows.append(
        (label, "transientd, %d payments" % args.n, got["pss"], got["rss"], got["uss"], got["pss"] / base["pss"])
    )
    print_table(
        "idle memory, master + worker (median of %d samples after %.0f s idle)" % (args.samples, args.settle),
        ["database", "process", "PSS MB", "RSS MB", "USS MB", "PSS ratio"],
        rows,
        ["%s", "%s", "%.1f", "%.1f", "%.1f", "%.2fx"],
    )
    write_json(args.json, [dict(zip(["database", "process", "pss_mb", "rss_mb", "uss_mb", "ratio"], r)) for r in rows])


if __name__ == "__main__":
    sys.exit(main())
