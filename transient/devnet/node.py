"""A throwaway Litecoin Core regtest node: for the test suite and ``transient devnet``.

    node = RegtestNode("/tmp/devnet")
    node.start(); node.setup()
    txid = node.pay(address, "1.5"); node.mine(1)
    node.stop()

:class:`Devnet` keeps such a node running between commands (``transient devnet up``),
with its state in a directory and a config the daemon runs with.
"""

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
