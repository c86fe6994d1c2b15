"""The devnet's directory (``transient devnet`` and ``./scripts/run``): its regtest node,
the config that points a daemon at it, the daemon's pid, up and down."""

import json
import os
import secrets
import shlex
import shutil
import signal
import time

from .node import DevnetError, RegtestNode, find_free_port, litecoind_available, notify_command, port_free

DEFAULT_DIR = ".devnet"
#: Transient's checkout (the directory of scripts/run), when run from one.
CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INSTALL_HINT = (
    "litecoind is not installed: on Debian 12 run `sudo apt-get install litecoind`"
    " (or put Litecoin Core's litecoind on PATH)"
)

_CONFIG = """\
# Written by `transient devnet up` (and again at each `up`): transientd and the
# transient CLI against the devnet's private Litecoin Core regtest node.
# Test coins only. Start the daemon (and this node, when stopped) with:
#   %(start)s
# Ctrl-C there stops the daemon, and the node if that command started it.

[server]
bind = "127.0.0.1:%(api_port)d"

[database]
url = %(db_url)s
auto_migrate = true

[coins.%(currency)s]
backend = "%(backend)s"
rpc_url = "http://127.0.0.1:%(rpc_port)d"
rpc_user = "%(rpc_user)s"
rpc_password = "%(rpc_password)s"
wallet = "%(wallet)s"
confirmations = 1
# walletnotify and blocknotify ping the daemon at once; this poll is the fallback.
poll_interval = 10
"""


class Devnet:
    """A private regtest node kept running between commands, for ``transient devnet``.

    Its directory holds the node's datadir (``node/``), ``devnet.json`` (ports, RPC
    password, pid), the daemon's ``config.toml`` and the SQLite database. The node's
    walletnotify/blocknotify run ``transient-notify`` (transient/chain/notify_script.py).
    """

    CURRENCY, BACKEND = "LTC", "litecoin"
    MERCHANT, PAYER = "merchant", "payer"
    API_PORT = 8080

    def __init__(self, directory=DEFAULT_DIR, binary="litecoind"):
        self.directory = os.path.abspath(directory)
        self.binary = binary
        self.state = self._read_state()

    def path(self, name):
        return os.path.join(self.directory, name)

    @property
    def config_path(self):
        return self.path("config.toml")

    @property
    def api_url(self):
        return "http://127.0.0.1:%d" % self.state["api_port"]

    def _read_state(self):
        try:
            with open(self.path("devnet.json")) as fh:
                return json.load(fh)
        except FileNotFoundError:
            return None
        except ValueError:
            raise DevnetError(
                "%s is damaged: remove %s and run `transient devnet up` again"
                % (self.path("devnet.json"), self.directory)
            ) from None

    def _write(self, name, text, mode=0o600):
        # The files hold the node's RPC password: readable by their owner only.
        fd = os.open(self.path(name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)

    def node(self):
        """Return the devnet's :class:`RegtestNode`; raise DevnetError when there is none."""
        if self.state is None:
            raise DevnetError("no devnet in %s: run `transient devnet up` first" % self.directory)
        node = RegtestNode(
            self.path("node"),
            rpc_port=self.state["rpc_port"],
            binary=self.binary,
            rpc_password=self.state["rpc_password"],
            pid=self.state.get("pid"),
            walletnotify=self.notify_command("transaction"),
            blocknotify=self.notify_command("block"),
        )
        node.merchant, node.payer = self.MERCHANT, self.PAYER
        return node

    @property
    def running(self):
        return self.state is not None and self.node().running

    def notify_command(self, kind):
        """The node's walletnotify/blocknotify: the stdlib-only ``transient-notify``,
        fast to start (no site-packages), so a burst of events does not load the machine."""
        lock = os.path.join(self.directory, "notify.lock") if kind == "transaction" else None
        return notify_command(kind, self.CURRENCY, self.api_url, lock=lock)

    def up(self, api_port=None):
        """Start the node (creating the wallets and mining mature coins the first time)
        and write the daemon's config. Return ``(state, started)``; ``started`` is False
        when the devnet was already running. Raises DevnetError."""
        if not litecoind_available(self.binary):
            raise DevnetError(INSTALL_HINT)
        if self.running:
            return self.state, False
        state = dict(self.state or {}, currency=self.CURRENCY, wallet=self.MERCHANT, payer=self.PAYER)
        state["api_port"] = (
            api_port or state.get("api_port") or (self.API_PORT if port_free(self.API_PORT) else find_free_port())
        )
        if not (state.get("rpc_port") and port_free(state["rpc_port"])):
            state["rpc_port"] = find_free_port()
        state.setdefault("rpc_password", secrets.token_hex(16))
        state["pid"] = None
        self.state = state
        os.makedirs(self.directory, exist_ok=True)
        node = self.node()
        if not os.path.isdir(os.path.join(node.datadir, "regtest", "wallets", self.PAYER)):
            self._first_setup()
        node.start(detach=True)
        try:
            node.load_wallets()
            node.setup(self.MERCHANT, self.PAYER)
        except BaseException:
            node.stop()
            raise
        state["pid"] = node.pid
        self._write("devnet.json", json.dumps(state, indent=2) + "\n")
        self._write("config.toml", self.config_text())
        return state, True

    def _first_setup(self):
        # Without notify commands: mining to maturity would start ~200 pings
        # for a daemon that is not running yet.
        node = RegtestNode(
            self.path("node"),
            rpc_port=self.state["rpc_port"],
            binary=self.binary,
            rpc_password=self.state["rpc_password"],
        )
        node.start()
        try:
            node.setup(self.MERCHANT, self.PAYER)
        finally:
            node.stop()

    def config_text(self):
        """Return the daemon's config for this devnet (TOML)."""
        db_path = self.path("transient.db")
        return _CONFIG % dict(
            self.state,
            start=self.start_line(),
            currency=self.CURRENCY,
            backend=self.BACKEND,
            rpc_user="transient",
            db_url=json.dumps("sqlite:///" + db_path),
        )

    def start_line(self):
        """The one command that starts the daemon on this devnet: ``./scripts/run``, which
        finds ``.devnet`` in its working directory (or TRANSIENT_DEVNET_DIR)."""
        script = os.path.join(CHECKOUT, "scripts", "run")
        run = script if os.path.exists(script) else "scripts/run"
        parent, name = os.path.split(self.directory)
        if name != DEFAULT_DIR:
            return "TRANSIENT_DEVNET_DIR=%s %s" % (shlex.quote(self.directory), shlex.quote(run))
        if parent == CHECKOUT:
            return "./scripts/run   (in %s)" % CHECKOUT
        return "cd %s && %s" % (shlex.quote(parent), shlex.quote(run))

    def record_daemon(self, pid):
        """Note the pid of the transientd that ./scripts/run started on this devnet (None
        once it stopped): ``down`` stops that one, and only says so of any other."""
        if self.state is not None:
            self.state["daemon_pid"] = pid
            self._write("devnet.json", json.dumps(self.state, indent=2) + "\n")

    def daemon_pid(self):
        """The pid of the recorded transientd when it still runs, else None."""
        pid = (self.state or {}).get("daemon_pid")
        if not pid:
            return None
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as fh:
                return pid if b"transientd" in fh.read() else None
        except OSError:
            return None

    def stop_daemon(self, timeout=60):
        """SIGTERM the recorded transientd and wait for it to exit; return True when one ran."""
        pid = self.daemon_pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.daemon_pid() and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.daemon_pid():
            os.kill(pid, signal.SIGKILL)
        return True

    def down(self, purge=False):
        """Stop the node (its chain and wallets are kept unless ``purge``); return
        True when it was running."""
        was_running = False
        if self.state is not None:
            node = self.node()
            was_running = node.running
            node.stop()
            self.state["pid"] = None
            self._write("devnet.json", json.dumps(self.state, indent=2) + "\n")
        if purge and os.path.isdir(self.directory):
            shutil.rmtree(self.directory)
            self.state = None
        return was_running
