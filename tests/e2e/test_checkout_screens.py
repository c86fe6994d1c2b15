"""The checkout page in every status, in headless Chromium against one real transientd and
the regtest node: screenshots at phone and desktop sizes in two languages (and dark mode),
and what a customer needs first — countdown, QR code, copy buttons — inside the first
screen of a phone, upright and on its side. One daemon, one browser, all page states
driven on the node at once.

Screenshots go to $TRANSIENT_ARTIFACTS/checkout-screens/ (default test-artifacts/, git-ignored)."""

import os
import re
import uuid

import pytest
from _daemon import Daemon, coin_config, wait_for
from test_checkout_browser import ARTIFACTS, CONTRAST_JS, _by_id, _chrome, _severe_console, _wait, past_the_second_of

from transient.api.checkout import page as checkout

# One worker for the module where xdist keeps groups (scripts/test: --dist loadgroup).
pytestmark = [pytest.mark.regtest, pytest.mark.xdist_group("checkout-screens")]

PHONES = {"390x844": (390, 844), "320x640": (320, 640), "844x390": (844, 390), "640x320": (640, 320)}
SIZES = {"phone": (390, 844), "desktop": (1280, 800)}
STORE = "Café Müller & Söhne"
LOGO = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="32" viewBox="0 0 64 32">'
    '<rect width="64" height="32" rx="6" fill="#7a4b2a"/></svg>'
)
# Every status the page has, the payment that reaches it and how (see _drive).
STATES = ["UNPAID", "UNDERPAID", "PENDING", "PAID", "OVERPAID", "EXPIRED", "EXPIRED_PARTIAL", "EXPIRED_LATE"]


@pytest.fixture(scope="module")
def shop(regtest, tmp_path_factory):
    """transientd with a store name, a logo and a fixed LTC/EUR rate, on a fresh wallet."""
    from transient.store import migrations
    from transient.store.db import open_database

    work = tmp_path_factory.mktemp("screens")
    (work / "logo.svg").write_text(LOGO)
    url = "sqlite:///%s" % (work / "transient.db")
    db = open_database(url)
    migrations.apply(db)
    db.close()
    extra = (
        '[checkout]\nrefresh_interval = 1\nstore_name = "%s"\nlogo = "%s"\n'
        '[rates]\nfiat = ["EUR"]\nsources = ["fixed"]\nmin_sources = 1\n[rates.fixed]\n"LTC/EUR" = "80"\n'
        % (STORE, work / "logo.svg")
    )
    wallet = regtest.create_wallet("screens_" + uuid.uuid4().hex[:8])
    daemon = Daemon(str(work), url, coin_config(regtest, wallet, poll=1), extra=extra)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.kill()


@pytest.fixture(scope="module")
def payments(shop, regtest):
    """One payment in each status, on the node: {state: payment}."""
    return _drive(shop, regtest)


def _drive(shop, regtest):
    soon = dict(expires_in=6)  # time enough to pay the partial one before expiry, on a loaded machine
    made = {
        "UNPAID": shop.create(currency="LTC", price="19.99", price_currency="EUR", expires_in=3600),
        "UNDERPAID": shop.create(currency="LTC", amount="1", expires_in=3600),
        "PENDING": shop.create(currency="LTC", amount="0.5", expires_in=3600),
        "PAID": shop.create(currency="LTC", amount="0.5", expires_in=3600),
        "OVERPAID": shop.create(currency="LTC", amount="0.5", expires_in=3600),
        "EXPIRED": shop.create(currency="LTC", amount="0.3", **soon),
        "EXPIRED_PARTIAL": shop.create(currency="LTC", amount="1", **soon),
        "EXPIRED_LATE": shop.create(currency="LTC", amount="0.3", **soon),
    }
    for state, amount in (("PAID", "0.5"), ("OVERPAID", "0.7"), ("EXPIRED_PARTIAL", "0.2")):
        regtest.pay(made[state]["payment_address"], amount)
    regtest.mine(1)
    regtest.pay(made["UNDERPAID"]["payment_address"], "0.4")
    regtest.pay(made["PENDING"]["payment_address"], "0.5")
    _until(shop, made["EXPIRED_LATE"], lambda p: p["status"] == "EXPIRED")
    past_the_second_of(made["EXPIRED_LATE"]["expires_at"])
    regtest.pay(made["EXPIRED_LATE"]["payment_address"], "0.3")
    for state, p in made.items():
        _until(shop, p, lambda p, state=state: checkout.page_state(p) == state)
    return made


def _until(shop, payment, predicate, timeout=90):
    """Wait for the daemon's view of ``payment`` to satisfy ``predicate``; say what it was if not."""
    seen = {}

    def check():
        seen.update(shop.payment(payment["id"]))
        return predicate(seen)

    try:
        wait_for(check, timeout=timeout, interval=0.25)
    except AssertionError:
        raise AssertionError("payment %s stayed %r" % (payment["id"], seen)) from None


@pytest.fixture(scope="module")
def browser():
    driver = _chrome()
    yield driver
    driver.quit()


def _viewport(driver, width, height, dark=False):
    """Exactly this many CSS pixels, as a phone's browser has (not the window's outer size)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 900},
    )
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]},
    )


def _load(driver, url):
    driver.get("about:blank")
    driver.get_log("browser")
    driver.get(url)
    _wait(driver, lambda: driver.execute_script("return document.readyState") == "complete")
    _wait(driver, lambda: driver.execute_script("return !document.querySelector('button[data-copy][hidden]')"))


def _save(driver, name):
    """A screenshot of the whole page at the current width (the full height, then back)."""
    folder = os.path.join(ARTIFACTS, "checkout-screens")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name + ".png")
    size = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    full = driver.execute_script("return document.documentElement.scrollHeight")
    _viewport(driver, size[0], max(size[1], full), dark=driver.execute_script(DARK))
    data = driver.get_screenshot_as_png()
    _viewport(driver, size[0], size[1], dark=driver.execute_script(DARK))
    with open(path, "wb") as fh:
        fh.write(data)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    return path


def _first_screen(driver, name):
    """A screenshot of what the phone shows before any scrolling."""
    folder = os.path.join(ARTIFACTS, "checkout-screens")
    os.makedirs(folder, exist_ok=True)
    assert driver.save_screenshot(os.path.join(folder, name + ".png"))


DARK = "return matchMedia('(prefers-color-scheme: dark)').matches"

# Where each element is, relative to the first screen (the page scrolled to the top).
PLACES = """
window.scrollTo(0, 0);
return arguments[0].map(function (id) {
  var r = document.getElementById(id).getBoundingClientRect();
  return [id, r.top, r.bottom, r.left, r.right, r.width > 0 && r.height > 0];
}).concat([["screen", 0, innerHeight, 0, innerWidth, document.documentElement.scrollWidth <= innerWidth]]);
"""
FIRST_SCREEN = ["countdown", "qr", "address", "copy", "copy-amount", "amount", "status"]


def _outside_first_screen(driver):
    places = driver.execute_script(PLACES, FIRST_SCREEN)
    (_, _, height, _, width, fits) = places[-1]
    assert fits, "wider than the screen"
    whole = "var a = document.getElementById('address'); return a.scrollHeight <= a.clientHeight + 1"
    assert driver.execute_script(whole), "the address needs scrolling in its box"
    return [p for p in places[:-1] if not (p[5] and p[1] >= 0 and p[2] <= height and p[3] >= 0 and p[4] <= width)]


def test_screenshots_of_every_status_at_phone_and_desktop_sizes_in_two_languages(browser, shop, payments):
    taken = []
    for state in STATES:
        p = payments[state]
        for lang in ("en", "de"):
            for size, (width, height) in SIZES.items():
                _viewport(browser, width, height)
                _load(browser, "%s/pay/%s?lang=%s" % (shop.base, p["id"], lang))
                assert _by_id(browser, "checkout").get_attribute("data-state") == state
                assert browser.execute_script("return document.documentElement.lang") == lang
                taken.append(_save(browser, "%s-%s-%s" % (state.lower(), lang, size)))
        # Dark mode follows the system's setting, readable too.
        _viewport(browser, *SIZES["phone"], dark=True)
        _load(browser, "%s/pay/%s" % (shop.base, p["id"]))
        assert browser.execute_script(DARK)
        low = [(name, ratio) for name, ratio in browser.execute_script(CONTRAST_JS) if ratio < 4.5]
        assert not low, (state, low)
        taken.append(_save(browser, "%s-en-phone-dark" % state.lower()))
        assert not _severe_console(browser), state
    assert len(taken) == len(STATES) * 5 and len(set(taken)) == len(taken)


@pytest.mark.parametrize("lang", ["en", "de"])
def test_countdown_qr_and_copy_buttons_are_in_the_first_screen_of_a_phone(browser, shop, payments, lang):
    for state in ("UNPAID", "UNDERPAID"):
        for name, (width, height) in PHONES.items():
            _viewport(browser, width, height)
            _load(browser, "%s/pay/%s?lang=%s" % (shop.base, payments[state]["id"], lang))
            outside = _outside_first_screen(browser)
            _first_screen(browser, "first-screen-%s-%s-%s" % (state.lower(), lang, name))
            assert not outside, (state, lang, name, outside)


def test_the_top_of_the_page_store_logo_test_badge_amount_price_and_status(browser, shop, payments):
    _viewport(browser, *SIZES["phone"])
    p = payments["UNPAID"]
    _load(browser, "%s/pay/%s?lang=de" % (shop.base, p["id"]))
    assert _by_id(browser, "store").text == STORE
    logo = _by_id(browser, "logo")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", logo) == 64
    assert logo.get_attribute("src").startswith(shop.base + "/pay/static/logo.svg?v=")
    assert _by_id(browser, "testnet").text == "Testnetz – diese Coins haben keinen Wert"  # regtest
    # The price as priced (19.99 EUR), the amount exact, both written the German way.
    assert _by_id(browser, "price").text == "19,99"
    assert _by_id(browser, "amount").text == p["amount"].replace(".", ",")
    assert _by_id(browser, "status").text.endswith("Wir warten auf Ihre Zahlung.")
    # Amount, countdown and status at the top: above the code and the address.
    tops = {i: _by_id(browser, i).rect["y"] for i in ("amount", "countdown", "status", "qr", "address")}
    assert max(tops["amount"], tops["countdown"], tops["status"]) < min(tops["qr"], tops["address"]), tops
    assert re.fullmatch(r"(\d+:)?\d+:\d\d", _by_id(browser, "countdown").text)
    # Nothing from another host: the logo too is the daemon's.
    urls = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and all(u.startswith(shop.base + "/") for u in urls), urls
    # The amount's copy button copies the exact amount (a wallet's notation), and says so.
    _by_id(browser, "copy-amount").click()
    _wait(browser, lambda: _by_id(browser, "copied").text == "Betrag kopiert.")
    amount = browser.execute_script("return document.querySelector('#pay [data-field=amount_due]').dataset.value")
    assert amount == p["amount_due"]
    _by_id(browser, "copy").click()
    _wait(browser, lambda: _by_id(browser, "copied").text == "Adresse kopiert.")


def test_transactions_show_a_short_copyable_txid_and_their_confirmations(browser, shop, payments, regtest):
    _viewport(browser, *SIZES["phone"])
    p = payments["PENDING"]
    _load(browser, "%s/pay/%s" % (shop.base, p["id"]))
    (tx,) = shop.payment(p["id"])["transactions"]
    code = browser.find_element("css selector", "#tx-list .txid")
    assert code.text == "%s…%s" % (tx["txid"][:8], tx["txid"][-8:]) and code.get_attribute("title") == tx["txid"]
    assert browser.find_element("css selector", "#tx-list .tx-conf").text == "0 of 1 confirmations"
    button = browser.find_element("css selector", "#tx-list button[data-copy=txid]")
    assert button.get_attribute("data-value") == tx["txid"]
    button.click()
    _wait(browser, lambda: _by_id(browser, "tx-copied").text == "Transaction ID copied.")
    # The list follows the node: a block later the same row says 1 of 1, the page PAID.
    regtest.mine(1)
    _wait(browser, lambda: _by_id(browser, "checkout").get_attribute("data-state") == "PAID")
    _wait(browser, lambda: browser.find_element("css selector", "#tx-list .tx-conf").text == "1 of 1 confirmations")
    assert not _severe_console(browser)
