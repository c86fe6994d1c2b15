"""The /pay/{id} checkout page in headless Chromium (Debian's chromium through Debian's
chromium-driver, both by explicit path: nothing downloads a browser) against a real
transientd and the regtest node. The page's rendering in-process:
tests/unit/test_checkout.py.

Screenshots go to $TRANSIENT_ARTIFACTS, default test-artifacts/ (git-ignored)."""

import datetime
import os
import re
import uuid

import pytest
from _daemon import ROOT, Daemon, coin_config, wait_for
from _qr_decode import decode_png
from _services import _missing

from transient.store import migrations
from transient.store.db import open_database

# One worker for the module where xdist keeps groups (scripts/test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("checkout-browser")

# Debian's paths; elsewhere point these at a matching browser and driver.
CHROMIUM = os.environ.get("TRANSIENT_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TRANSIENT_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = os.environ.get("TRANSIENT_ARTIFACTS") or os.path.join(ROOT, "test-artifacts")
XSS_ACCOUNT = "<script>window.pwned = 1</script>"
XSS_DESCRIPTION = '"><img id="xss" src="/x" onerror="window.pwned = 2">'
# The redirect goes back to the daemon on loopback: allowed as an operator would.
FAST = '[checkout]\nrefresh_interval = 1\n[webhook]\nallowed_networks = ["127.0.0.0/8", "::1/128"]\n'


# -- in Chromium -------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_daemon(regtest, tmp_path_factory):
    """One transientd for the module, on SQLite (test_e2e covers PostgreSQL): each test
    makes its own payments, to its own addresses, so they do not see each other."""
    work = tmp_path_factory.mktemp("checkout")
    url = "sqlite:///%s" % (work / "transient.db")
    db = open_database(url)
    migrations.apply(db)
    db.close()
    wallet = regtest.create_wallet("checkout_" + uuid.uuid4().hex[:8])
    daemon = Daemon(str(work), url, coin_config(regtest, wallet, poll=1), extra=FAST)
    daemon.start()
    yield daemon
    daemon.kill()


def past_the_second_of(stamp):
    """Wait until the whole second after ``stamp`` (an API time) has begun: the node stamps
    a transaction in whole seconds, and one of expiry's own second counts as in time."""
    after = datetime.datetime.fromisoformat(stamp.rstrip("Z")).replace(microsecond=0) + datetime.timedelta(seconds=1)
    wait_for(lambda: datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) >= after, timeout=10)


def _chrome(javascript=True):
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            _missing("%s is not installed (apt-get install %s)" % (path, package))
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install -e .[test])")
    options = Options()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--window-size=390,844",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    # An explicit driver path: selenium runs it as is and never fetches a driver or browser.
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium at a phone's size (390x844 CSS pixels)."""
    driver = _chrome()
    yield driver
    driver.quit()


def _wait(driver, predicate, timeout=60):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # A page that reloads itself (no JavaScript) may be between documents.
    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, timeout, poll_frequency=0.1, ignored_exceptions=ignored).until(lambda d: predicate())


def _by_id(driver, element_id):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def _open(driver, url):
    """Load ``url`` with a clean console: the last test's page (still polling its daemon,
    whose port may now belong to another) is left first and its log entries dropped."""
    driver.get("about:blank")
    driver.get_log("browser")
    driver.get(url)


def _due(driver):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, "#pay .due strong").text


def _state(driver):
    return _by_id(driver, "checkout").get_attribute("data-state")


def _visible_texts(driver):
    """The text of the status panel that shows (exactly one does)."""
    from selenium.webdriver.common.by import By

    shown = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#status [data-for]") if e.is_displayed()]
    assert len(shown) == 1, shown
    return shown[0]


def _screenshot(driver, name):
    """Save a full-height screenshot of the page at phone width; return its path."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, "checkout-%s.png" % name)
    driver.execute_script("window.scrollTo(0, 0)")
    width, height = driver.get_window_size()["width"], driver.get_window_size()["height"]
    full = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, max(height, full + 100))
    assert driver.save_screenshot(path)
    driver.set_window_size(width, height)
    print("screenshot: %s" % path)
    return path


def _qr_text(driver):
    """Decode the QR code as the browser shows it (a screenshot of the <img>)."""
    img = _by_id(driver, "qr")
    _wait(driver, lambda: driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img))
    return decode_png(img.screenshot_as_png).text


def _reloading(driver, read, attempts=10):
    """``read()`` on a page that reloads itself (no JavaScript: meta refresh), again when
    the element read went stale with the document it was in."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException

    for attempt in range(attempts):
        try:
            return read()
        except WebDriverException as exc:
            # Chromium says "stale element", or "Node with given id does not belong to the document"
            gone = isinstance(exc, (NoSuchElementException, StaleElementReferenceException)) or (
                "does not belong to the document" in str(exc)
            )
            if not gone or attempt == attempts - 1:
                raise
            _wait(driver, lambda: driver.execute_script("return document.readyState") == "complete")


def _severe_console(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


CONTRAST_JS = """
function lum(c) {
  var v = c.match(/[0-9.]+/g).slice(0, 3).map(function (x) {
    x = Number(x) / 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
  return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
}
function ground(el) {
  for (; el; el = el.parentElement) {
    var c = getComputedStyle(el).backgroundColor;
    if (c && c !== 'transparent' && !/rgba\\(.*, 0\\)$/.test(c)) { return c; }
  }
  return 'rgb(255, 255, 255)';
}
var out = [];
document.querySelectorAll('h1, p, span, strong, a, button, label, textarea, time').forEach(function (el) {
  if (!el.getClientRects().length || !el.textContent.trim() && el.tagName !== 'TEXTAREA') { return; }
  var a = lum(getComputedStyle(el).color), b = lum(ground(el));
  out.push([el.tagName + '#' + el.id + '.' + el.className, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]);
});
return out;
"""


@pytest.mark.regtest
def test_page_shows_amount_address_and_a_scannable_qr_on_a_phone(browser, shared_daemon):
    daemon = shared_daemon
    p = daemon.create(
        currency="LTC", amount="1.25", account=XSS_ACCOUNT, metadata={"description": XSS_DESCRIPTION}, expires_in=3600
    )
    _open(browser, daemon.base + "/pay/" + p["id"])
    copy = _by_id(browser, "copy")
    _wait(browser, copy.is_displayed)  # checkout.js ran (the button is hidden without it)
    assert _state(browser) == "UNPAID" and _visible_texts(browser) == "Waiting for your payment."
    assert _by_id(browser, "amount").text == "1.25"
    assert _due(browser) == "1.25 LTC"
    assert _by_id(browser, "address").get_attribute("value") == p["payment_address"]
    assert _by_id(browser, "wallet").get_attribute("href") == p["payment_uri"]
    assert _qr_text(browser) == "LITECOIN:%s?amount=1.25" % p["payment_address"].upper()
    assert re.fullmatch(r"(\d+:)?\d+:\d\d", _by_id(browser, "countdown").text)
    # The description shows as text; nothing it holds became markup or ran. The account is
    # the merchant's: not on the public page at all.
    assert "pwned = 1" not in browser.page_source
    assert _by_id(browser, "description").text == XSS_DESCRIPTION
    assert browser.execute_script("return document.querySelectorAll('#xss, script:not([src])').length") == 0
    assert browser.execute_script("return window.pwned === undefined")
    # Phone-sized: nothing wider than the screen.
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    # Accessible: a language, a label for the input, alt text, readable contrast.
    assert browser.execute_script("return document.documentElement.lang") == "en"
    assert browser.execute_script("return document.querySelector('label[for=address]').textContent")
    assert p["payment_address"] in _by_id(browser, "qr").get_attribute("alt")
    low = [(name, ratio) for name, ratio in browser.execute_script(CONTRAST_JS) if ratio < 4.5]
    assert not low, low
    # Everything came from the daemon itself, and the policy blocked nothing of ours.
    urls = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and all(u.startswith(daemon.base + "/") for u in urls), urls
    assert not _severe_console(browser)
    copy.click()
    _wait(browser, lambda: _by_id(browser, "copied").text)
    assert _by_id(browser, "copied").text in ("Address copied.", "Select the text and copy it.")
    _screenshot(browser, "unpaid")


@pytest.mark.regtest
def test_page_follows_the_payment_live_until_paid_then_redirects(browser, shared_daemon, regtest):
    daemon = shared_daemon
    thanks = daemon.base + "/healthz?thanks=1"
    p = daemon.create(currency="LTC", amount="0.5", redirect_url=thanks)
    _open(browser, daemon.base + "/pay/" + p["id"])
    assert _state(browser) == "UNPAID"
    regtest.pay(p["payment_address"], "0.5")
    _wait(browser, lambda: _state(browser) == "PENDING")
    assert _visible_texts(browser) == "Payment received. Confirming: 0 of 1 confirmations."
    assert not _by_id(browser, "pay").is_displayed()  # no QR once the full amount is seen
    _screenshot(browser, "pending")
    regtest.mine(1)
    _wait(browser, lambda: browser.current_url == thanks or _state(browser) == "PAID")
    if browser.current_url != thanks:
        assert _visible_texts(browser) == "Paid. Thank you!"
        assert _by_id(browser, "return").get_attribute("href") == thanks
        _screenshot(browser, "paid")
    _wait(browser, lambda: browser.current_url == thanks)


@pytest.mark.regtest
def test_underpaid_page_shows_the_remainder_and_its_qr(browser, shared_daemon, regtest):
    daemon = shared_daemon
    p = daemon.create(currency="LTC", amount="1")
    _open(browser, daemon.base + "/pay/" + p["id"])
    regtest.pay(p["payment_address"], "0.4")
    _wait(browser, lambda: _state(browser) == "UNDERPAID")
    assert _visible_texts(browser) == "Partly paid: 0.4 LTC received. Please send the remaining 0.6 LTC."
    assert _due(browser) == "0.6 LTC"
    _wait(browser, lambda: "v=0.6" in _by_id(browser, "qr").get_attribute("src"))
    assert _qr_text(browser) == "LITECOIN:%s?amount=0.6" % p["payment_address"].upper()
    assert _by_id(browser, "wallet").get_attribute("href") == "litecoin:%s?amount=0.6" % p["payment_address"]
    assert daemon.payment(p["id"])["amount_due"] == "0.6"
    _screenshot(browser, "underpaid")
    regtest.pay(p["payment_address"], "0.7")
    regtest.mine(1)
    _wait(browser, lambda: _state(browser) == "OVERPAID")
    assert "You sent 0.1 LTC more than requested" in _visible_texts(browser)
    assert not _severe_console(browser)  # the live updates broke no policy (CSP, Trusted Types)


@pytest.mark.regtest
def test_expired_page_then_a_late_payment(browser, shared_daemon, regtest):
    daemon = shared_daemon
    p = daemon.create(currency="LTC", amount="0.3", expires_in=2)
    _open(browser, daemon.base + "/pay/" + p["id"])
    _wait(browser, lambda: _state(browser) == "EXPIRED")
    assert _visible_texts(browser).startswith("This payment request has expired.")
    assert not _by_id(browser, "pay").is_displayed()
    past_the_second_of(p["expires_at"])  # a payment of expiry's own second is in time
    regtest.pay(p["payment_address"], "0.3")
    _wait(browser, lambda: _state(browser) == "EXPIRED_LATE")
    assert "arrived after this request expired" in _visible_texts(browser)
    _screenshot(browser, "late")


@pytest.mark.regtest
def test_page_works_without_javascript(shared_daemon, regtest):
    daemon = shared_daemon
    p = daemon.create(currency="LTC", amount="0.25")
    driver = _chrome(javascript=False)
    try:
        driver.get(daemon.base + "/pay/" + p["id"])
        # The page reloads itself every second: an element read may belong to the document
        # just left (stale), so each read is made again on the one that stays loaded.
        assert _reloading(driver, lambda: (_state(driver), _visible_texts(driver))) == (
            "UNPAID",
            "Waiting for your payment.",
        )
        assert not _reloading(driver, lambda: _by_id(driver, "copy").is_displayed())
        assert _reloading(driver, lambda: _by_id(driver, "address").get_attribute("value")) == p["payment_address"]
        assert _reloading(driver, lambda: decode_png(_by_id(driver, "qr").screenshot_as_png).text).endswith(
            "?amount=0.25"
        )
        regtest.pay(p["payment_address"], "0.25")
        # No script: the page reloads itself (meta refresh) and the server renders the new state.
        _wait(driver, lambda: _state(driver) == "PENDING")
        assert _reloading(driver, lambda: _visible_texts(driver)) == (
            "Payment received. Confirming: 0 of 1 confirmations."
        )
        _screenshot(driver, "no-javascript")
    finally:
        driver.quit()
