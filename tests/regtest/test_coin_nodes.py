"""The test harness on every coin's real node (transient/devnet/coins.py): each node starts
in regtest with mature coins, pays a wallet, reorganises over P2P against a second node,
and double-spends an unconfirmed payment, the moves the end-to-end cases make."""

import pytest
from _coins import COIN_SPECS

from transient.devnet.coins import connect, disconnect, sync_blocks

pytestmark = [pytest.mark.regtest, pytest.mark.parametrize("coin", list(COIN_SPECS), indirect=True, scope="module")]


def receive_address(node, wallet):
    return node.rpc("getnewaddress", "", wallet=wallet)


def confirmations(node, wallet, txid):
    return node.rpc("gettransaction", txid, wallet=wallet)["confirmations"]


def test_node_runs_regtest_with_spendable_coins(coin, coin_node):
    chain = coin_node.rpc("getblockchaininfo")
    assert chain["chain"] == "regtest" and chain["blocks"] > coin_node.MATURITY
    assert coin_node.rpc("getbalance", wallet=coin_node.payer) > 0
    wallets = coin_node.rpc("listwallets") if coin.multiwallet else None
    assert wallets is None or {"merchant", "payer"} <= set(wallets)


def test_pay_and_mine_into_a_fresh_wallet(coin, coin_node, coin_wallet):
    address = receive_address(coin_node, coin_wallet)
    txid = coin_node.pay(address, "1.25")
    assert confirmations(coin_node, coin_wallet, txid) == 0
    coin_node.mine(1)
    assert confirmations(coin_node, coin_wallet, txid) == 1


def test_reorg_over_p2p_puts_the_payment_back_in_the_mempool(coin, coin_node, coin_wallet, coin_peer):
    address = receive_address(coin_node, coin_wallet)
    sync_blocks([coin_node, coin_peer])
    disconnect(coin_node, coin_peer)
    txid = coin_node.pay(address, "0.5")
    coin_node.mine(1)
    assert confirmations(coin_node, coin_wallet, txid) == 1
    # The peer, off the network, mines a longer branch without the payment.
    coin_peer.rpc("generatetoaddress", 2, receive_address(coin_node, coin_node.payer))
    connect(coin_node, coin_peer)
    tip = sync_blocks([coin_node, coin_peer])
    assert tip == coin_peer.tip() and confirmations(coin_node, coin_wallet, txid) == 0
    assert txid in coin_node.rpc("getrawmempool")
    coin_node.mine(1)
    assert confirmations(coin_node, coin_wallet, txid) == 1


def test_double_spend_of_an_unconfirmed_payment(coin, coin_node, coin_wallet):
    txid = coin_node.pay(receive_address(coin_node, coin_wallet), "0.75")
    conflict = coin_node.double_spend(txid)
    assert conflict != txid and confirmations(coin_node, coin_node.payer, conflict) == 1
    assert confirmations(coin_node, coin_wallet, txid) < 0
