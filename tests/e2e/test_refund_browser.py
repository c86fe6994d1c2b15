"""The WooCommerce-like refund, end to end on litecoind and a real transientd: the pull
payment made with the plugin's exact body through Greenfield, its claim page (viewLink)
in headless Chromium in each of the checkout's five languages and claimed there with the
keyboard, the merchant's approval, the daemon's sender paying it on the node, and the
payout webhooks checked with the webhook's secret (BTCPay-Sig)."""

import hashlib
import hmac
import uuid
from decimal import Decimal

import pytest
import requests
from _cli import as_json, run
from _daemon import Daemon, coin_config, wait_for
from _receiver import Receiver
from test_checkout_browser import _by_id, _chrome, _open, _screenshot

from transient.store import migrations
from transient.store.db import open_database

pytestmark = pytest.mark.xdist_group("checkout-browser")
WOO_BODY = {
    "name": "Refund of order 77; damaged item",
    "description": None,
    "amount": "0.5",
    "currency": "LTC",
    "period": None,
    "BOLT11Expiration": None,
    "autoApproveClaims": False,
    "startsAt": None,
    "expiresAt": None,
    "paymentMethods": ["BTC_CHAIN", "BTC_LN", "LTC_CHAIN"],
    "payoutMethods": ["BTC_CHAIN", "BTC_LN", "LTC_CHAIN"],
}
TITLES = {
    "en": "Claim your refund",
    "de": "Rückerstattung anfordern",
    "es": "Reclame su reembolso",
    "fr": "Réclamez votre remboursement",
    "pt": "Reclame o seu reembolso",
}


@pytest.fixture(scope="module")
def shop(regtest, tmp_path_factory):
    work = tmp_path_factory.mktemp("refunds")
    url = "sqlite:///%s" % (work / "transient.db")
    db = open_database(url)
    migrations.apply(db)
    db.close()
    wallet = regtest.create_wallet("refunds_" + uuid.uuid4().hex[:8])
    regtest.pay(regtest.rpc("getnewaddress", "", wallet=wallet), "3")
    regtest.mine(1)
    extra = '[payouts]\nfee_rate_cap = { LTC = "20" }\ninterval = 1\n[webhook]\nallowed_networks = ["127.0.0.0/8"]\n'
    daemon = Daemon(str(work), url, coin_config(regtest, wallet, poll=1), extra=extra)
    daemon.start()
    receiver = Receiver()
    receiver.start()
    yield daemon, receiver
    receiver.stop()
    daemon.kill()


@pytest.fixture(scope="module")
def browser():
    driver = _chrome(javascript=False)  # the claim page has no script: it works without
    yield driver
    driver.quit()


def test_the_plugins_refund_claimed_in_the_browser_and_paid_once(shop, browser, regtest):
    from selenium.webdriver.common.keys import Keys

    daemon, receiver = shop
    woo = as_json(run("--json", "keys", "create", "--greenfield", "--config", daemon.config_path))
    merchant = as_json(run("--json", "keys", "create", "--scope", "admin", "--config", daemon.config_path))
    api = requests.Session()
    api.headers["Authorization"] = "token %s" % woo["key"]
    base = daemon.base + "/api/v1"
    store = api.get(base + "/stores", timeout=30).json()[0]["id"]
    permissions = api.get(base + "/api-keys/current", timeout=30).json()["permissions"]
    assert "btcpay.store.cancreatenonapprovedpullpayments:%s" % store in permissions  # the refund button
    hook = api.post(base + "/stores/%s/webhooks" % store, json={"url": receiver.url}, timeout=30).json()
    pull = api.post(base + "/stores/%s/pull-payments" % store, json=WOO_BODY, timeout=30)
    assert pull.status_code == 200, pull.text
    link = pull.json()["viewLink"]
    for lang, title in TITLES.items():
        _open(browser, link + "?lang=" + lang)
        assert browser.title == title and _by_id(browser, "remaining").text == "0.5"
    _screenshot(browser, "refund-claim-pt")
    customer = regtest.create_wallet("refund_customer_" + uuid.uuid4().hex[:8])
    address = regtest.rpc("getnewaddress", "", wallet=customer)
    _open(browser, link + "?lang=de")
    field = _by_id(browser, "destination")
    field.send_keys("tltc1qnotanaddress")  # a typo: refused in the page's language
    field.send_keys(Keys.ENTER)
    wait_for(lambda: "Dies ist keine LTC-Adresse" in _by_id(browser, "error").text, timeout=30)
    field = _by_id(browser, "destination")
    field.clear()
    field.send_keys(address)
    field.send_keys(Keys.ENTER)
    wait_for(lambda: "Ihre Anforderung ist erfasst" in _by_id(browser, "claimed").text, timeout=30)
    _screenshot(browser, "refund-claimed-de")
    (payout,) = api.get(base + "/pull-payments/%s/payouts" % pull.json()["id"], timeout=30).json()
    assert (payout["state"], payout["destination"], payout["amount"]) == ("AwaitingApproval", address, "0.5")
    # The plugin's key cannot approve; the merchant's can, with the payout's revision.
    path = base + "/stores/%s/payouts/%s" % (store, payout["id"])
    assert api.post(path, json={"revision": payout["revision"]}, timeout=30).status_code == 403
    approved = requests.post(
        path, json={"revision": payout["revision"]}, headers={"Authorization": "token " + merchant["key"]}, timeout=30
    )
    assert approved.status_code == 200 and approved.json()["state"] == "AwaitingPayment"
    # The daemon's sender pays it; a block completes it.
    check = base + "/pull-payments/%s/payouts/%s" % (pull.json()["id"], payout["id"])
    wait_for(lambda: api.get(check, timeout=30).json()["state"] == "InProgress", timeout=60)
    regtest.mine(1)
    wait_for(lambda: api.get(check, timeout=30).json()["state"] == "Completed", timeout=60)
    got = [e for e in regtest.rpc("listtransactions", "*", 100, 0, True, wallet=customer) if e["category"] == "receive"]
    assert [e["amount"] for e in got] == [Decimal("0.5")]  # paid exactly once
    # The payout webhooks, each signed with the webhook's secret.
    wait_for(
        lambda: (
            [b["type"] for b in receiver.events()][-1:] == ["PayoutUpdated"]
            and any(b.get("payoutState") == "Completed" for b in receiver.events())
        ),
        timeout=60,
    )
    for request in receiver.received():
        want = "sha256=" + hmac.new(hook["secret"].encode(), request.body, hashlib.sha256).hexdigest()
        assert request.headers["BTCPay-Sig"] == want
    states = [(b["type"], b["payoutState"]) for b in receiver.events()]
    assert states[:2] == [("PayoutCreated", "AwaitingApproval"), ("PayoutApproved", "AwaitingPayment")]
    assert ("PayoutUpdated", "InProgress") in states and states[-1] == ("PayoutUpdated", "Completed")
