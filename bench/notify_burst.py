"""A burst of walletnotify: N payments paid by N separate transactions at once.

Starts a litecoind regtest node whose walletnotify and blocknotify run the shipped
``transient-notify`` script (``python3 -I -S``, through bench/_timed_notify.py,
which logs each ping's duration) against a real transientd. N payments are created
through the API, N transactions to them are signed beforehand (each spends its own
output of a pre-split wallet, which is then unloaded so only the merchant's wallet
notifies) and broadcast in JSON-RPC batches. Then one block confirms them all.

Measured: pings absorbed per second and each ping's latency, seen by the script;
the time from the node's wallet holding the last transaction to all payments
PENDING, and from the block to all PAID; the RPC calls the daemon made (counted
by user from the node's ``-debug=rpc`` log); syncs run; the daemon's RSS idle and
after the burst with ``--stored`` payments in the database. Also the endpoint alone
under a keep-alive flood of pings, and one listing of the burst on a kept-alive
connection against a fresh one (the Nagle/delayed-ACK stall).

The baseline, run in the same bench on the same node: the seed's design, a Python
script per notification doing a ``gettransaction`` and a database write
(bench/_seed_notify.py), on ``--baseline-n`` payments (each of its processes
needs ~30 MB and ~0.2 s of CPU: at N = 10 000 at once it would exhaust the machine).

    python bench/notify_burst.py --n 10000 --json burst.json
"""

import argparse
import http.client
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import requests
from _harness import (
    Bare,
    BenchNode,
    broadcast,
    daemon_memory,
    fund,
    percentile,
    print_table,
    python_notify_command,
    sign_payments,
    start_daemon,
    wait_until,
    write_json,
)

from transient.core import status as S
from transient.core.clock import utcnow
from transient.devnet.node import find_free_port
from transient.store import migrations
from transient.store.db import open_database
from transient.store.models import Payment
from transient_litecoin import LitecoinBackend

AMOUNT = Decimal("0.001")
FUNDING = AMOUNT + Decimal("0.00001")
USER, SEED_USER = "transientd", "seed"


class Monitor:
    """Samples the machine while a burst runs: peak processes and lowest available memory.
    Kills the node's notify processes if memory runs low (a burst must not take the box down)."""

    def __init__(self, floor_mb=2500):
        self.floor_mb = floor_mb
        self.peak_procs = 0
        self.min_avail_mb = float("inf")
        self.aborted = False
        self._stop = threading.Event()

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.wait(0.05):
            with open("/proc/loadavg") as fh:
                self.peak_procs = max(self.peak_procs, int(fh.read().split()[3].split("/")[1]))
            with open("/proc/meminfo") as fh:
                avail = next(int(line.split()[1]) // 1024 for line in fh if line.startswith("MemAvailable"))
            self.min_avail_mb = min(self.min_avail_mb, avail)
            if avail < self.floor_mb and not self.aborted:
                self.aborted = True
                print(
                    "bench: memory is running out (%d MB available): killing the notify processes" % avail,
                    file=sys.stderr,
                )
                kill_notify_processes()


def kill_notify_processes():
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as fh:
                    cmd = fh.read()
                if b"_timed_notify.py" in cmd or b"_seed_notify.py" in cmd:
                    os.kill(int(pid), 9)
            except OSError:
                pass


def reached(count, n, settled, timeout):
    """Wait until ``count()`` reaches ``n`` (return the time) or ``settled()`` has been true
    for 3 s without it (return None: some payments were never reflected)."""
    deadline, settled_at = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        if count() >= n:
            return time.monotonic()
        if settled():
            settled_at = settled_at or time.monotonic()
            if time.monotonic() - settled_at > 3:
                return None
        time.sleep(0.02)
    return None


def log_lines(path):
    try:
        with open(path) as fh:
            return [line.split() for line in fh if line.strip()]
    except FileNotFoundError:
        return []


def create_payments(base, n, threads=8):
    """Create ``n`` payments through the API; return their addresses."""
    local = threading.local()

    def one(_):
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        resp = session.post(base + "/payments", json={"currency": "LTC", "amount": str(AMOUNT)}, timeout=60)
        resp.raise_for_status()
        return resp.json()["payment"]["payment_address"]

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(n)))


def synthetic_payments(db_url, count, batch=5000):
    """Store ``count`` old, paid payments (the database a busy shop has after a while)."""
    db = open_database(db_url)
    migrations.apply(db)
    now = utcnow()
    for start in range(0, count, batch):
        rows = [
            {
                "id": uuid.uuid4(),
                "currency": "LTC",
                "amount": 100000,
                "address": "synthetic-%d" % (start + i),
                "status": S.PAID,
                "confirmations_required": 1,
                "amount_received": 100000,
                "created_at": now,
                "updated_at": now,
                "paid_at": now,
            }
            for i in range(min(batch, count - start))
        ]
        with db.atomic():
            Payment.insert_many(rows).execute()
    return db


def status_count(status, since):
    """Payments created since ``since`` (the bench's, not the synthetic ones) in ``status``."""
    return Payment.select().where((Payment.created_at >= since) & (Payment.status == status)).count()


def health(daemon):
    return daemon.get("/healthz").json()["coins"]["LTC"]


def flood_pings(base, total, threads=8):
    """Ping the endpoint over keep-alive connections; return (pings/s, latencies)."""
    host, port = base.replace("http://", "").split(":")
    latencies = [[] for _ in range(threads)]

    def worker(i):
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        for _ in range(total // threads):
            start = time.perf_counter()
            conn.request("POST", "/notify/LTC/transaction/" + "ab" * 32, body=b"")
            resp = conn.getresponse()
            resp.read()
            if resp.status != 202:
                raise RuntimeError("ping answered %d" % resp.status)
            latencies[i].append(time.perf_counter() - start)
        conn.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    seconds = time.perf_counter() - started
    flat = [x for part in latencies for x in part]
    return len(flat) / seconds, flat


def listing_stall(node, wallet, cursor, repeat):
    """Median seconds of one listing of the burst on a kept-alive connection and on a fresh one."""
    options = {"rpc_url": node.rpc_url, "rpc_user": USER, "rpc_password": node.users[USER], "wallet": wallet}
    out = {}
    for keep in (True, False):
        backend = LitecoinBackend("LTC", options)
        backend.listing_rpc = node.client(wallet, USER, keep_alive=keep)
        backend.changes_since(cursor)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            backend.changes_since(cursor)
            times.append(time.perf_counter() - start)
        out[keep] = sorted(times)[len(times) // 2]
        backend.close()
    return out


def mine_all(node):
    """Mine until the mempool is empty (a block holds about 9 000 of these transactions);
    return the number of blocks and when the first one was mined."""
    blocks, first = 0, None
    while blocks == 0 or node.rpc("getmempoolinfo")["size"]:
        node.mine(1)
        blocks += 1
        first = first or time.monotonic()
    return blocks, first


def wait_txcount(node, wallet, count, timeout):
    rpc = node.client(wallet)
    try:
        return wait_until(lambda: rpc.call("getwalletinfo")["txcount"] >= count, timeout, 0.02)
    finally:
        rpc.close()


class ConfirmedProbe(threading.Thread):
    """Notes when the node's wallet lists every payment confirmed (no untrusted pending
    balance left): the node takes the block's wallet updates in after the block itself,
    holding the wallet lock, so this is when a listing can first show them confirmed."""

    def __init__(self, node, wallet, timeout):
        super().__init__(daemon=True)
        self.node, self.wallet, self.timeout, self.at = node, wallet, timeout, None

    def run(self):
        rpc = self.node.client(self.wallet)
        try:
            self.at = wait_until(lambda: rpc.call("getbalances")["mine"]["untrusted_pending"] == 0, self.timeout, 0.02)
        finally:
            rpc.close()


def bare_memory(tmp):
    """The baseline for memory: a bare Falcon app on the daemon's server config, idle."""
    with Bare(tmp, 1, 8) as bare:
        return daemon_memory(bare.proc.pid)


def run_transient(node, args, tmp, outpoints):
    """The burst against transientd; return its figures."""
    port = find_free_port()
    url = "http://127.0.0.1:%d" % port
    log = os.path.join(tmp, "pings.log")
    wallet_pings = args.wiring != "blocknotify"
    node.walletnotify = python_notify_command("transaction", "LTC", url, log) if wallet_pings else None
    if args.wiring == "gated":  # docs/guides/walletnotify.md, the line for volume: the turn is taken before Python
        node.walletnotify = "exec 9>>%s; flock -n 9 && exec %s || echo 'g 0 0' >>%s" % (
            os.path.join(tmp, "notify.lock"),
            node.walletnotify.replace(" --url ", " --turn-fd 9 --url ", 1),
            log,
        )
    node.blocknotify = python_notify_command("block", "LTC", url, log)
    node.restart()
    wallet = node.create_wallet("shop")
    db_url = args.db or "sqlite:///%s" % os.path.join(tmp, "transient.db")
    db = synthetic_payments(db_url, max(0, args.stored - args.n))
    daemon = start_daemon(
        tmp,
        db_url,
        node.coin_config(wallet, USER, poll=args.poll, extra="address_pool = %d" % min(args.n, 2000)),
        port=port,
    )
    try:
        started, since = time.perf_counter(), utcnow()
        addresses = create_payments(daemon.base, args.n)
        create_s = time.perf_counter() - started
        raws = sign_payments(node, "funder", outpoints[: args.n], [(a, AMOUNT) for a in addresses])
        node.rpc("unloadwallet", "funder")  # its spends must not notify: only the shop's wallet does
        time.sleep(1)
        before = health(daemon)
        memory_idle = daemon_memory(daemon.proc.pid)
        os.path.exists(log) and os.remove(log)
        offset = node.log_offset()
        base_txcount = node.rpc("getwalletinfo", wallet=wallet)["txcount"]
        with Monitor() as monitor:
            t0 = time.monotonic()
            broadcast(node, raws)
            t_sent = time.monotonic()
            t_listed = wait_txcount(node, wallet, base_txcount + args.n, args.timeout)
            t_pending = wait_until(lambda: status_count(S.PENDING, since) >= args.n, args.timeout, 0.02)
            wait_until(lambda: len(log_lines(log)) >= args.n * wallet_pings, args.timeout, 0.05)
            pings = log_lines(log)
            calls_mempool = node.rpc_calls(offset, USER)
            mid = health(daemon)  # (its node ping is not counted: the window is closed)
            memory_mid = daemon_memory(daemon.proc.pid)
            cursor = node.rpc("getbestblockhash")
            offset = node.log_offset()
            t_block = time.monotonic()
            probe = ConfirmedProbe(node, wallet, args.timeout)
            blocks, t_first = mine_all(node)
            probe.start()
            t_mined = time.monotonic()
            t_paid = wait_until(lambda: status_count(S.PAID, since) >= args.n, args.timeout, 0.02)
            probe.join()
            wait_until(lambda: len(log_lines(log)) >= 2 * args.n * wallet_pings + blocks, args.timeout, 0.05)
            all_pings = log_lines(log)
            calls_block = node.rpc_calls(offset, USER)
            after = health(daemon)
        memory_after = daemon_memory(daemon.proc.pid)
        # Then the burst is over: the next sync (a poll) lists nothing new, and a worker
        # still over [server] worker_memory_limit replaces itself (memory.Recycler).
        workers_before = set(memory_after) - {"total"}
        time.sleep(args.poll + 5)
        memory_settled = daemon_memory(daemon.proc.pid)
        replaced = bool(workers_before - set(memory_settled))
        stall = listing_stall(node, wallet, cursor, args.stall_repeat)
        flood_rate, flood_lat = flood_pings(daemon.base, args.flood)
    finally:
        daemon.kill()
        db.close()
    ends = sorted(float(p[1]) for p in pings if p[0] != "g")
    ok = [float(p[2]) for p in pings if p[0] == "202"]
    return {
        "wiring": args.wiring,
        # "c": coalesced in the script; "g": in the shell, before an interpreter started (gated)
        "pings_coalesced": sum(1 for p in pings if p[0] in ("c", "g")),
        "pings_gated": sum(1 for p in pings if p[0] == "g"),
        "pings_coalesced_block": sum(1 for p in all_pings[len(pings) :] if p[0] in ("c", "g")),
        "pings_gated_block": sum(1 for p in all_pings[len(pings) :] if p[0] == "g"),
        "n": args.n,
        "stored_payments": max(args.stored, args.n),
        "create_s": create_s,
        "broadcast_s": t_sent - t0,
        "listed_after_s": (t_listed - t0) if t_listed else None,
        "pending_after_listed_s": (t_pending - t_listed) if t_pending and t_listed else None,
        "paid_after_block_s": (t_paid - t_mined) if t_paid else None,
        "mine_s": t_mined - t_block,
        "paid_after_first_block_s": (t_paid - t_first) if t_paid else None,
        "blocks": blocks,
        "confirmed_listed_after_first_block_s": (probe.at - t_first) if probe.at else None,
        "paid_after_confirmed_listed_s": (t_paid - probe.at) if t_paid and probe.at else None,
        "pings": len(pings),
        "pings_failed": sum(1 for p in pings if p[0].startswith("e")),
        "pings_per_s": len(pings) / max(ends[-1] - ends[0], 1e-9) if len(ends) > 1 else None,
        "ping_p50_ms": percentile(ok, 50) * 1000,
        "ping_p99_ms": percentile(ok, 99) * 1000,
        "pings_block_phase": len(all_pings) - len(pings),
        "syncs_mempool": mid["syncs"] - before["syncs"],
        "syncs_block": after["syncs"] - mid["syncs"],
        "rpc_mempool": calls_mempool,
        "rpc_block": calls_block,
        "memory_idle_mb": memory_idle,
        "memory_mempool_mb": memory_mid,
        "memory_after_mb": memory_after,
        "memory_settled_mb": memory_settled,
        "worker_replaced": replaced,
        "bare_memory_mb": bare_memory(tmp),
        "peak_processes": monitor.peak_procs,
        "min_available_mb": monitor.min_avail_mb,
        "aborted": monitor.aborted,
        "listing_keepalive_ms": stall[True] * 1000,
        "listing_fresh_ms": stall[False] * 1000,
        "flood_pings_per_s": flood_rate,
        "flood_p50_ms": percentile(flood_lat, 50) * 1000,
        "flood_p99_ms": percentile(flood_lat, 99) * 1000,
    }


def run_seed(node, args, tmp, outpoints):
    """The same burst, smaller, against the seed's design; return its figures."""
    n = args.baseline_n
    log = os.path.join(tmp, "seed.log")
    db_path = os.path.join(tmp, "seed.db")
    node.rpc("loadwallet", "funder")
    wallet = node.create_wallet("seedshop")
    url = "%s/wallet/%s" % (node.rpc_url, wallet)
    node.walletnotify = "%s %s %s %s %s %s %s %%s" % (
        sys.executable,
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "_seed_notify.py"),
        db_path,
        url,
        SEED_USER,
        node.users[SEED_USER],
        log,
    )
    node.blocknotify = None  # the seed's block script re-read unconfirmed txs: walletnotify does that here
    addresses = node.client(wallet).batch([("getnewaddress", [])] * n)
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA journal_mode=wal")
        conn.execute(
            "CREATE TABLE seed_payment (address TEXT PRIMARY KEY, txid TEXT, confirmations INT,"
            " status TEXT DEFAULT 'UNPAID')"
        )
        conn.executemany("INSERT INTO seed_payment (address) VALUES (?)", [(a,) for a in addresses])
    raws = sign_payments(node, "funder", outpoints[args.n : args.n + n], [(a, AMOUNT) for a in addresses])
    node.rpc("unloadwallet", "funder")
    node.restart()

    def count(status):
        with sqlite3.connect(db_path, timeout=60) as conn:
            return conn.execute("SELECT count(*) FROM seed_payment WHERE status = ?", (status,)).fetchone()[0]

    offset = node.log_offset()
    base_txcount = node.rpc("getwalletinfo", wallet=wallet)["txcount"]
    with Monitor() as monitor:
        t0 = time.monotonic()
        broadcast(node, raws)
        t_listed = wait_txcount(node, wallet, base_txcount + n, args.timeout)
        t_pending = reached(lambda: count("PENDING"), n, lambda: len(log_lines(log)) >= n, args.timeout)
        pending = count("PENDING")
        wait_until(lambda: len(log_lines(log)) >= n, args.timeout, 0.05)
        pings = log_lines(log)
        calls_mempool = node.rpc_calls(offset, SEED_USER)
        offset = node.log_offset()
        probe = ConfirmedProbe(node, wallet, args.timeout)
        seed_blocks, t_first = mine_all(node)
        probe.start()
        t_mined = time.monotonic()
        t_paid = reached(lambda: count("PAID"), n, lambda: len(log_lines(log)) >= 2 * n, args.timeout)
        probe.join()
        paid = count("PAID")
        wait_until(lambda: len(log_lines(log)) >= 2 * n + seed_blocks, args.timeout, 0.05)
        calls_block = node.rpc_calls(offset, SEED_USER)
    ends = sorted(float(p[1]) for p in pings)
    ok = [float(p[2]) for p in pings if p[0] == "0"]
    return {
        "n": n,
        "reflected_pending": pending,
        "reflected_paid": paid,
        "listed_after_s": (t_listed - t0) if t_listed else None,
        "pending_after_listed_s": (t_pending - t_listed) if t_pending and t_listed else None,
        "paid_after_block_s": (t_paid - t_mined) if t_paid else None,
        "blocks": seed_blocks,
        "paid_after_first_block_s": (t_paid - t_first) if t_paid else None,
        "confirmed_listed_after_first_block_s": (probe.at - t_first) if probe.at else None,
        "paid_after_confirmed_listed_s": (t_paid - probe.at) if t_paid and probe.at else None,
        "pings": len(pings),
        "pings_failed": len(pings) - len(ok),
        "pings_per_s": len(pings) / max(ends[-1] - ends[0], 1e-9) if len(ends) > 1 else None,
        "ping_p50_ms": percentile(ok, 50) * 1000,
        "ping_p99_ms": percentile(ok, 99) * 1000,
        "rpc_mempool": calls_mempool,
        "rpc_block": calls_block,
        "peak_processes": monitor.peak_procs,
        "min_available_mb": monitor.min_avail_mb,
        "aborted": monitor.aborted,
    }


def report(ours, seed):
    def per_tx(calls, n):
        return sum(calls.values()) / n

    def ratio(a, b):
        return (a / b) if a and b else float("nan")

    ours_calls = sum(ours["rpc_mempool"].values()) + sum(ours["rpc_block"].values())
    seed_calls = sum(seed["rpc_mempool"].values()) + sum(seed["rpc_block"].values())
    rows = [
        ("payments (separate transactions)", ours["n"], seed["n"], float("nan")),
        (
            "pings absorbed per second",
            ours["pings_per_s"] or 0,
            seed["pings_per_s"] or 0,
            ratio(ours["pings_per_s"], seed["pings_per_s"]),
        ),
        (
            "sent ping latency p50, ms",
            ours["ping_p50_ms"],
            seed["ping_p50_ms"],
            ratio(seed["ping_p50_ms"], ours["ping_p50_ms"]),
        ),
        (
            "sent ping latency p99, ms",
            ours["ping_p99_ms"],
            seed["ping_p99_ms"],
            ratio(seed["ping_p99_ms"], ours["ping_p99_ms"]),
        ),
        (
            "pings sent (others coalesced before sending)",
            ours["pings"] - ours["pings_coalesced"] - ours["pings_failed"],
            seed["pings"] - seed["pings_failed"],
            float("nan"),
        ),
        ("failed pings", ours["pings_failed"], seed["pings_failed"], float("nan")),
        (
            "node lists last tx -> all PENDING, s",
            ours["pending_after_listed_s"] or -1,
            seed["pending_after_listed_s"] or -1,
            ratio(seed["pending_after_listed_s"], ours["pending_after_listed_s"]),
        ),
        (
            "first block mined -> all PAID, s",
            ours["paid_after_first_block_s"] or -1,
            seed["paid_after_first_block_s"] or -1,
            ratio(seed["paid_after_first_block_s"], ours["paid_after_first_block_s"]),
        ),
        (
            "first block -> node lists all confirmed, s",
            ours["confirmed_listed_after_first_block_s"] or -1,
            seed["confirmed_listed_after_first_block_s"] or -1,
            float("nan"),
        ),
        (
            "node lists all confirmed -> all PAID, s",
            ours["paid_after_confirmed_listed_s"] or -1,
            seed["paid_after_confirmed_listed_s"] or -1,
            ratio(seed["paid_after_confirmed_listed_s"], ours["paid_after_confirmed_listed_s"]),
        ),
        ("blocks that held the transactions", ours["blocks"], seed["blocks"], float("nan")),
        (
            "RPC calls by the gateway (mempool)",
            sum(ours["rpc_mempool"].values()),
            sum(seed["rpc_mempool"].values()),
            float("nan"),
        ),
        (
            "RPC calls by the gateway (block)",
            sum(ours["rpc_block"].values()),
            sum(seed["rpc_block"].values()),
            float("nan"),
        ),
        (
            "RPC calls per paid payment",
            ours_calls / ours["n"],
            seed_calls / seed["n"],
            ratio(seed_calls / seed["n"], ours_calls / ours["n"]),
        ),
        ("peak processes on the machine", ours["peak_processes"], seed["peak_processes"], float("nan")),
    ]
    print_table(
        "burst: transient (cursor sync, coalesced pings) vs the seed (gettransaction per notification)",
        ["figure", "transient", "seed", "better by"],
        rows,
        ["%s", "%.2f", "%.2f", "%.1fx"],
    )
    print(
        "\ntransient (%s wiring): %d syncs for %d mempool pings, %d syncs for %d block pings; RPC calls:"
        " mempool %s, block %s"
        % (
            ours["wiring"],
            ours["syncs_mempool"],
            ours["pings"],
            ours["syncs_block"],
            ours["pings_block_phase"],
            ours["rpc_mempool"],
            ours["rpc_block"],
        )
    )
    print(
        "pings that ended in the shell (gated, no interpreter started): %d of %d (mempool), %d of %d (block);"
        " in the script: %d, %d"
        % (
            ours["pings_gated"],
            ours["pings"],
            ours["pings_gated_block"],
            ours["pings_block_phase"],
            ours["pings_coalesced"] - ours["pings_gated"],
            ours["pings_coalesced_block"] - ours["pings_gated_block"],
        )
    )
    print(
        "seed: RPC calls: mempool %s, block %s; reflected %d of %d as PENDING, %d as PAID"
        % (seed["rpc_mempool"], seed["rpc_block"], seed["reflected_pending"], seed["n"], seed["reflected_paid"])
    )
    idle, after, bare = ours["memory_idle_mb"], ours["memory_after_mb"], ours["bare_memory_mb"]
    worker = lambda m: max((v for k, v in m.items() if k != "total"), key=lambda v: v["rss"])  # noqa: E731
    rows = [
        ("pings per second, keep-alive flood of the endpoint", ours["flood_pings_per_s"], float("nan")),
        ("  latency p50 / p99, ms", ours["flood_p50_ms"], ours["flood_p99_ms"]),
        (
            "listing of the burst: kept-alive / fresh connection, ms",
            ours["listing_keepalive_ms"],
            ours["listing_fresh_ms"],
        ),
    ]
    print_table(
        "transient alone (%d payments stored)" % ours["stored_payments"],
        ["figure", "a", "b"],
        rows,
        ["%s", "%.1f", "%.1f"],
    )
    mid, settled = ours["memory_mempool_mb"], ours["memory_settled_mb"]
    rows = [
        (
            "%s, MB (master + worker)" % kind.upper(),
            idle["total"][kind],
            mid["total"][kind],
            after["total"][kind],
            settled["total"][kind],
            bare["total"][kind],
            settled["total"][kind] / bare["total"][kind],
        )
        for kind in ("pss", "uss", "rss")
    ]
    rows += [
        (
            "  worker alone %s, MB" % kind.upper(),
            worker(idle)[kind],
            worker(mid)[kind],
            worker(after)[kind],
            worker(settled)[kind],
            worker(bare)[kind],
            worker(settled)[kind] / worker(bare)[kind],
        )
        for kind in ("pss", "rss")
    ]
    print_table(
        "daemon memory (%d payments stored): PSS adds up to what the processes cost the machine; the"
        " worker was %sreplaced once the burst was over"
        % (ours["stored_payments"], "" if ours["worker_replaced"] else "not "),
        ["figure", "idle", "after mempool burst", "after blocks", "burst over", "bare app idle", "over / bare"],
        rows,
        ["%s", "%.1f", "%.1f", "%.1f", "%.1f", "%.1f", "%.2fx"],
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10000, help="payments, each paid by its own transaction")
    parser.add_argument("--baseline-n", type=int, default=500, help="payments for the seed's design")
    parser.add_argument("--stored", type=int, default=100000, help="payments in the database (synthetic + N)")
    parser.add_argument("--flood", type=int, default=20000, help="pings in the keep-alive flood")
    parser.add_argument("--poll", type=int, default=5, help="the daemon's fallback poll interval (s)")
    parser.add_argument("--stall-repeat", type=int, default=5, help="listings timed per connection kind")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for each phase")
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument(
        "--wiring",
        choices=("script", "gated", "blocknotify"),
        default="gated",
        help="script: walletnotify and blocknotify run transient-notify; gated: walletnotify"
        " takes the ping turn in the shell first (the line for volume of docs/guides/walletnotify.md); blocknotify:"
        " only blocknotify is wired, new transactions wait for the poll",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--smoke", action="store_true", help="tiny size: proves the bench runs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.baseline_n, args.stored, args.flood, args.stall_repeat, args.timeout = 30, 10, 500, 400, 2, 120
    with tempfile.TemporaryDirectory(prefix="transient-bench-") as tmp:
        node = BenchNode(os.path.join(tmp, "node"), users=(USER, SEED_USER))
        node.start()
        try:
            node.setup()
            node.create_wallet("funder")
            started = time.perf_counter()
            outpoints = fund(node, "funder", args.n + args.baseline_n, FUNDING)
            print("funded %d outputs in %.1f s" % (len(outpoints), time.perf_counter() - started))
            ours = run_transient(node, args, tmp, outpoints)
            seed = run_seed(node, args, tmp, outpoints) if args.baseline_n else None
        finally:
            node.stop()
    if seed is None:
        print(json.dumps(ours, indent=2, default=str))
    else:
        report(ours, seed)
    write_json(args.json, {"transient": ours, "seed": seed})


if __name__ == "__main__":
    main()
