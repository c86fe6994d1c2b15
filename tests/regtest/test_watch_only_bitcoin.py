"""Watch-only keys on Bitcoin Core 30.0 and 28.3 (descriptor wallets only): the address pool
registers its ranges as the node stores them, and a refused import reserves no index.

Bitcoin Core stores an imported ranged descriptor topped up to its keypool (``[0,999]`` by
default; ``[0,99]`` on these nodes, started with ``-keypool=100``) and refuses a later import
whose range does not include the stored one (28.3: -8, 30.0: -4 "new range must include
current range"). The CLI's ``wallet init`` on both nodes: tests/e2e/test_coins_e2e.py."""

import uuid

import pytest
from _coins import keyless_wallet
from _watch import fresh_tpub

from transient.chain import hdkeys
from transient.core.errors import NodeError
from transient.payments.pool import WatchPool
from transient.store.models import PooledAddress
from transient_bitcoin import BitcoinBackend

pytestmark = [pytest.mark.regtest, pytest.mark.parametrize("coin", ["BTC", "BTC28"], indirect=True, scope="module")]


@pytest.fixture
def btc(coin_node):
    name = keyless_wallet(coin_node, "watch_" + uuid.uuid4().hex[:8])
    options = {
        "rpc_url": coin_node.rpc_url,
        "rpc_user": coin_node.rpc_user,
        "rpc_password": coin_node.rpc_password,
        "wallet": name,
    }
    backend = BitcoinBackend("BTC", options)
    yield backend
    backend.close()


def stored(node, backend, watch):
    (entry,) = [
        d
        for d in node.rpc("listdescriptors", wallet=backend.options["wallet"])["descriptors"]
        if d["desc"] == watch.descriptor()
    ]
    return entry["range"]


def test_the_pool_grows_past_the_range_the_wallet_stored(db, coin_node, btc):
    info = btc.create_watch_wallet(btc.options["wallet"])
    assert info["private_keys_enabled"] is False and btc.watch_import() == "descriptors"
    watch = hdkeys.parse("BTC", fresh_tpub())
    pool = WatchPool("BTC", btc, db, 10, watch, gap_limit=5)
    assert pool.refill() == 10
    # Asked for [0,14]; the node keeps its keypool's worth, and so does the key's row.
    assert stored(coin_node, btc, watch) == [0, coin_node.KEYPOOL - 1]
    assert pool.key_row().registered_end == coin_node.KEYPOOL
    # The next batches reach past it: each import covers the stored range (the bare
    # [start, end-1] of each batch was refused here before).
    pool.size = 250
    assert pool.refill() == 240
    assert stored(coin_node, btc, watch) == [0, 254]
    row = pool.key_row()
    assert (row.next_index, row.registered_end) == (250, 255)
    rows = list(PooledAddress.select().order_by(PooledAddress.derivation_index))
    assert [r.derivation_index for r in rows] == list(range(250))
    assert [r.address for r in rows] == coin_node.rpc("deriveaddresses", watch.descriptor(), [0, 249])
    for address in (rows[0].address, rows[-1].address, watch.address(254, "regtest")):
        assert btc.owns(address), address
    assert btc.owns(watch.address(coin_node.KEYPOOL * 3, "regtest")) is False
    assert btc.verify_watch(watch, "regtest") is None


def test_a_refused_registration_reserves_no_index(db, coin_node, btc):
    """The node refuses the pool's registration (the wallet was unloaded): no index is
    reserved, nothing pooled, no gap made; once the wallet is back the pool starts at 0."""
    name = btc.options["wallet"]
    btc.create_watch_wallet(name)
    watch = hdkeys.parse("BTC", fresh_tpub())
    pool = WatchPool("BTC", btc, db, 10, watch, gap_limit=5)
    coin_node.rpc("unloadwallet", name)
    with pytest.raises(NodeError, match="(?i)wallet"):
        pool.refill()
    report = pool.gap_report()
    assert (report["next_index"], report["registered"], report["gap"]) == (0, [0, 0], 0)
    assert PooledAddress.select().count() == 0
    coin_node.rpc("loadwallet", name)
    assert pool.refill() == 10
    assert [r.derivation_index for r in PooledAddress.select().order_by(PooledAddress.derivation_index)] == list(
        range(10)
    )


def test_an_import_the_node_refuses_reserves_no_index(db, coin_node, btc):
    """importdescriptors itself answers ``success: false``: a wallet that holds private keys
    refuses a descriptor without them (-4). No index is reserved, nothing pooled, no gap."""
    name = "keys_" + uuid.uuid4().hex[:8]
    # createwallet name disable_private_keys blank passphrase avoid_reuse descriptors load_on_startup
    coin_node.rpc("createwallet", name, False, False, "", False, True, False)
    btc = BitcoinBackend("BTC", dict(btc.options, wallet=name))
    watch = hdkeys.parse("BTC", fresh_tpub())
    pool = WatchPool("BTC", btc, db, 10, watch, gap_limit=5)
    try:
        with pytest.raises(NodeError, match="(?i)importdescriptors refused.*private keys"):
            pool.refill()
    finally:
        btc.close()
    report = pool.gap_report()
    assert (report["next_index"], report["registered"], report["gap"]) == (0, [0, 0], 0)
    assert PooledAddress.select().count() == 0


def test_a_restored_key_skips_past_the_range_the_wallet_stored(db, coin_node, btc):
    """A restored copy (docs/guides/backups-and-upgrades.md): its row's next index is older
    than the old host's; the start-up guard's skip moves it past the descriptor's stored
    range (the keypool's padding is only a gap), so no address of the old host comes back."""
    btc.create_watch_wallet(btc.options["wallet"])
    watch = hdkeys.parse("BTC", fresh_tpub())
    pool = WatchPool("BTC", btc, db, 10, watch, gap_limit=5)
    pool.refill()
    copied = pool.key_row()  # what a copy taken now holds: next index 10
    pool.size = coin_node.KEYPOOL + 20
    pool.refill()  # the old host, after the copy, past the keypool's range
    old = pool.key_row()
    handed = {watch.address(i, "regtest") for i in range(copied.next_index, old.next_index)}
    copied.save()  # the restored copy's row
    end = stored(coin_node, btc, watch)[1] + 1
    assert end >= old.next_index and pool.skip_handed_out("restored") == end - copied.next_index
    assert pool.key_row().next_index == end and pool.gap_report()["skipped"]["to"] == end - 1
    pool.discard("restored")
    assert not {r["address"] for r in pool.new_rows(3)} & handed


def test_a_restored_key_skips_what_the_old_host_derived_inside_the_stored_range(db, coin_node, btc):
    """The old host derives after the copy inside the range the node already stored (its
    keypool's padding): no import, no trace on the node. Every index it handed out was
    registered a gap limit ahead, so the copy's key skips to its registered end less that."""
    btc.create_watch_wallet(btc.options["wallet"])
    watch = hdkeys.parse("BTC", fresh_tpub())
    pool = WatchPool("BTC", btc, db, 10, watch, gap_limit=5)
    pool.refill()
    copied = pool.key_row()  # next index 10, registered to the keypool's range
    pool.size = 30
    pool.refill()  # the old host, after the copy: indexes 10 to 29
    old = pool.key_row()
    assert old.registered_end == copied.registered_end == coin_node.KEYPOOL  # no trace on the node
    handed = {watch.address(i, "regtest") for i in range(copied.next_index, old.next_index)}
    copied.save()
    assert pool.skip_handed_out("restored") == coin_node.KEYPOOL - 5 - copied.next_index
    pool.discard("restored")
    assert not {r["address"] for r in pool.new_rows(3)} & handed
