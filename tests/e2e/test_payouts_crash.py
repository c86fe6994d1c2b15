"""kill -9 at each step of a payout batch's send, on litecoind and a real transientd: before
the RPC, during it (the node sent, its answer is unread) and after it before the record.
The daemon's worker dies by SIGKILL at the fault point (TRANSIENT_FAULTS); the daemon is
killed, a new one started: it finds the batch in the wallet (or sends it, when it never
left), and the customer wallet's own history shows each payout paid exactly once."""

import itertools
import time
from decimal import Decimal

import pytest
from _cli import run
from _daemon import Daemon, coin_config, wait_for

from transient.payouts import states
from transient.store.db import open_database
from transient.store.payouts import Payout, PayoutBatch

pytestmark = pytest.mark.e2e
_wallets = itertools.count(1)
AMOUNTS = ["0.11", "0.22", "0.00033333"]
# interval 1 and rpc_timeout 2 (below): the lease a killed sender leaves behind lasts 16 s,
# and a send attempt is searched for in the wallet 6 s after it was made.
PAYOUTS = '[payouts]\nfee_rate_cap = { LTC = "20" }\ninterval = 1\n'


def rows(url):
    db = open_database(url)
    try:
        return list(Payout.select().order_by(Payout.created_at)), list(PayoutBatch.select())
    finally:
        db.close()


def sends(regtest, wallet):
    entries = regtest.rpc("listtransactions", "*", 100, 0, True, wallet=wallet)
    return {e["txid"]: e for e in entries if e["category"] == "send"}


@pytest.mark.parametrize("point", ["payouts.before_send", "rpc.answered.sendmany", "payouts.after_send"])
def test_kill_9_at_each_step_of_a_send_pays_each_payout_once(regtest, tmp_path, point):
    shop = regtest.create_wallet("crash-shop-%d" % next(_wallets))
    customer = regtest.create_wallet("crash-customer-%d" % next(_wallets))
    regtest.pay(regtest.rpc("getnewaddress", "", wallet=shop), "2")
    regtest.mine(1)
    url = "sqlite:///%s" % (tmp_path / "shop.db")
    coins = coin_config(regtest, shop) + "address_pool = 0\nrpc_timeout = 2\n"
    # The payouts are made on a daemon and approved with the CLI while no daemon runs, so that
    # the one with the fault point sends all three in one batch (and no request of the test
    # meets a worker dying at the fault).
    first = Daemon(str(tmp_path), url, coins, extra=PAYOUTS).start()
    second = None
    try:
        made = []
        for amount in AMOUNTS:
            address = regtest.rpc("getnewaddress", "", wallet=customer)
            resp = first.post("/payouts", json={"currency": "LTC", "amount": amount, "destination": address})
            assert resp.status_code == 201, resp.text
            made.append(resp.json()["payout"]["id"])
        first.stop()
        for payout in made:
            approved = run("payouts", "approve", payout, env={"TRANSIENT_CONFIG": first.config_path})
            assert approved.returncode == 0, approved.stderr
        assert not rows(url)[1]  # no batch yet
        first = Daemon(str(tmp_path), url, coins, extra=PAYOUTS, env={"TRANSIENT_FAULTS": point}).start(healthy=False)
        # The worker dies at the point: the batch is recorded; the node has it unless before the RPC.
        wait_for(lambda: rows(url)[1], timeout=60)
        if point != "payouts.before_send":
            wait_for(lambda: sends(regtest, shop), timeout=60)
        time.sleep(1)
        first.kill()  # the master would start another worker: stop them all
        payouts, (batch,) = rows(url)
        assert batch.state == PayoutBatch.INTENT and {p.state for p in payouts} == {states.APPROVED}
        assert len(sends(regtest, shop)) == (0 if point == "payouts.before_send" else 1)
        second = Daemon(str(tmp_path), url, coins, extra=PAYOUTS).start()
        # After the dead worker's lease (16 s): found in the wallet, or sent now.
        wait_for(lambda: {p.state for p in rows(url)[0]} == {states.BROADCAST}, timeout=90)
        time.sleep(3)  # a few more rounds: nothing is sent again
        regtest.settle()
        (txid,) = sends(regtest, shop)
        payouts, (batch,) = rows(url)
        assert batch.state == PayoutBatch.SENT and batch.txid == txid
        assert sends(regtest, shop)[txid]["comment"] == "transient-payout-batch:%s" % batch.id
        got = {}
        for e in regtest.rpc("listtransactions", "*", 100, 0, True, wallet=customer):
            if e["category"] == "receive":
                got.setdefault(e["address"], []).append(e["amount"])
        for payout, amount in zip(payouts, AMOUNTS):
            assert payout.txid == txid and got[payout.destination] == [Decimal(amount)]  # exactly once
    finally:
        first.kill()
        if second is not None:
            second.kill()
