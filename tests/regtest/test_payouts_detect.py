"""External payouts on Litecoin Core 0.21 and Dogecoin Core 1.14.9: the wallet watches an
approved payout's destination (importmulti, no rescan), the sync records whoever pays it,
and the payout is broadcast, then completed when that transaction confirms; a reorg takes
it back to broadcast; a payment of another amount does not count. The destinations are
addresses no wallet on the node has a key to."""

import hashlib
import itertools
import os

import pytest
from _daemon import coin_config
from embit import base58
from fakes import segwit_address
from falcon import testing

from transient import settings
from transient.payouts import states
from transient.runtime import Runtime
from transient.store import migrations
from transient.store.payouts import Payout

_wallets = itertools.count(1)


@pytest.fixture(scope="module", params=["LTC", "DOGE"])
def node(request):
    return request.getfixturevalue({"LTC": "regtest", "DOGE": "doge_node"}[request.param])


def external(node):
    """An address of the node's network that no wallet holds a key to."""
    program = hashlib.sha256(os.urandom(32)).digest()[:20]
    if node.CURRENCY == "LTC":
        return segwit_address("rltc", program)
    return base58.encode_check(b"\x6f" + program)  # P2PKH on Dogecoin's regtest


@pytest.fixture
def shop(node, tmp_path):
    wallet = node.create_wallet("detect-shop-%d" % next(_wallets)) if node.CURRENCY == "LTC" else None
    coins = coin_config(
        node, wallet, currency=node.CURRENCY, backend={"LTC": "litecoin", "DOGE": "dogecoin"}[node.CURRENCY]
    )
    path = tmp_path / "config.toml"
    path.write_text('[database]\nurl = "sqlite:///%s"\n%saddress_pool = 0\n' % (tmp_path / "detect.db", coins))
    runtime = Runtime(settings.load(str(path), environ={}))
    migrations.apply(runtime.db)
    runtime.client = testing.TestClient(runtime.app())
    yield runtime
    runtime.close()


def step(shop, code):
    shop.syncers[code].run()
    assert shop.payout_runner.round()


def test_a_payout_paid_from_elsewhere_is_detected(shop, node):
    code, regtest = node.CURRENCY, node
    (sender, _, _) = shop.payout_runner.coins[code]
    assert sender is None  # no fee_rate_cap: this shop pays its payouts itself
    address, other = external(node), external(node)
    payout, _ = shop.payouts.create({"currency": code, "amount": "0.4321", "destination": address})
    wrong, _ = shop.payouts.create({"currency": code, "amount": "0.5", "destination": other})
    shop.payouts.approve(payout.id)
    shop.payouts.approve(wrong.id)
    step(shop, code)
    assert Payout.get_by_id(payout.id).watched
    assert shop.backends[code].owns(address)  # watched by the shop's wallet: no key to it
    txid = regtest.pay(address, "0.4321")  # the payer wallet: not Transient
    regtest.pay(other, "0.4999")  # not the payout's amount
    step(shop, code)
    row = Payout.get_by_id(payout.id)
    assert row.state == states.BROADCAST and row.txid == txid and row.paid_externally
    regtest.mine(1)
    step(shop, code)
    assert Payout.get_by_id(payout.id).state == states.COMPLETED
    assert Payout.get_by_id(wrong.id).state == states.APPROVED
    block = regtest.reorg(1)
    step(shop, code)
    assert Payout.get_by_id(payout.id).state == states.BROADCAST
    regtest.reconsider(block)
    step(shop, code)
    assert Payout.get_by_id(payout.id).state == states.COMPLETED
