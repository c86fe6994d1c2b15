"""The /pay/{id} checkout page: rendering and escaping in-process, then in headless
Chromium (Debian's chromium through Debian's chromium-driver, both by explicit path:
nothing downloads a browser) against a real transientd and the regtest node.

Screenshots go to $TRANSIENT_ARTIFACTS, default test-artifacts/ (git-ignored)."""
import base64
import hashlib
import html.parser
import os
import re
import subprocess
import sys
import uuid
import zipfile

import pytest

from _daemon import ROOT
from _qr_decode import decode_png
from conftest import _missing
from test_api import make_client, post
from transient.api.checkout import page as checkout

# Debian's paths; elsewhere point these at a matching browser and driver.
CHROMIUM = os.environ.get("TRANSIENT_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TRANSIENT_CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = os.environ.get("TRANSIENT_ARTIFACTS") or os.path.join(ROOT, "test-artifacts")
XSS_ACCOUNT = "<script>window.pwned = 1</script>"
XSS_DESCRIPTION = '"><img id="xss" src="/x" onerror="window.pwned = 2">'
FAST = "[checkout]\nrefresh_interval = 1\n"


# -- pure: the page's state and what it shows -----------------------------------------

def _payment(**over):
    base = {"id": "6c6fa0ea-1998-49d1-a815-27bbe1f3c5d9", "currency": "LTC", "status": "UNPAID", "paid": False,
            "paid_late": False, "amount": "1.25", "amount_received": "0", "amount_due": "1.25",
            "amount_overpaid": "0", "payment_address": "rltc1qexample",
            "payment_uri": "litecoin:rltc1qexample?amount=1.25",
            "account": None, "metadata": {}, "confirmations_required": 2, "redirect_url": None,
            "transactions": [], "expires_at": None}
    base.update(over)
    return base


@pytest.mark.parametrize("over, state", [
    ({}, "UNPAID"), ({"status": "UNDERPAID"}, "UNDERPAID"), ({"status": "PAID", "paid": True}, "PAID"),
    ({"status": "EXPIRED"}, "EXPIRED"),
    ({"status": "EXPIRED", "amount_received": "0.1"}, "EXPIRED_PARTIAL"),
    ({"status": "EXPIRED", "amount_received": "1.25", "paid_late": True}, "EXPIRED_LATE"),
])
def test_page_state(over, state):
    payment = _payment(**over)
    assert checkout.page_state(payment) == state
    assert 'data-state="%s"' % state in checkout.render_page(payment, _now(), 5)


def test_confirmations_shown_are_the_least_among_counted_outputs():
    txs = [{"status": "confirmed", "confirmations": 5}, {"status": "pending", "confirmations": 1},
           {"status": "conflicted", "confirmations": -1}, {"status": "removed", "confirmations": 0}]
    assert checkout.confirmations(_payment(transactions=txs)) == 1
    assert checkout.confirmations(_payment(transactions=txs[:1])) == 2  # capped at the requirement
    assert checkout.confirmations(_payment()) == 0


def test_refresh_without_javascript_and_redirect_after_payment():
    waiting = checkout.render_page(_payment(redirect_url="https://shop.example/done?a=1&b=2"), _now(), 7)
    assert '<noscript><meta http-equiv="refresh" content="7"></noscript>' in waiting
    paid = checkout.render_page(_payment(status="PAID", paid=True, redirect_url="https://shop.example/done?a=1&b=2"),
                                _now(), 7)
    assert '<meta http-equiv="refresh" content="5;url=https://shop.example/done?a=1&amp;b=2">' in paid
    assert 'href="https://shop.example/done?a=1&amp;b=2"' in paid
    assert 'id="done" data-for="PAID OVERPAID" hidden' not in paid


def test_countdown_is_rendered_from_the_server_clock():
    page = checkout.render_page(_payment(expires_at="2030-01-01T01:02:03.000Z"), _now(), 5)
    assert ">1:02:03</time>" in page  # _now() is 2030-01-01 00:00:00
    assert 'class="expiry" hidden' in checkout.render_page(_payment(), _now(), 5)


def _now():
    import datetime

    return datetime.datetime(2030, 1, 1)


# -- in-process: headers, escaping, assets --------------------------------------------

@pytest.fixture(scope="module")
def client(tmp_path_factory, regtest):
    wallet = regtest.create_wallet("co_" + uuid.uuid4().hex[:8])
    client, runtime = make_client(tmp_path_factory.mktemp("checkout"), regtest, wallet)
    yield client
    runtime.close()


class _Tags(html.parser.HTMLParser):
    """Every start tag of a document with its attributes."""

    def __init__(self, text):
        super().__init__()
        self.tags = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


@pytest.mark.regtest
def test_page_headers_allow_nothing_from_other_hosts(client):
    p = post(client, {"currency": "LTC", "amount": "1"}).json["payment"]
    resp = client.simulate_get("/pay/%s" % p["id"])
    assert resp.status_code == 200 and resp.headers["content-type"] == "text/html; charset=utf-8"
    csp = resp.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert not re.search(r"https?:|\*|data:", csp)
    assert resp.headers["x-frame-options"] == "DENY" and resp.headers["cache-control"] == "no-store"
    assert resp.headers["x-content-type-options"] == "nosniff"
    for tag, attrs in _Tags(resp.text).tags:
        for name in ("src", "href"):
            # Links the customer follows (wallet URI, merchant's redirect_url) are not loads.
            if name in attrs and not (tag == "a" and attrs.get("id") in ("wallet", "return")):
                assert attrs[name].startswith("/"), (tag, attrs)  # same origin, nothing off-host
        assert "style" not in attrs, tag  # inline styles would need 'unsafe-inline'
    scripts = [a for t, a in _Tags(resp.text).tags if t == "script"]
    assert len(scripts) == 1 and scripts[0]["src"].startswith("/pay/static/checkout.js?v=")


@pytest.mark.regtest
def test_every_value_shown_is_escaped(client):
    body = {"currency": "LTC", "amount": "1", "account": XSS_ACCOUNT, "metadata": {"description": XSS_DESCRIPTION},
            "redirect_url": "https://shop.example/thanks?order=1&x=\"><script>"}
    p = post(client, body).json["payment"]
    page = client.simulate_get("/pay/%s" % p["id"]).text
    assert 'data-redirect="https://shop.example/thanks?order=1&amp;x=&quot;&gt;&lt;script&gt;"' in page
    assert XSS_ACCOUNT not in page and XSS_DESCRIPTION not in page
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img id=&quot;xss&quot;" in page
    tags = _Tags(page).tags
    assert [t for t, a in tags if t == "img"] == ["img"]  # only the QR code
    assert not any(a.get("id") == "xss" or "onerror" in a for _, a in tags)


@pytest.mark.regtest
def test_static_assets_match_their_integrity_hashes_and_cache(client):
    p = post(client, {"currency": "LTC", "amount": "1"}).json["payment"]
    tags = _Tags(client.simulate_get("/pay/%s" % p["id"]).text).tags
    links = [a["href"] for t, a in tags if a.get("rel") == "stylesheet"] + [a["src"] for t, a in tags if t == "script"]
    integrity = [a["integrity"] for t, a in tags if a.get("rel") == "stylesheet" or t == "script"]
    assert len(links) == 2
    for url, sri in zip(links, integrity):
        path, _, query = url.partition("?")
        resp = client.simulate_get(path, query_string=query)
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/css" if path.endswith(".css") else "text/javascript")
        assert sri == "sha384-" + base64.b64encode(hashlib.sha384(resp.content).digest()).decode()
        assert resp.headers["cache-control"] == "public, max-age=31536000, immutable"
        again = client.simulate_get(path, headers={"If-None-Match": resp.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
    assert client.simulate_get("/pay/static/nothing.js").status_code == 404
    (icon,) = [a["href"] for t, a in tags if a.get("rel") == "icon"]
    assert client.simulate_get(icon.split("?")[0]).headers["content-type"] == "image/svg+xml"


@pytest.mark.regtest
def test_unknown_payment_is_an_html_404(client):
    for pid in (uuid.uuid4(), "not-a-uuid"):
        resp = client.simulate_get("/pay/%s" % pid)
        assert resp.status_code == 404 and "No such payment" in resp.text
        assert resp.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in resp.headers["content-security-policy"]


def test_the_wheel_ships_the_template_and_static_files(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), ROOT],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("transient-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    room = "transient/api/checkout/"
    assert {room + "templates/checkout.html", room + "static/checkout.js",
            room + "static/checkout.css", room + "static/favicon.svg"} <= names


# -- in Chromium -------------------------------------------------------------------

@pytest.fixture
def db_url(tmp_path):
    """The page does not depend on the database: SQLite only here (test_e2e covers PostgreSQL)."""
    from transient.store import migrations
    from transient.store.db import open_database

    url = "sqlite:///%s" % (tmp_path / "transient.db")
    db = open_database(url)
    migrations.apply(db)
    db.close()
    return url


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
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--disable-extensions", "--window-size=390,844"):
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
def test_page_shows_amount_address_and_a_scannable_qr_on_a_phone(browser, start_daemon):
    daemon = start_daemon(extra=FAST)
    p = daemon.create(currency="LTC", amount="1.25", account=XSS_ACCOUNT, metadata={"description": XSS_DESCRIPTION},
                      expires_in=3600)
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
    # Metadata and account show as text; nothing they hold became markup or ran.
    assert _by_id(browser, "account").text == XSS_ACCOUNT
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
    assert _by_id(browser, "copied").text in ("Address copied.", "Select the address and copy it.")
    _screenshot(browser, "unpaid")


@pytest.mark.regtest
def test_page_follows_the_payment_live_until_paid_then_redirects(browser, start_daemon, regtest):
    daemon = start_daemon(extra=FAST)
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
def test_underpaid_page_shows_the_remainder_and_its_qr(browser, start_daemon, regtest):
    daemon = start_daemon(extra=FAST)
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
def test_expired_page_then_a_late_payment(browser, start_daemon, regtest):
    daemon = start_daemon(extra=FAST)
    p = daemon.create(currency="LTC", amount="0.3", expires_in=2)
    _open(browser, daemon.base + "/pay/" + p["id"])
    _wait(browser, lambda: _state(browser) == "EXPIRED")
    assert _visible_texts(browser).startswith("This payment request has expired.")
    assert not _by_id(browser, "pay").is_displayed()
    regtest.pay(p["payment_address"], "0.3")
    _wait(browser, lambda: _state(browser) == "EXPIRED_LATE")
    assert "arrived after this request expired" in _visible_texts(browser)
    _screenshot(browser, "late")


@pytest.mark.regtest
def test_page_works_without_javascript(start_daemon, regtest):
    daemon = start_daemon(extra=FAST)
    p = daemon.create(currency="LTC", amount="0.25")
    driver = _chrome(javascript=False)
    try:
        driver.get(daemon.base + "/pay/" + p["id"])
        assert _state(driver) == "UNPAID" and _visible_texts(driver) == "Waiting for your payment."
        assert not _by_id(driver, "copy").is_displayed()
        assert _by_id(driver, "address").get_attribute("value") == p["payment_address"]
        assert decode_png(_by_id(driver, "qr").screenshot_as_png).text.endswith("?amount=0.25")
        regtest.pay(p["payment_address"], "0.25")
        # No script: the page reloads itself (meta refresh) and the server renders the new state.
        _wait(driver, lambda: _state(driver) == "PENDING")
        assert _visible_texts(driver) == "Payment received. Confirming: 0 of 1 confirmations."
        _screenshot(driver, "no-javascript")
    finally:
        driver.quit()
