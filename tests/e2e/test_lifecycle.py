"""The payment lifecycle on the real regtest node, through the HTTP API:
under and over payments, tolerance, confirmations per payment, expiry, late funds."""

import time

import pytest
from _daemon import ping, wait_for

pytestmark = pytest.mark.regtest


def test_underpay_then_top_up(start_daemon, regtest):
    d = start_daemon()
    p = d.create(currency="LTC", amount="2")
    regtest.pay(p["payment_address"], "0.5")
    regtest.mine(1)
    p = d.wait_status(p["id"], "UNDERPAID")
    assert (p["amount_received"], p["amount_due"], p["paid"]) == ("0.5", "1.5", False)
    assert p["payment_uri"].endswith("?amount=1.5")  # the QR asks for what is still due
    regtest.pay(p["payment_address"], "1.5")
    regtest.mine(1)
    p = d.wait_status(p["id"], "PAID")
    assert [h["status"] for h in p["status_history"]] == ["UNPAID", "UNDERPAID", "PENDING", "PAID"] or [
        h["status"] for h in p["status_history"]
    ] == ["UNPAID", "UNDERPAID", "PAID"]


def test_overpay_reports_the_surplus(start_daemon, regtest):
    d = start_daemon()
    p = d.create(currency="LTC", amount="1")
    regtest.pay(p["payment_address"], "1.25")
    regtest.mine(1)
    p = d.wait_status(p["id"], "OVERPAID")
    assert (p["paid"], p["amount_overpaid"], p["amount_due"]) == (True, "0.25", "0")


def test_tolerance_accepts_a_small_shortfall(start_daemon, regtest):
    d = start_daemon()
    p = d.create(currency="LTC", amount="1", underpayment_tolerance="1")
    regtest.pay(p["payment_address"], "0.995")
    regtest.mine(1)
    p = d.wait_status(p["id"], "PAID")
    assert p["underpayment_tolerance"] == "1" and p["amount_received"] == "0.995"


def test_confirmations_per_payment(start_daemon, regtest):
    d = start_daemon()
    fast = d.create(currency="LTC", amount="0.1", confirmations=0)
    slow = d.create(currency="LTC", amount="0.1", confirmations=6)
    regtest.sendmany({fast["payment_address"]: "0.1", slow["payment_address"]: "0.1"})
    d.wait_status(fast["id"], "PAID")  # zero-conf: paid from the mempool
    regtest.mine(5)
    ping(d, "block", regtest.tip())
    wait_for(lambda: d.payment(slow["id"])["transactions"][0]["confirmations"] == 5)
    time.sleep(1.5)
    assert d.payment(slow["id"])["status"] == "PENDING"
    regtest.mine(1)
    d.wait_status(slow["id"], "PAID")


def test_expires_on_time_and_late_funds_are_kept(start_daemon, regtest):
    d = start_daemon()
    p = d.create(currency="LTC", amount="0.3", expires_in=2)
    assert p["expires_at"]
    p = d.wait_status(p["id"], "EXPIRED", timeout=15)  # no tx needed: the sync job expires it
    assert p["paid_late"] is False
    # The node's wallet times its transactions in whole seconds, and funds seen within the
    # second of the expiry count as in time: pay once that second is over.
    time.sleep(1.1)
    regtest.pay(p["payment_address"], "0.3")
    regtest.mine(1)
    wait_for(lambda: d.payment(p["id"])["amount_received"] == "0.3")
    p = d.payment(p["id"])
    assert (p["status"], p["amount_received"], p["paid_late"]) == ("EXPIRED", "0.3", True)
    assert p["status_history"][-1]["cause"] == "expiry"


def test_full_amount_in_mempool_before_expiry_is_not_expired(start_daemon, regtest):
    d = start_daemon()
    p = d.create(currency="LTC", amount="0.4", expires_in=3)
    regtest.pay(p["payment_address"], "0.4")
    d.wait_status(p["id"], "PENDING")
    time.sleep(4)
    assert d.payment(p["id"])["status"] == "PENDING"
    regtest.mine(1)
    d.wait_status(p["id"], "PAID")


def test_underpaid_then_expired(start_daemon, regtest):
    d = start_daemon()
    p = d.create(currency="LTC", amount="1", expires_in=3)
    regtest.pay(p["payment_address"], "0.2")
    d.wait_status(p["id"], "UNDERPAID")
    p = d.wait_status(p["id"], "EXPIRED", timeout=15)
    assert p["amount_received"] == "0.2" and p["paid_late"] is False


def test_policy_defaults_come_from_the_coin_config(start_daemon, regtest, wallet):
    from _daemon import coin_config

    coins = coin_config(regtest, wallet) + 'underpayment_tolerance = "2.5"\nexpires_in = 900\n'
    d = start_daemon(coins=coins)
    p = d.create(currency="LTC", amount="1")
    assert p["underpayment_tolerance"] == "2.5" and p["expires_at"]
    p = d.create(currency="LTC", amount="1", underpayment_tolerance=0, expires_in=60)
    assert p["underpayment_tolerance"] == "0"
