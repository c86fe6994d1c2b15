"""End to end: a real transientd, a real litecoind regtest node, SQLite and PostgreSQL, with
the node's wallet and with a watch-only key. The cases every coin runs on its own node
(sendmany, a double spend before confirmation, kill -9 in a sync, a node outage...):
tests/e2e/test_coins_e2e.py."""

import re

import pytest
from _daemon import coin_config, ping

pytestmark = pytest.mark.regtest
# The same tests with the node's wallet and with a watch-only key (an xpub, a keyless wallet).
BOTH_MODES = pytest.mark.parametrize("address_mode", ["node", "watch"])


@BOTH_MODES
def test_pay_exact_then_confirm(start_daemon, regtest, address_mode):
    d = start_daemon()
    p = d.create(currency="LTC", amount="1.5", account="order-1", metadata={"order": 1})
    assert ("derivation_index" in p) == (address_mode == "watch")
    assert (p["status"], p["amount_due"], p["paid"]) == ("UNPAID", "1.5", False)
    assert p["payment_uri"] == "litecoin:%s?amount=1.5" % p["payment_address"]
    txid = regtest.pay(p["payment_address"], "1.5")
    ping(d, value=txid)
    p = d.wait_status(p["id"], "PENDING")
    assert (p["amount_received"], p["amount_pending"], p["amount_due"]) == ("1.5", "1.5", "0")
    assert p["transactions"] == [
        {
            "txid": txid,
            "vout": p["transactions"][0]["vout"],
            "amount": "1.5",
            "confirmations": 0,
            "status": "pending",
            "first_seen": p["transactions"][0]["first_seen"],
        }
    ]
    block = regtest.mine(1)[0]
    ping(d, "block", block)
    p = d.wait_status(p["id"], "PAID")
    assert (p["amount_received"], p["amount_pending"], p["paid"]) == ("1.5", "0", True)
    assert p["transactions"][0]["confirmations"] == 1 and p["paid_at"]
    assert p["amount_recieved"] == "1.5"  # the seed's spelling still works


def test_one_payment_in_two_transactions(start_daemon, regtest):
    d = start_daemon()
    p = d.create(currency="LTC", amount="1")
    regtest.pay(p["payment_address"], "0.4")
    p = d.wait_status(p["id"], "UNDERPAID")
    assert (p["amount_received"], p["amount_due"]) == ("0.4", "0.6")
    regtest.pay(p["payment_address"], "0.6")
    d.wait_status(p["id"], "PENDING")
    regtest.mine(1)
    p = d.wait_status(p["id"], "PAID")
    assert p["amount_received"] == "1" and len(p["transactions"]) == 2


@BOTH_MODES
def test_reorg_takes_payment_back_to_pending(start_daemon, regtest):
    d = start_daemon()
    p = d.create(currency="LTC", amount="0.25")
    regtest.pay(p["payment_address"], "0.25")
    regtest.mine(1)
    d.wait_status(p["id"], "PAID")
    regtest.reorg(1)  # the paying block is disconnected; the tx returns to the mempool
    p = d.wait_status(p["id"], "PENDING")
    assert p["paid_at"] is None and p["transactions"][0]["confirmations"] == 0
    regtest.mine(1)
    d.wait_status(p["id"], "PAID")


@BOTH_MODES
def test_double_spend_removes_the_credit(start_daemon, regtest):
    d = start_daemon()
    p = d.create(currency="LTC", amount="0.5")
    txid = regtest.pay(p["payment_address"], "0.5")
    regtest.mine(1)
    d.wait_status(p["id"], "PAID")
    regtest.double_spend(txid)
    p = d.wait_status(p["id"], "UNPAID")
    assert p["amount_received"] == "0"
    assert p["transactions"][0]["status"] == "conflicted"


def test_notify_triggers_an_immediate_sync(start_daemon, regtest):
    d = start_daemon(poll=3600)
    p = d.create(currency="LTC", amount="0.1")
    txid = regtest.pay(p["payment_address"], "0.1")
    ping(d, value=txid)
    d.wait_status(p["id"], "PENDING", timeout=10)


def test_dogecoin_backend_against_dogecoind(start_daemon, doge_node):
    # Dogecoin Core 1.14's one wallet: no wallet name (the backend refuses one).
    d = start_daemon(coins=coin_config(doge_node, None, currency="DOGE", backend="dogecoin"))
    p = d.create(currency="DOGE", amount="2.5")
    assert p["payment_uri"].startswith("dogecoin:")
    doge_node.pay(p["payment_address"], "2.5")
    d.wait_status(p["id"], "PENDING")
    doge_node.mine(1)
    d.wait_status(p["id"], "PAID")
    doge_node.reorg(1)
    d.wait_status(p["id"], "PENDING")
    doge_node.mine(1)
    txid = d.wait_status(p["id"], "PAID")["transactions"][0]["txid"]
    # The DOGE backend ignores `removed` (Dogecoin 1.14 has none): a mined payment
    # double-spent in a reorg is found by rechecking after the stale cursor.
    doge_node.double_spend(txid)
    p = d.wait_status(p["id"], "UNPAID")
    assert p["transactions"][0]["status"] == "conflicted"


@BOTH_MODES
def test_two_workers_one_sync_at_a_time(start_daemon, regtest, address_mode):
    d = start_daemon(workers=2, poll=1)
    pays = [d.create(currency="LTC", amount="0.01") for _ in range(4)]
    if address_mode == "watch":  # two workers never hand out the same index
        assert len({p["derivation_index"] for p in pays}) == 4
    for p in pays:
        txid = regtest.pay(p["payment_address"], "0.01")
        ping(d, value=txid)
        ping(d, value=txid)
    regtest.mine(1)
    for p in pays:
        d.wait_status(p["id"], "PAID")
    spans, open_ = [], {}
    for line in d.log().splitlines():
        m = re.search(r"LTC: sync (start|end) pid=(\d+)", line)
        if m:
            kind, pid = m.groups()
            if kind == "start":
                assert not open_, "a sync started in pid %s while %s was syncing" % (pid, open_)
                open_[pid] = True
            else:
                open_.pop(pid, None)
                spans.append(pid)
    assert len(spans) >= 2  # several syncs ran, never two at once (which worker ran them varies)


def test_sigterm_stops_cleanly(start_daemon):
    d = start_daemon()
    assert d.stop() == 0
    assert "Traceback" not in d.log()
