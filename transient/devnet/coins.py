"""Regtest nodes of every coin Transient is tested on, and two of them over P2P.

:class:`~transient.devnet.node.RegtestNode` is Litecoin Core's; here are Bitcoin Core's
(30 and 28: descriptor wallets) and Dogecoin Core 1.14's (one wallet, no ``generateblock``,
no ``signrawtransactionwithwallet``, coinbase maturity 60). :func:`regtest_node` makes the
node of a kind, its program found through the kind's environment variable
(``TRANSIENT_BITCOIND``, ``TRANSIENT_BITCOIND_28``, ``TRANSIENT_DOGECOIND``) or ``PATH``.
What the nodes differ in, as the product meets it: docs/reference/nodes.md.
"""

import os
import shutil
import time
from decimal import Decimal

from .node import DevnetError, RegtestNode


class BitcoinNode(RegtestNode):
    """Bitcoin Core (28.3, 30.0): descriptor wallets only, the rest as Litecoin Core 0.21."""

    CURRENCY = "BTC"
    DAEMON = "bitcoind"


class DogecoinNode(RegtestNode):
    """Dogecoin Core 1.14: Bitcoin Core 0.14's RPC and one wallet per node.

    ``wallet=`` arguments are ignored: every call goes to the node's one wallet (there is
    no ``/wallet/NAME``), so the payer and the merchant are the same wallet on one node:
    a payment to the merchant is a send to itself, listed as a ``receive`` too. Tests
    that need a wallet of their own need a node of their own.
    Sends signal BIP125 (``-walletrbf``): a double spend of an unconfirmed payment is a
    replacement, as 1.14 has no ``generateblock`` to mine a conflict directly.
    """

    CURRENCY = "DOGE"
    DAEMON = "dogecoind"
    MATURITY = 60
    MULTIWALLET = False
    EXTRA_ARGS = ("-walletrbf=1",)

    def rpc(self, method, *params, wallet=None):
        return super().rpc(method, *params)

    def restart(self):
        self.stop()
        return self.start()

    def create_wallet(self, name):
        """The node's one wallet: None (its RPC URL has no ``/wallet/NAME``)."""
        return None

    def setup(self, merchant=None, payer=None):
        if self.rpc("getblockcount") <= self.MATURITY:
            self.mine(self.MATURITY + 1)
        self.merchant = self.payer = None
        return self

    def load_wallets(self):
        return []

    def pay(self, address, amount, wallet=None, replaceable=True):
        # sendtoaddress(address, amount, comment, comment_to, subtractfeefromamount): -walletrbf signals.
        return self.rpc("sendtoaddress", address, Decimal(amount))

    def sendmany(self, amounts, wallet=None):
        return self.rpc("sendmany", "", {address: Decimal(value) for address, value in amounts.items()})

    def settle(self):
        """Nothing to wait for: 1.14 tells its wallet of a transaction before the call returns."""

    def reorg(self, depth=1, replace=False):
        """As :meth:`RegtestNode.reorg`; ``replace`` needs a peer here (1.14 has no
        ``generateblock``, and its miner takes mempool transactions whatever their fee
        delta): mine the longer branch on a node off the network, then connect it."""
        if replace:
            raise DevnetError("Dogecoin Core 1.14 cannot mine empty blocks: reorg with a peer (coins.connect)")
        height = self.rpc("getblockcount") - depth + 1
        block = self.rpc("getblockhash", height)
        self.rpc("invalidateblock", block)
        return block

    def double_spend(self, txid, wallet=None):
        """Replace ``txid`` (back in the mempool first when mined) with a transaction of a
        higher fee spending its inputs back to the wallet, and mine it; return its txid."""
        tx = self.rpc("gettransaction", txid)
        if tx["confirmations"] > 0:
            self.rpc("invalidateblock", tx["blockhash"])
        decoded = self.rpc("decoderawtransaction", tx["hex"])
        inputs = [{"txid": i["txid"], "vout": i["vout"]} for i in decoded["vin"]]
        total = sum(self._prevout_value(i, None) for i in inputs)
        fee = total - sum(o["value"] for o in decoded["vout"]) + Decimal("0.01")  # BIP125: pay more
        raw = self.rpc("createrawtransaction", inputs, {self.rpc("getnewaddress"): total - fee})
        signed = self.rpc("signrawtransaction", raw)
        if not signed["complete"]:
            raise DevnetError("the wallet cannot sign the inputs of %s" % txid)
        conflict = self.rpc("sendrawtransaction", signed["hex"])
        self.mine(1)
        return conflict

    def mine(self, n=1, wallet=None):
        return self.rpc("generatetoaddress", n, self.rpc("getnewaddress"))


#: kind -> (node class, environment variable naming its program)
KINDS = {
    "LTC": (RegtestNode, "TRANSIENT_LITECOIND"),
    "BTC": (BitcoinNode, "TRANSIENT_BITCOIND"),  # Bitcoin Core 30
    "BTC28": (BitcoinNode, "TRANSIENT_BITCOIND_28"),  # Bitcoin Core 28
    "DOGE": (DogecoinNode, "TRANSIENT_DOGECOIND"),
}


def node_binary(kind):
    """The program of node ``kind`` ("LTC", "BTC", "BTC28", "DOGE"): the path its environment
    variable names, else its name on PATH (not for BTC28: bitcoind on PATH is one version);
    None when there is none."""
    cls, variable = KINDS[kind]
    named = os.environ.get(variable)
    if named:
        return os.path.abspath(named) if os.access(named, os.X_OK) else None
    return None if kind == "BTC28" else shutil.which(cls.DAEMON)


def regtest_node(kind, datadir, **kw):
    """A (not started) regtest node of ``kind``; raise DevnetError when its program is missing."""
    binary = node_binary(kind)
    if binary is None:
        cls, variable = KINDS[kind]
        raise DevnetError("%s not found: set %s or put %s on PATH" % (kind, variable, cls.DAEMON))
    return KINDS[kind][0](datadir, binary=binary, **kw)


# -- two nodes over P2P ---------------------------------------------------------------


def _peer_address(node):
    return "127.0.0.1:%d" % node.p2p_port


def connect(a, b, timeout=30):
    """Connect ``a`` to ``b`` (started with a ``p2p_port``) and wait for the handshake on
    both sides: a peer counts for relay only once its ``version`` is known."""
    a.rpc("addnode", _peer_address(b), "onetry")
    wait(lambda: _handshaken(a) and _handshaken(b), timeout, "no handshake between the two nodes")


def _handshaken(node):
    return any(p.get("version", 0) > 0 for p in node.rpc("getpeerinfo"))


def disconnect(a, b, timeout=30):
    """Drop every connection between ``a`` and ``b``; return once neither lists a peer."""
    for node in (a, b):
        for peer in node.rpc("getpeerinfo"):
            try:
                node.rpc("disconnectnode", peer["addr"])
            except Exception:  # noqa: BLE001 - the other side dropped it first
                pass
    wait(lambda: not a.rpc("getpeerinfo") and not b.rpc("getpeerinfo"), timeout, "the nodes stay connected")


def sync_blocks(nodes, timeout=60):
    """Wait until every node has the same tip; return it."""
    wait(lambda: len({n.tip() for n in nodes}) == 1, timeout, "the nodes' tips differ")
    return nodes[0].tip()


def sync_mempool(a, b, txid, timeout=30):
    """Wait until ``b``'s mempool has ``a``'s transaction ``txid``."""
    wait(lambda: txid in b.rpc("getrawmempool"), timeout, "%s did not reach the other node" % txid)
    b.settle()


def wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise DevnetError("%s after %ss" % (what, timeout))
