"""The bitcoind-family backends against real regtest nodes: Litecoin Core 0.21 (litecoind),
Bitcoin Core 30.0 (bitcoind, TRANSIENT_BITCOIND) and Dogecoin Core 1.14.9 (dogecoind,
TRANSIENT_DOGECOIND), each on its own node.

Dogecoin Core has one wallet per node, shared by every test of the module (the payer is
the merchant): the tests tell their outputs apart by address, as the daemon does.
"""

import uuid

import pytest

from transient.devnet.node import DevnetError, RegtestNode
from transient_backends.dogecoin import DogecoinBackend
from transient_bitcoin import BitcoinBackend
from transient_litecoin import LitecoinBackend

pytestmark = pytest.mark.regtest

NODES = {
    "ltc": ("regtest", LitecoinBackend),
    "btc": ("btc_node", BitcoinBackend),
    "doge": ("doge_node", DogecoinBackend),
}


@pytest.fixture(params=list(NODES))
def node(request):
    """The coin's node: the session's litecoind or bitcoind, or this module's dogecoind."""
    return request.getfixturevalue(NODES[request.param][0])


@pytest.fixture
def backend(request, node):
    """A backend of the node's kind on a fresh merchant wallet (Dogecoin: its one wallet)."""
    cls = NODES[request.node.callspec.params["node"]][1]
    options = {"rpc_url": node.rpc_url, "rpc_user": node.rpc_user, "rpc_password": node.rpc_password}
    if node.MULTIWALLET:
        options["wallet"] = node.create_wallet("merchant_" + uuid.uuid4().hex[:10])
    instance = cls(cls.currency, options)
    yield instance
    instance.close()


def only(outputs, address=None):
    """The one output (to ``address``: the node's other wallet transactions left out)."""
    outputs = [o for o in outputs if address is None or o.address == address]
    assert len(outputs) == 1, outputs
    return outputs[0]


def test_node_facts(backend, node):
    assert backend.network() == "regtest"
    info = backend.ping()
    assert info["chain"] == "regtest" and info["blocks"] > node.MATURITY and info["version"] >= 210000
    assert backend.tip().hash == info["bestblockhash"]
    addresses = backend.new_addresses(5, label="batch")
    assert len(set(addresses)) == 5


def test_pay_mine_and_cursor_at_tip(backend, node):
    address = backend.new_address("order-1")
    cursor = backend.tip().hash
    txid = node.pay(address, "1.23456789")

    seen = only(backend.changes_since(cursor).outputs, address)
    assert (seen.txid, seen.address, seen.amount, seen.label) == (txid, address, 123456789, "order-1")
    assert seen.confirmations == 0 and seen.block_height is None

    block = node.mine(1)[0]
    changes = backend.changes_since(cursor)
    mined = only(changes.outputs, address)
    assert changes.tip.hash == block and changes.cursor_known
    assert (mined.confirmations, mined.block_hash, mined.block_height) == (1, block, changes.tip.height)

    # With the cursor at the tip, older outputs are not listed again.
    node.mine(2)
    later = backend.changes_since(changes.tip.hash)
    assert later.outputs == [] and later.tip.height == changes.tip.height + 2


def test_first_sync_and_unknown_cursor_list_the_whole_wallet(backend, node):
    address = backend.new_address()
    txid = node.pay(address, "0.5")
    assert only(backend.changes_since(None).outputs, address).txid == txid
    changes = backend.changes_since("11" * 32)
    assert changes.cursor_known is False and only(changes.outputs, address).txid == txid


def test_reorg_returns_the_output_to_the_mempool(backend, node):
    address = backend.new_address()
    txid = node.pay(address, "2")
    node.mine(1)
    cursor = backend.changes_since(None).tip
    assert only(backend.changes_since(None).outputs, address).confirmations == 1

    node.reorg(1)
    changes = backend.changes_since(cursor.hash)
    back = only(changes.outputs, address)
    assert (back.txid, back.confirmations, back.block_hash) == (txid, 0, None)
    assert changes.removed == []  # listed again, so not removed
    assert changes.tip.height == cursor.height - 1

    block = node.mine(1)[0]
    again = only(backend.changes_since(changes.tip.hash).outputs, address)
    assert (again.confirmations, again.block_hash) == (1, block)


def test_double_spend_of_a_mined_payment(backend, node):
    address = backend.new_address()
    txid = node.pay(address, "3")
    node.mine(1)
    cursor = backend.tip().hash
    node.double_spend(txid)

    changes = backend.changes_since(cursor)
    # Nodes do not list receives of conflicted txs (the replacement pays another address).
    assert [o for o in changes.outputs if o.address == address] == []
    if backend.HAS_INCLUDE_REMOVED:
        gone = only(changes.removed)
        assert gone.txid == txid and gone.confirmations < 0
    assert backend.recheck([txid])[txid].confirmations < 0


def test_double_spend_of_an_unconfirmed_payment(backend, node):
    address = backend.new_address()
    txid = node.pay(address, "4")
    cursor = backend.tip().hash
    assert only(backend.changes_since(cursor).outputs, address).confirmations == 0
    node.double_spend(txid)

    changes = backend.changes_since(cursor)
    # The receive silently vanishes from listings: only a re-check sees the conflict.
    assert [o for o in changes.outputs if o.address == address] == [] and changes.removed == []
    state = backend.recheck([txid, "00" * 32])
    assert state[txid].confirmations < 0 and state["00" * 32] is None


def test_backend_survives_a_node_restart(regtest, merchant_wallet):
    options = {
        "rpc_url": regtest.rpc_url,
        "rpc_user": regtest.rpc_user,
        "rpc_password": regtest.rpc_password,
        "wallet": merchant_wallet,
    }
    ltc = LitecoinBackend("LTC", options)
    before = ltc.tip()
    regtest.restart()
    try:
        assert ltc.tip() == before and ltc.new_address()
    finally:
        ltc.close()


def test_notify_commands_reach_the_node_unmangled(tmp_path):
    node = RegtestNode(
        tmp_path, rpc_port=1, walletnotify="/bin/ping-transient LTC %s %w", blocknotify="curl -s http://x/%s"
    )
    argv = node.command()
    assert "-walletnotify=/bin/ping-transient LTC %s %w" in argv
    assert "-blocknotify=curl -s http://x/%s" in argv and "-listen=0" in argv


def test_a_node_that_cannot_start_raises_with_its_log(regtest, tmp_path):
    clash = RegtestNode(tmp_path, rpc_port=regtest.rpc_port)
    with pytest.raises(DevnetError) as exc:
        clash.start()
    assert "litecoind exited" in str(exc.value) and "RPC" in str(exc.value)


class Recorder:
    """Wraps an RPC client: records the methods of every call and batch."""

    def __init__(self, client, methods):
        self._client, self.methods = client, methods

    def call(self, method, *params):
        self.methods.append(method)
        return self._client.call(method, *params)

    def batch(self, calls, **kw):
        self.methods += [m for m, _ in calls]
        return self._client.batch(calls, **kw)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_a_sync_costs_the_listing_alone_on_litecoind(regtest, merchant_wallet):
    """Litecoin Core 0.21 lists blockheight: the new tip's height needs no other call, and
    an unchanged tip is the cursor's (issue 19: one RPC call per sync)."""
    options = {"rpc_url": regtest.rpc_url, "rpc_user": regtest.rpc_user, "rpc_password": regtest.rpc_password}
    ltc = LitecoinBackend("LTC", {**options, "wallet": merchant_wallet})
    methods = []
    ltc.rpc, ltc.listing_rpc = Recorder(ltc.rpc, methods), Recorder(ltc.listing_rpc, methods)
    try:
        address = ltc.new_address()
        cursor = ltc.tip()
        regtest.pay(address, "0.5")
        del methods[:]
        ltc.note_tip(cursor)
        pending = ltc.changes_since(cursor.hash)
        assert pending.tip == cursor and methods == ["listsinceblock"]
        regtest.mine(1)
        mined = ltc.changes_since(cursor.hash)
        assert mined.tip.height == regtest.rpc("getblockcount") and methods == ["listsinceblock"] * 2
    finally:
        ltc.close()
