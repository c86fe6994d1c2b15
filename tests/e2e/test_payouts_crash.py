"""kill -9 at each step of a payout batch's send, on litecoind: before the RPC, during it
(the node sent, the answer is unread) and after it before the record. The process that
sends (`transient payouts send`) dies by SIGKILL at the fault point; the next run finds
the batch in the wallet (or sends it, when it never left), and the customer wallet's own
history shows each payout paid exactly once."""

import itertools
import signal
import time
from decimal import Decimal

import pytest
from _cli import run

from transient import settings
from transient.payouts import states
from transient.runtime import Runtime
from transient.store import migrations
from transient.store.payouts import Payout, PayoutBatch

_wallets = itertools.count(1)
AMOUNTS = ["0.11", "0.22", "0.00033333"]


def config(tmp_path, regtest, wallet):
    path = tmp_path / "config.toml"
    path.write_text(
        """
[database]
url = "sqlite:///%s"
[payouts]
fee_rate_cap = { LTC = "20" }
interval = 2  # the lease a killed sender leaves behind lasts 10 s
[coins.LTC]
backend = "litecoin"
rpc_url = "%s"
rpc_user = "%s"
rpc_password = "%s"
wallet = "%s"
address_pool = 0
"""
        % (tmp_path / "shop.db", regtest.rpc_url, regtest.rpc_user, regtest.rpc_password, wallet)
    )
    return path


def payouts_approved(path, regtest, customer):
    runtime = Runtime(settings.load(str(path), environ={}))
    migrations.apply(runtime.db)
    try:
        ids = []
        for amount in AMOUNTS:
            address = regtest.rpc("getnewaddress", "", wallet=customer)
            payout, _ = runtime.payouts.create({"currency": "LTC", "amount": amount, "destination": address})
            ids.append(runtime.payouts.approve(payout.id).id)
        return ids
    finally:
        runtime.close()


def rows(path, ids):
    runtime = Runtime(settings.load(str(path), environ={}))
    try:
        return [Payout.get_by_id(i) for i in ids], list(PayoutBatch.select())
    finally:
        runtime.close()


@pytest.mark.parametrize("point", ["payouts.before_send", "rpc.answered.sendmany", "payouts.after_send"])
def test_kill_9_at_each_step_of_a_send_pays_each_payout_once(regtest, tmp_path, point):
    shop = regtest.create_wallet("crash-shop-%d" % next(_wallets))
    customer = regtest.create_wallet("crash-customer-%d" % next(_wallets))
    regtest.pay(regtest.rpc("getnewaddress", "", wallet=shop), "2")
    regtest.mine(1)
    path = config(tmp_path, regtest, shop)
    ids = payouts_approved(path, regtest, customer)

    killed = run("payouts", "send", "--config", path, env={"TRANSIENT_FAULTS": point})
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr)
    sends = [e for e in regtest.rpc("listtransactions", "*", 100, 0, True, wallet=shop) if e["category"] == "send"]
    # Before the RPC nothing left; during it and after it the node has the transaction.
    assert len({e["txid"] for e in sends}) == (0 if point == "payouts.before_send" else 1)
    payouts, (batch,) = rows(path, ids)
    assert batch.state == PayoutBatch.INTENT and {p.state for p in payouts} == {states.APPROVED}

    # The killed process still holds the payouts lease until it expires (10 s): another
    # sender waits for it rather than risk running beside a live one.
    deadline = time.monotonic() + 60
    while True:
        again = run("payouts", "send", "--config", path)
        if again.returncode == 0 or time.monotonic() > deadline:
            break
        assert "holds the payouts lease" in again.stderr, again.stderr
        time.sleep(1)
    assert again.returncode == 0, again.stderr
    again = run("payouts", "send", "--config", path)  # and once more: nothing is sent again
    assert again.returncode == 0, again.stderr
    regtest.settle()
    sends = [e for e in regtest.rpc("listtransactions", "*", 100, 0, True, wallet=shop) if e["category"] == "send"]
    assert len({e["txid"] for e in sends}) == 1
    payouts, (batch,) = rows(path, ids)
    assert batch.state == PayoutBatch.SENT and batch.txid == sends[0]["txid"]
    assert sends[0]["comment"] == "transient-payout-batch:%s" % batch.id
    got = {}
    for e in regtest.rpc("listtransactions", "*", 100, 0, True, wallet=customer):
        if e["category"] == "receive":
            got.setdefault(e["address"], []).append(e["amount"])
    for payout, amount in zip(payouts, AMOUNTS):
        assert payout.state == states.BROADCAST and payout.txid == batch.txid
        assert got[payout.destination] == [Decimal(amount)]  # exactly once
