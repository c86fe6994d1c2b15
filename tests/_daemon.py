"""A real transientd process for end-to-end tests, and a small HTTP client for it."""

import os
import signal
import subprocess
import sys
import time

import requests

from transient.devnet.node import find_free_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def coin_config(node, wallet, currency="LTC", backend="litecoin", poll=1, confirmations=1, address_pool=None):
    """A ``[coins.X]`` section for ``node``'s wallet ``wallet`` (None: the node's one
    wallet, as on Dogecoin Core 1.14, which has no ``/wallet/NAME``)."""
    text = """
[coins.{currency}]
backend = "{backend}"
rpc_url = "{url}"
rpc_user = "{user}"
rpc_password = "{password}"
confirmations = {confirmations}
poll_interval = {poll}
""".format(
        currency=currency,
        backend=backend,
        url=node.rpc_url,
        user=node.rpc_user,
        password=node.rpc_password,
        confirmations=confirmations,
        poll=poll,
    )
    if address_pool is not None:
        text += "address_pool = %d\n" % address_pool
    return text + ('wallet = "%s"\n' % wallet if wallet is not None else "")


_started = []  # every Daemon started by this process: kill_all() ends those still running


def kill_all():
    """SIGKILL every daemon this process started that still runs (a test that failed
    before its own clean-up must not leave one syncing the next tests' database)."""
    while _started:
        _started.pop().kill()


class Daemon:
    """transientd in its own process group, configured by a TOML text. ``script`` is the
    program run with ``--config`` (a bench runs transientd under another worker)."""

    script = os.path.join(ROOT, "transientd.py")

    def __init__(
        self, workdir, db_url, coins, workers=1, extra="", env=None, port=None, threads=4, log_level="DEBUG", prefix=()
    ):
        self.workdir = workdir
        self.prefix = list(prefix)  # a command the daemon runs under (e.g. unshare for a host name of its own)
        self.port = port or find_free_port()
        self.config_path = os.path.join(workdir, "config-%d.toml" % self.port)
        with open(self.config_path, "w") as fh:
            fh.write('[server]\nbind = "127.0.0.1:%d"\nworkers = %d\nthreads = %d\n' % (self.port, workers, threads))
            fh.write('[database]\nurl = "%s"\nauto_migrate = true\n[sync]\nlease_seconds = 10\n' % db_url)
            fh.write('[log]\nlevel = "%s"\n%s\n%s\n' % (log_level, extra, coins))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSIENT_")}
        self.env.update(env or {})
        self.log_path = os.path.join(workdir, "transientd-%d.log" % self.port)
        self.proc = None
        self.http = requests.Session()
        # No kept-alive connection of ours: a stopping worker waits for those (gunicorn's
        # linger, 2 s), which every restart of a test would pay.
        self.http.headers["Connection"] = "close"

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=30, healthy=True):
        """Start it and wait until it answers /healthz; with ``healthy=False`` only until its
        master listens (a daemon whose fault point kills each worker as it boots may never
        answer, and a test of that does not wait for an answer)."""
        _started.append(self)
        self.proc = subprocess.Popen(
            self.prefix + [sys.executable, self.script, "--config", self.config_path],
            cwd=self.workdir,
            env=self.env,
            stdout=open(self.log_path, "ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("transientd exited with %s:\n%s" % (self.proc.returncode, self.log()))
            if not healthy and "Booting worker" in self.log():
                return self
            try:
                self.http.get(self.base + "/healthz", timeout=2)
                return self
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError):
                # not listening yet, or listening while its worker still boots (a busy machine),
                # or a worker that a fault point killed while it answered
                time.sleep(0.1)
        self.kill()  # left running, it would go on syncing the test's database under the next tests
        raise RuntimeError("transientd did not answer within %ss:\n%s" % (timeout, self.log()))

    def stop(self, timeout=60):
        """SIGTERM, as systemd stops it; return the exit code."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout)
        return self.proc.returncode

    def kill(self):
        """SIGKILL the master and its workers at once (no clean-up)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def log(self):
        with open(self.log_path, errors="replace") as fh:
            return fh.read()

    # -- HTTP helpers ----------------------------------------------------------

    def get(self, path, **kw):
        return self.http.get(self.base + path, timeout=30, **kw)

    def post(self, path, **kw):
        return self.http.post(self.base + path, timeout=30, **kw)

    def create(self, **body):
        resp = self.post("/payments", json=body)
        assert resp.status_code == 201, resp.text
        return resp.json()["payment"]

    def payment(self, pid):
        resp = self.get("/payments/%s" % pid)
        assert resp.status_code == 200, resp.text
        return resp.json()["payment"]

    def wait_status(self, pid, status, timeout=20):
        deadline = time.monotonic() + timeout
        payment = None
        while time.monotonic() < deadline:
            payment = self.payment(pid)
            if payment["status"] == status:
                return payment
            time.sleep(0.1)
        raise AssertionError(
            "payment %s is %s, not %s, after %ss" % (pid, payment and payment["status"], status, timeout)
        )


def wait_for(predicate, timeout=20, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met within %ss" % timeout)


def ping(daemon, kind="transaction", value="0" * 64, currency="LTC"):
    """POST a notify ping to ``daemon`` as the node's walletnotify/blocknotify would."""
    resp = daemon.post("/notify/%s/%s/%s" % (currency, kind, value))
    assert resp.status_code == 202, resp.text


def start_with_wallets(node):
    """Start a stopped regtest node again with every wallet it had loaded."""
    node.start()
    node.load_wallets()
