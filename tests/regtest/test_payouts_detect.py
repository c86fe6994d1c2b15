"""External payouts on Litecoin Core 0.21: the wallet watches an approved payout's
destination (importmulti, no rescan), the sync records whoever pays it, and the payout is
broadcast, then completed when that transaction confirms; a reorg takes it back to
broadcast; a payment of another amount does not count."""

import itertools

import pytest
from falcon import testing

from transient import settings
from transient.payouts import states
from transient.runtime import Runtime
from transient.store import migrations
from transient.store.payouts import Payout

_wallets = itertools.count(1)


@pytest.fixture
def shop(regtest, tmp_path):
    wallet = regtest.create_wallet("detect-shop-%d" % next(_wallets))
    customer = regtest.create_wallet("detect-customer-%d" % next(_wallets))
    path = tmp_path / "config.toml"
    path.write_text(
        """
[database]
url = "sqlite:///%s"
[coins.LTC]
backend = "litecoin"
rpc_url = "%s"
rpc_user = "%s"
rpc_password = "%s"
wallet = "%s"
address_pool = 0
"""
        % (tmp_path / "detect.db", regtest.rpc_url, regtest.rpc_user, regtest.rpc_password, wallet)
    )
    runtime = Runtime(settings.load(str(path), environ={}))
    migrations.apply(runtime.db)
    runtime.customer = customer
    runtime.client = testing.TestClient(runtime.app())
    yield runtime
    runtime.close()


def step(shop):
    shop.syncers["LTC"].run()
    assert shop.payout_runner.round()


def test_a_payout_paid_from_elsewhere_is_detected(shop, regtest):
    (sender, _, _) = shop.payout_runner.coins["LTC"]
    assert sender is None  # no fee_rate_cap: this shop pays its payouts itself
    address = regtest.rpc("getnewaddress", "", wallet=shop.customer)
    other = regtest.rpc("getnewaddress", "", wallet=shop.customer)
    payout, _ = shop.payouts.create({"currency": "LTC", "amount": "0.4321", "destination": address})
    wrong, _ = shop.payouts.create({"currency": "LTC", "amount": "0.5", "destination": other})
    shop.payouts.approve(payout.id)
    shop.payouts.approve(wrong.id)
    step(shop)
    assert Payout.get_by_id(payout.id).watched
    assert shop.backends["LTC"].owns(address)  # watched by the shop's wallet, not its key
    txid = regtest.pay(address, "0.4321")  # the payer wallet: not Transient
    regtest.pay(other, "0.4999")  # not the payout's amount
    step(shop)
    row = Payout.get_by_id(payout.id)
    assert row.state == states.BROADCAST and row.txid == txid and row.paid_externally
    regtest.mine(1)
    step(shop)
    assert Payout.get_by_id(payout.id).state == states.COMPLETED
    assert Payout.get_by_id(wrong.id).state == states.APPROVED
    block = regtest.reorg(1)
    step(shop)
    assert Payout.get_by_id(payout.id).state == states.BROADCAST
    regtest.reconsider(block)
    step(shop)
    assert Payout.get_by_id(payout.id).state == states.COMPLETED
