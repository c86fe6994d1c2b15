"""A throwaway Litecoin Core regtest node: for the test suite and ``transient devnet``.

    node = RegtestNode("/tmp/devnet")
    node.start(); node.setup()
    txid = node.pay(address, "1.5"); node.mine(1)
    node.stop()

:class:`Devnet` keeps such a node running between commands (``transient devnet up``),
with its state in a directory and a config the daemon runs with.
"""

import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal

from transient_backends.rpc import RPCClient

from ..core.errors import NodeAuthError, NodeError, NodeUnreachable, RPCError

COINBASE_MATURITY = 100
#: The walletnotify/blocknotify script (stdlib only; scripts/transient-notify links to it).
NOTIFY_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "chain", "notify_script.py")


class DevnetError(Exception):
    """The node would not start, or a helper could not do what it was asked."""


def litecoind_available(binary="litecoind"):
    """Return True when the litecoind binary is on PATH (or is an existing path)."""
    return shutil.which(binary) is not None


def find_free_port():
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RegtestNode:
    """One litecoind -regtest process with its own datadir and RPC credentials.

    The class attributes say what a coin's node differs in; transient/devnet/coins.py
    has Bitcoin Core's and Dogecoin Core's (docs/reference/nodes.md)."""

    RPC_SERVER_TIMEOUT = 3
    KEYPOOL = 100  # keys made per new wallet: the default 1000 makes createwallet ~0.9 s
    CURRENCY = "LTC"
    DAEMON = "litecoind"  # the program's name, on PATH
    MATURITY = COINBASE_MATURITY  # blocks before a coinbase can be spent
    MULTIWALLET = True  # createwallet/loadwallet and /wallet/NAME (Dogecoin 1.14 has one wallet)
    EXTRA_ARGS = ()

    def __init__(
        self,
        datadir,
        rpc_port=None,
        p2p_port=None,
        walletnotify=None,
        blocknotify=None,
        binary=None,
        rpc_password=None,
        pid=None,
    ):
        self.datadir = os.path.abspath(datadir)
        self.rpc_port = rpc_port
        self.p2p_port = p2p_port
        self.walletnotify = walletnotify
        self.blocknotify = blocknotify
        self.binary = binary or self.DAEMON
        self.rpc_user = "transient"
        self.rpc_password = rpc_password or secrets.token_hex(16)
        self.merchant = self.payer = None  # wallet names, once setup() ran
        self.process = None
        self.pid = pid  # of a node another process started (a devnet), else of ours
        self._clients = {}

    @property
    def rpc_url(self):
        return "http://127.0.0.1:%d" % self.rpc_port

    @property
    def log_path(self):
        return os.path.join(self.datadir, self.DAEMON + ".log")

    # -- process -------------------------------------------------------------

    def command(self):
        """Return the argv that starts the node (notify commands passed as single args,
        so their %s placeholders reach the node untouched by any shell)."""
        args = [
            self.binary,
            "-regtest",
            "-server",
            "-daemon=0",
            "-datadir=" + self.datadir,
            "-rpcuser=" + self.rpc_user,
            "-rpcpassword=" + self.rpc_password,
            "-rpcport=%d" % self.rpc_port,
            "-rpcbind=127.0.0.1",
            "-rpcallowip=127.0.0.1",
            "-fallbackfee=0.0001",
            "-txindex=0",
            "-printtoconsole=1",
            "-shrinkdebugfile=1",
            # Shutdown waits for open keep-alive connections to time out (default 30 s).
            "-rpcservertimeout=%d" % self.RPC_SERVER_TIMEOUT,
            "-keypool=%d" % self.KEYPOOL,
            *self.EXTRA_ARGS,
        ]
        if self.p2p_port:
            # whitelist: a loopback peer gets inventory at once, not on the ~5 s trickle.
            args += ["-listen=1", "-bind=127.0.0.1:%d" % self.p2p_port, "-whitelist=127.0.0.1", "-discover=0"]
        else:
            args.append("-listen=0")
        if self.walletnotify:
            args.append("-walletnotify=" + self.walletnotify)
        if self.blocknotify:
            args.append("-blocknotify=" + self.blocknotify)
        return args

    def start(self, timeout=60, detach=False):
        """Start the node and return once its RPC answers; raise DevnetError with the
        tail of its log when it exits or does not answer in ``timeout`` seconds.

        ``detach`` starts it in a session of its own, to outlive this process and
        the terminal's Ctrl-C (the devnet).
        """
        os.makedirs(self.datadir, exist_ok=True)
        self.rpc_port = self.rpc_port or find_free_port()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=detach
            )
        self.pid = self.process.pid
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._close_clients()
                raise DevnetError("%s exited with %s:\n%s" % (self.DAEMON, self.process.returncode, self.log_tail()))
            try:
                self.rpc("getblockcount")
                return self
            except (NodeUnreachable, RPCError, NodeAuthError):
                # Still starting: RPC refuses or answers -28 "Loading...". A 401 is
                # another node on this port; ours will exit on the bind failure.
                time.sleep(0.1)
        self.kill()
        self._close_clients()
        raise DevnetError("%s did not answer RPC in %ss:\n%s" % (self.DAEMON, timeout, self.log_tail()))

    def stop(self, timeout=30):
        """Stop the node through RPC; kill it if it has not exited after ``timeout`` s."""
        if not self.running:
            self._close_clients()
            return
        try:
            self.rpc("stop")
        except NodeError:
            pass
        self._close_clients()
        if self.process is not None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
            return
        deadline = time.monotonic() + timeout
        while self.running and time.monotonic() < deadline:
            time.sleep(0.1)
        self.kill()

    def _close_clients(self):
        for client in self._clients.values():
            client.close()
        self._clients = {}

    def kill(self):
        if not self.running:
            return
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            return
        os.kill(self.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.running and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self):
        # Wallets created at run time are not reloaded by default: load them again.
        wallets = self.rpc("listwallets")
        self.stop()
        self.start()
        loaded = set(self.rpc("listwallets"))  # a wallet made with load_on_startup is back already
        for name in wallets:
            if name not in loaded:
                self.rpc("loadwallet", name)
        return self

    @property
    def running(self):
        if self.process is not None:
            return self.process.poll() is None
        return self.pid is not None and _node_alive(self.pid, self.datadir)

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- RPC -----------------------------------------------------------------

    def rpc(self, method, *params, wallet=None):
        """Call ``method`` (on ``wallet`` if given) and return its result; Decimals go
        out and come back exact. Raises the NodeError subclasses of transient.errors."""
        client = self._clients.get(wallet)
        if client is None:
            client = self._clients[wallet] = RPCClient(
                self.rpc_url, self.rpc_user, self.rpc_password, wallet=wallet, timeout=120
            )
        return client.call(method, *params)

    # -- chain helpers -------------------------------------------------------

    def create_wallet(self, name):
        """Create and load a wallet called ``name``; return the name."""
        self.rpc("createwallet", name)
        return name

    def setup(self, merchant="merchant", payer="payer"):
        """Create the merchant and payer wallets and mine mature coins to the payer."""
        loaded = set(self.rpc("listwallets"))
        for name in (merchant, payer):
            if name not in loaded:
                self.create_wallet(name)
        if self.rpc("getblockcount") <= self.MATURITY:
            self.mine(self.MATURITY + 1, wallet=payer)
        self.merchant, self.payer = merchant, payer
        return self

    def load_wallets(self):
        """Load every wallet of the datadir that is not loaded (they are not reloaded
        at start-up by default); return the names loaded."""
        loaded = set(self.rpc("listwallets"))
        names = [w["name"] for w in self.rpc("listwalletdir")["wallets"] if w["name"] and w["name"] not in loaded]
        for name in names:
            self.rpc("loadwallet", name)
        return names

    def mine(self, n=1, wallet="payer"):
        """Mine ``n`` blocks paying ``wallet``; return their hashes."""
        address = self.rpc("getnewaddress", "", wallet=wallet)
        return self.rpc("generatetoaddress", n, address)

    def pay(self, address, amount, wallet="payer", replaceable=True):
        """Send ``amount`` (Decimal or decimal string) to ``address``; return the txid."""
        # sendtoaddress(address, amount, comment, comment_to, subtractfeefromamount, replaceable)
        txid = self.rpc("sendtoaddress", address, Decimal(amount), "", "", False, replaceable, wallet=wallet)
        self.settle()
        return txid

    def sendmany(self, amounts, wallet="payer"):
        """Send ``{address: amount}`` in one transaction; return the txid."""
        amounts = {address: Decimal(value) for address, value in amounts.items()}
        txid = self.rpc("sendmany", "", amounts, wallet=wallet)
        self.settle()
        return txid

    def settle(self):
        """Wait until every wallet on the node has processed what the node accepted.

        Other wallets learn of a new mempool transaction asynchronously; without
        this, an immediate listsinceblock on the merchant wallet may not list it yet.
        """
        self.rpc("syncwithvalidationinterfacequeue")

    def tip(self):
        return self.rpc("getbestblockhash")

    def reorg(self, depth=1, replace=False):
        """Disconnect the top ``depth`` blocks by invalidating the block at height
        tip-depth+1 (their transactions go back to the mempool); return its hash.

        With ``replace``, a longer branch of ``depth + 1`` empty blocks then takes
        their place, as in a real reorg; the transactions stay in the mempool.
        """
        height = self.rpc("getblockcount") - depth + 1
        block = self.rpc("getblockhash", height)
        self.rpc("invalidateblock", block)
        if replace:
            address = self.rpc("getnewaddress", "", wallet=self.payer or "payer")
            for _ in range(depth + 1):
                self.rpc("generateblock", address, [])
        return block

    def reconsider(self, block):
        """Undo :meth:`reorg`: the invalidated branch becomes the main chain again if longer."""
        self.rpc("reconsiderblock", block)

    def double_spend(self, txid, wallet="payer"):
        """Mine a transaction spending ``txid``'s inputs back to ``wallet``; return its txid.

        A mined ``txid`` is first pushed back to the mempool by invalidating its block.
        The conflict is mined with ``generateblock`` (which does not consult the
        mempool), so the original needs no RBF signal; the node then reports it with
        negative confirmations.
        """
        tx = self.rpc("gettransaction", txid, wallet=wallet)
        if tx["confirmations"] > 0:
            self.rpc("invalidateblock", tx["blockhash"])
        decoded = self.rpc("decoderawtransaction", tx["hex"])
        inputs = [{"txid": i["txid"], "vout": i["vout"]} for i in decoded["vin"]]
        total = sum(self._prevout_value(i, wallet) for i in inputs)
        fee = total - sum(o["value"] for o in decoded["vout"]) + Decimal("0.001")
        back = self.rpc("getnewaddress", "", wallet=wallet)
        raw = self.rpc("createrawtransaction", inputs, {back: total - fee})
        signed = self.rpc("signrawtransactionwithwallet", raw, wallet=wallet)
        if not signed["complete"]:
            raise DevnetError("wallet %s cannot sign the inputs of %s" % (wallet, txid))
        block_address = self.rpc("getnewaddress", "", wallet=wallet)
        self.rpc("generateblock", block_address, [signed["hex"]])
        return self.rpc("decoderawtransaction", signed["hex"])["txid"]

    def _prevout_value(self, outpoint, wallet):
        # No txindex: the spending wallet knows the transactions it spent from.
        prev = self.rpc("gettransaction", outpoint["txid"], wallet=wallet)
        return self.rpc("decoderawtransaction", prev["hex"])["vout"][outpoint["vout"]]["value"]


def _node_alive(pid, datadir):
    """True when ``pid`` is a running (not zombie) litecoind of ``datadir``: pids are reused."""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            if fh.read().rpartition(")")[2].split()[0] == "Z":
                return False
        with open("/proc/%d/cmdline" % pid, "rb") as fh:
            return ("-datadir=" + datadir).encode() in fh.read().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel whether the pid exists
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False


# -- the devnet: a node that outlives the command that started it ---------------

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


def notify_command(kind, currency, url, python=None, lock=None):
    """Return a walletnotify/blocknotify command line running ``transient-notify``
    (``kind``: transaction or block) with ``python -I -S``, for the node to start.

    With ``lock`` (a file path), the line for volume of docs/guides/walletnotify.md: the node's shell takes the
    ping turn on that file first, and no interpreter starts for an event already covered."""
    line = "%s -I -S %s%s --url %s %s %s %%s" % (
        shlex.quote(python or sys.executable),
        shlex.quote(NOTIFY_SCRIPT),
        " --turn-fd 9" if lock else "",
        shlex.quote(url),
        kind,
        currency,
    )
    if lock:
        line = "exec 9>>%s; flock -n 9 && exec %s" % (shlex.quote(lock), line)
    return line


def port_free(port):
    """Return True when nothing listens on 127.0.0.1:``port``."""
    with socket.socket() as sock:
        # As servers do: connections in TIME_WAIT from the last run do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


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
