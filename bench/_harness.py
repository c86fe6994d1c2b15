"""Shared parts of the benchmarks that run against a regtest node and a real daemon.

Not a benchmark itself (CI skips files starting with "_"). The node logs every RPC
call with the user that made it (``-debug=rpc``): the daemon, the benchmark and a
baseline each get their own RPC user, so calls are counted per caller from the log.
"""

import hashlib
import hmac
import json
import os
import re
import secrets
import subprocess
import sys
import time
from decimal import Decimal

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))  # the daemon launcher the e2e tests use

from _daemon import Daemon  # noqa: E402
from _pgbouncer import fresh_database  # noqa: E402

from transient.devnet.node import RegtestNode, find_free_port  # noqa: E402
from transient_backends.rpc import RPCClient  # noqa: E402

FEE = Decimal("0.00001")
_RPC_LINE = re.compile(rb"ThreadRPCServer method=(\S+) user=(\S+)")


class BenchNode(RegtestNode):
    """A regtest node that logs RPC calls and knows extra RPC users (``users``: name -> password)."""

    def __init__(self, datadir, users=(), **kw):
        super().__init__(datadir, **kw)
        self.users = {name: secrets.token_hex(12) for name in users}

    def command(self):
        args = super().command() + [
            "-debug=rpc",
            "-maxmempool=1000",
            "-limitancestorcount=1000",
            "-limitdescendantcount=1000",
        ]
        for name, password in self.users.items():
            salt = secrets.token_hex(16)
            digest = hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest()
            args.append("-rpcauth=%s:%s$%s" % (name, salt, digest))
        return args

    def client(self, wallet=None, user=None, keep_alive=True, timeout=600):
        user = user or self.rpc_user
        password = self.users.get(user, self.rpc_password)
        return RPCClient(self.rpc_url, user, password, wallet=wallet, timeout=timeout, keep_alive=keep_alive)

    def coin_config(self, wallet, user, poll, extra=""):
        """The daemon's [coins.LTC] section for ``wallet``, connecting as ``user``."""
        return (
            '[coins.LTC]\nbackend = "litecoin"\nrpc_url = "%s"\nrpc_user = "%s"\nrpc_password = "%s"\n'
            'wallet = "%s"\nconfirmations = 1\npoll_interval = %d\n%s\n'
            % (self.rpc_url, user, self.users[user], wallet, poll, extra)
        )

    def log_offset(self):
        return os.path.getsize(self.log_path)

    def rpc_calls(self, since, user):
        """Return ``{method: count}`` of the RPC calls ``user`` made since log offset ``since``."""
        counts = {}
        with open(self.log_path, "rb") as fh:
            fh.seek(since)
            for match in _RPC_LINE.finditer(fh.read()):
                if match.group(2).decode() == user:
                    method = match.group(1).decode()
                    counts[method] = counts.get(method, 0) + 1
        return counts


def fund(node, wallet, count, amount, chunk=1000):
    """Give ``wallet`` ``count`` confirmed outputs of ``amount`` from the payer; return
    ``[(txid, vout), ...]`` (one sendmany per ``chunk`` outputs, then one block)."""
    rpc = node.client(wallet)
    outpoints = []
    for start in range(0, count, chunk):
        addresses = rpc.batch([("getnewaddress", [])] * min(chunk, count - start))
        txid = node.sendmany({a: amount for a in addresses})
        tx = node.rpc("gettransaction", txid, wallet="payer")
        vouts = {
            o["scriptPubKey"]["addresses"][0]: o["n"]
            for o in node.rpc("decoderawtransaction", tx["hex"])["vout"]
            if "addresses" in o["scriptPubKey"]
        }
        outpoints += [(txid, vouts[a]) for a in addresses]
        if (start // chunk) % 2 == 1:
            node.mine(1)  # the chain of unconfirmed change must stay under the ancestor size limit
    node.mine(1)
    rpc.close()
    return outpoints


def sign_payments(node, wallet, outpoints, pays, batch=500):
    """Return signed raw transactions, one per ``(address, amount)`` of ``pays``, each
    spending one outpoint of ``wallet`` (nothing is broadcast)."""
    rpc = node.client(wallet)
    raws = []
    for start in range(0, len(pays), batch):
        chunk = list(zip(outpoints[start : start + batch], pays[start : start + batch]))
        made = rpc.batch(
            [("createrawtransaction", [[{"txid": t, "vout": v}], {a: amount}]) for (t, v), (a, amount) in chunk]
        )
        raws += [s["hex"] for s in rpc.batch([("signrawtransactionwithwallet", [r]) for r in made])]
    rpc.close()
    return raws


def broadcast(node, raws, batch=250):
    """Send raw transactions in JSON-RPC batches; return their txids."""
    rpc = node.client()
    txids = []
    for start in range(0, len(raws), batch):
        txids += rpc.batch([("sendrawtransaction", [r]) for r in raws[start : start + batch]])
    rpc.close()
    return txids


def wait_until(predicate, timeout, interval=0.01):
    """Poll ``predicate`` until true; return the monotonic time it first was, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(interval)
    return None


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def process_tree(pid):
    """Return ``[pid, child pids...]`` (one level: gunicorn's master and its workers)."""
    pids = [pid]
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as fh:
            pids += [int(p) for p in fh.read().split()]
    except OSError:
        pass
    return pids


def memory_mb(pid):
    """``{"rss", "pss", "uss"}`` of ``pid`` in MB (/proc/PID/smaps_rollup).

    RSS counts every page the process maps, shared ones in full: a gunicorn worker shares
    what the master loaded before the fork, and both share the libraries with every other
    Python process. PSS charges each shared page to its processes in equal parts, so the
    PSS of the master and its workers add up to what the daemon costs the machine; USS is
    what a process alone holds (freed if it exited)."""
    found = {"rss": 0.0, "pss": 0.0, "uss": 0.0}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as fh:
            for line in fh:
                name, _, rest = line.partition(":")
                kb = rest.split()
                if not kb or not kb[0].isdigit():
                    continue
                if name == "Rss":
                    found["rss"] = int(kb[0]) / 1024
                elif name == "Pss":
                    found["pss"] = int(kb[0]) / 1024
                elif name in ("Private_Clean", "Private_Dirty"):
                    found["uss"] += int(kb[0]) / 1024
    except OSError:
        pass
    return found


def daemon_memory(pid):
    """``{pid: memory_mb(pid)}`` of gunicorn's master ``pid`` and its workers, and the
    sums under ``"total"``."""
    found = {p: memory_mb(p) for p in process_tree(pid)}
    found["total"] = {k: sum(m[k] for m in found.values()) for k in ("rss", "pss", "uss")}
    return found


def print_table(title, header, rows, formats):
    """Print ``rows`` under ``header``; ``formats`` are %-formats per column."""
    print("\n" + title)
    widths = [
        max(len(h), *(len(f % r[i]) for r in rows)) if rows else len(h) for i, (h, f) in enumerate(zip(header, formats))
    ]
    print("  ".join(h.rjust(w) if i else h.ljust(w) for i, (h, w) in enumerate(zip(header, widths))))
    for row in rows:
        print(
            "  ".join(
                (f % v).rjust(w) if i else (f % v).ljust(w) for i, (v, f, w) in enumerate(zip(row, formats, widths))
            )
        )


def write_json(path, data):
    if path:
        with open(path, "w") as fh:
            json.dump(data, fh, indent=2, default=str)
        print("\nfigures written to %s" % path)


def python_notify_command(kind, currency, url, log_path):
    """walletnotify/blocknotify running the shipped script through bench/_timed_notify.py,
    which logs how long each ping took (``python3 -I -S``, as docs/guides/walletnotify.md says)."""
    return "%s -I -S %s %s --url %s %s %s %%s" % (
        sys.executable,
        os.path.join(ROOT, "bench", "_timed_notify.py"),
        log_path,
        url,
        kind,
        currency,
    )


def start_daemon(
    workdir, db_url, coins, port=None, workers=1, threads=8, log_level="WARNING", extra="", worker=None, env=None
):
    """transientd on the daemon's own server config (default: 1 worker, 8 threads).
    ``worker="gthread"``: the same daemon served by gunicorn's plain gthread worker
    (bench/_gthread_daemon.py), the baseline of transientd's own worker."""
    daemon = Daemon(
        workdir, db_url, coins, workers=workers, threads=threads, port=port, log_level=log_level, extra=extra, env=env
    )
    if worker == "gthread":
        daemon.script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_gthread_daemon.py")
    return daemon.start(timeout=120)


def subprocess_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSIENT_")}
    env["PYTHONPATH"] = ROOT
    return env


def run_quiet(args, **kw):
    return subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


class Bare:
    """The bare Falcon app of bench/_bare_app.py on the daemon's server config.
    ``worker="daemon"``: under transientd's own master and worker settings; ``bodies``
    (``{"get": {id: text}, "post": body}``): the daemon's own answers to serve."""

    def __init__(self, workdir, workers, threads, worker="gthread", bodies=None, log_level="WARNING"):
        self.worker = worker
        self.port = find_free_port()
        self.config = os.path.join(workdir, "bare-%d.toml" % self.port)
        with open(self.config, "w") as fh:
            fh.write('[server]\nbind = "127.0.0.1:%d"\nworkers = %d\nthreads = %d\n' % (self.port, workers, threads))
            fh.write('[log]\nlevel = "%s"\n' % log_level)
            fh.write('[coins.LTC]\nbackend = "litecoin"\nrpc_url = "http://127.0.0.1:1"\n')
        self.bodies = None
        if bodies is not None:
            self.bodies = os.path.join(workdir, "bare-%d.json" % self.port)
            with open(self.bodies, "w") as fh:
                json.dump(bodies, fh)
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(
            [
                sys.executable,
                os.path.join(os.path.dirname(__file__), "_bare_app.py"),
                self.config,
                "--worker",
                self.worker,
                *(("--bodies", self.bodies) if self.bodies else ()),
            ],
            env=subprocess_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_until(self._up, 30, 0.1):
            raise RuntimeError("the bare app did not start")
        return self

    def _up(self):
        try:
            return requests.get("http://127.0.0.1:%d/healthz" % self.port, timeout=1).ok
        except requests.ConnectionError:
            return False

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:  # transientd's master waits graceful_timeout (60 s)
            self.proc.kill()
            self.proc.wait(30)


PG_ADMIN = os.environ.get("TRANSIENT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def database_url(kind, tmp, name="transient"):
    """``(url, drop)`` of a fresh database of ``kind``: ``sqlite`` a file ``name``.db in
    ``tmp``; ``postgresql`` a new database on the machine's server (``drop`` removes it)."""
    if kind == "sqlite":
        return "sqlite:///%s" % os.path.join(tmp, "%s.db" % name.replace(" ", "-")), (lambda: None)
    created, drop = fresh_database(PG_ADMIN, prefix="transient_bench_")
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + created, drop
