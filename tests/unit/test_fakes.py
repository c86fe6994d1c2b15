"""The FakeBackend the unit layer runs the API and the sync on (tests/fakes.py): a
CoinBackend that plugins may register, answering as a node's wallet would."""

from fakes import FakeBackend, fake_plugin_manager

from transient.api.checkout import qr
from transient.runtime import plugins


def test_registered_through_a_plugin_like_any_backend():
    classes = plugins.collect_backends(fake_plugin_manager())
    assert classes["fake"] is FakeBackend and "dogecoin" in classes
    plugins.check_backend_class(FakeBackend, "tests.fakes")  # the checks third-party backends pass


def test_fresh_addresses_are_valid_bech32_and_never_repeat():
    node, other = FakeBackend("LTC", {}), FakeBackend("LTC", {})
    addresses = node.new_addresses(50) + [node.new_address("order-1")] + other.new_addresses(50)
    assert len(set(addresses)) == 101
    assert all(a.startswith("rltc1q") and qr.is_bech32(a) for a in addresses)
    assert node.owns(addresses[0]) and not node.owns(addresses[-1])
    assert node.labels[addresses[50]] == "order-1"


def test_listings_follow_the_mempool_the_blocks_and_the_cursor():
    node = FakeBackend("LTC", {})
    mine, stranger = node.new_address(), "rltc1qnotours"
    first = node.changes_since(None)
    assert (first.tip.height, first.outputs, first.cursor_known) == (200, [], True)
    txid = node.pay_many({mine: 5, stranger: 7})
    (pending,) = node.changes_since(first.tip.hash).outputs  # only the wallet's own output
    assert (pending.txid, pending.output, pending.amount, pending.confirmations, pending.block_height) == (
        txid,
        "0",
        5,
        0,
        None,
    )
    node.mine(3)
    listed = node.changes_since(first.tip.hash)
    (mined,) = listed.outputs
    assert listed.tip.height == 203 and (mined.confirmations, mined.block_height) == (3, 201)
    assert node.changes_since(listed.tip.hash).outputs == []  # nothing new since the tip
    unknown = node.changes_since("00" * 32)
    assert not unknown.cursor_known and [o.txid for o in unknown.outputs] == [txid]
    assert node.recheck([txid, "ff" * 32]) == {txid: node.recheck([txid])[txid], "ff" * 32: None}
    assert node.recheck([txid])[txid].confirmations == 3


def test_scripted_listings_come_first_and_a_stopped_node_fails():
    from transient.chain.backend import ChainTip, Changes
    from transient.core.errors import NodeError

    node = FakeBackend("LTC", {})
    scripted = Changes(ChainTip("ab" * 32, 7))
    node.script(scripted)
    assert node.changes_since(None) is scripted
    assert node.changes_since(None).tip.height == 200
    node.down = True
    for call in (node.ping, node.tip, lambda: node.changes_since(None), node.new_address):
        try:
            call()
        except NodeError:
            continue
        raise AssertionError("%r answered with the node down" % call)
