"""Payouts sent from the node's wallet, on real nodes (Litecoin Core 0.21, Bitcoin Core
28.3): one sendmany per batch at a capped fee rate, never sent twice (a batch the wallet
already has is recorded, not sent again), completed when it confirms, back to broadcast
when a reorg takes its block, approved again when a double spend takes its transaction."""

import itertools
import json
from decimal import Decimal

import pytest
from falcon import testing

from transient import settings
from transient.payouts import states
from transient.runtime import Runtime
from transient.store import migrations
from transient.store.models import Event
from transient.store.payouts import Payout, PayoutBatch

CAP = "25"  # base units per vbyte (Litecoin Core refuses below 10)
_wallets = itertools.count(1)


@pytest.fixture(scope="module", params=["LTC", "BTC28"])
def node(request):
    return request.getfixturevalue({"LTC": "regtest", "BTC28": "btc28_node"}[request.param])


@pytest.fixture
def shop(node, tmp_path):
    """A runtime on a fresh wallet of the node holding 5 coins, sending payouts (not started:
    the test runs the rounds), and a customer wallet to pay."""
    wallet = node.create_wallet("shop-%d" % next(_wallets))
    node.pay(node.rpc("getnewaddress", "", wallet=wallet), "5")
    node.mine(1)
    customer = node.create_wallet("customer-%d" % next(_wallets))
    path = tmp_path / "config.toml"
    path.write_text(
        """
[database]
url = "sqlite:///%s"
[payouts]
fee_rate_cap = { %s = "%s" }
[coins.%s]
backend = "%s"
rpc_url = "%s"
rpc_user = "%s"
rpc_password = "%s"
wallet = "%s"
"""
        % (
            tmp_path / "shop.db",
            node.CURRENCY,
            CAP,
            node.CURRENCY,
            {"LTC": "litecoin", "BTC": "bitcoin"}[node.CURRENCY],
            node.rpc_url,
            node.rpc_user,
            node.rpc_password,
            wallet,
        )
    )
    runtime = Runtime(settings.load(str(path), environ={}))
    migrations.apply(runtime.db)
    runtime.wallet, runtime.customer, runtime.client = wallet, customer, testing.TestClient(runtime.app())
    yield runtime
    runtime.close()


def approved(shop, node, amounts):
    out = []
    for amount in amounts:
        address = node.rpc("getnewaddress", "", wallet=shop.customer)
        payout, _ = shop.payouts.create({"currency": node.CURRENCY, "amount": amount, "destination": address})
        out.append(shop.payouts.approve(payout.id))
    return out


def round_(shop):
    ((sender, tracker, detector),) = shop.payout_runner.coins.values()
    tracker.run()
    detector.run()
    return sender.run()


def received(node, wallet):
    """{address: [amount, ...]} of every output the customer wallet received."""
    found = {}
    for entry in node.rpc("listtransactions", "*", 1000, 0, True, wallet=wallet):
        if entry["category"] == "receive":
            found.setdefault(entry["address"], []).append(entry["amount"])
    return found


def test_approved_payouts_leave_in_one_capped_transaction_once(shop, node):
    payouts = approved(shop, node, ["0.1", "0.2", "0.00012345"])
    batch = round_(shop)
    assert batch is not None and batch.state == PayoutBatch.SENT
    assert round_(shop) is None  # nothing more to send: never twice
    tx = node.rpc("gettransaction", batch.txid, wallet=shop.wallet)
    assert tx["comment"] == "transient-payout-batch:%s" % batch.id
    decoded = node.rpc("decoderawtransaction", tx["hex"])
    fee_rate = -tx["fee"] * 10**8 / decoded["vsize"]
    assert fee_rate <= Decimal(CAP)  # never above the cap
    # The fee actually paid, read from the node after the send, split among the payouts so
    # that the payouts report's fee column adds up to it.
    paid = int(-tx["fee"] * 10**8)
    fees = [Payout.get_by_id(p.id).fee for p in payouts]
    assert PayoutBatch.get_by_id(batch.id).fee == sum(fees) == paid and max(fees) - min(fees) <= 1
    report = shop.client.simulate_get("/reports/payouts", params={"format": "json"})
    lines = [json.loads(line) for line in report.text.splitlines()]
    assert sum(Decimal(line["fee"]) for line in lines) == Decimal(paid) / 10**8
    node.settle()
    got = received(node, shop.customer)
    for p in payouts:
        assert got[p.destination] == [Decimal(p.amount) / 10**8]
        assert Payout.get_by_id(p.id).state == states.BROADCAST
    node.mine(1)
    round_(shop)
    assert {Payout.get_by_id(p.id).state for p in payouts} == {states.COMPLETED}
    types = [e.type for e in Event.select().where(Event.payout_id == payouts[0].id).order_by(Event.sequence)]
    assert types == ["payout.created", "payout.approved", "payout.updated", "payout.updated"]
    # A reorg takes the block away: broadcast again; its return completes it again.
    block = node.reorg(1)
    round_(shop)
    assert Payout.get_by_id(payouts[0].id).state == states.BROADCAST
    node.reconsider(block)
    round_(shop)
    assert Payout.get_by_id(payouts[0].id).state == states.COMPLETED


def test_a_batch_the_wallet_already_sent_is_recorded_not_sent_again(shop, node):
    """The crash between the node's send and Transient's record, in-process: the wallet
    has the batch's transaction, the database still says intent."""
    (payout,) = approved(shop, node, ["0.05"])
    sender, _, _ = shop.payout_runner.coins[node.CURRENCY]
    batch = sender._new_batch()
    txid = shop.backends[node.CURRENCY].send_many(
        {payout.destination: payout.amount}, "transient-payout-batch:%s" % batch.id, Decimal(CAP)
    )
    node.settle()
    found = round_(shop)
    assert found.id == batch.id and found.txid == txid
    assert Payout.get_by_id(payout.id).state == states.BROADCAST and Payout.get_by_id(payout.id).txid == txid
    assert received(node, shop.customer)[payout.destination] == [Decimal("0.05")]


def test_a_double_spent_payout_is_approved_again_and_paid_once(shop, node):
    (payout,) = approved(shop, node, ["0.07"])
    batch = round_(shop)
    node.settle()
    conflict = node.double_spend(batch.txid, wallet=shop.wallet)
    assert conflict
    round_(shop)  # the tracker: failed, approved again; the sender: a new batch
    row = Payout.get_by_id(payout.id)
    types = [e.type for e in Event.select().where(Event.payout_id == payout.id).order_by(Event.sequence)]
    assert types[-3:] == ["payout.updated", "payout.approved", "payout.updated"]  # failed, approved, broadcast
    assert row.state == states.BROADCAST and row.txid != batch.txid
    again = node.rpc("gettransaction", row.txid, wallet=shop.wallet)
    assert row.fee == int(-again["fee"] * 10**8)  # the fee of the transaction that pays it now
    node.mine(1)
    round_(shop)
    assert Payout.get_by_id(payout.id).state == states.COMPLETED
    confirmed = [
        e
        for e in node.rpc("listtransactions", "*", 1000, 0, True, wallet=shop.customer)
        if e["category"] == "receive" and e["address"] == payout.destination and e["confirmations"] > 0
    ]
    assert [e["amount"] for e in confirmed] == [Decimal("0.07")]  # paid exactly once


def test_the_node_refusing_a_batch_leaves_its_payouts_approved(shop, node):
    (payout,) = approved(shop, node, ["50"])  # more than the wallet holds
    assert round_(shop) is None
    row = Payout.get_by_id(payout.id)
    assert row.state == states.APPROVED and row.batch_id is None
    assert PayoutBatch.get().state == PayoutBatch.VOID
