"""The merchant's dashboard in headless Chromium (Debian's chromium and chromium-driver, as
the checkout's tests) against a real transientd on the litecoind regtest node: the first
owner (made by `transient users create`) signs in with TOTP and adds a manager; the
manager finds a payment by its txid and redelivers its webhook to a real receiver, then
approves its refund; a viewer sees no button and a posted action is refused; a form from another origin is
refused. Screenshots of each page at a phone's and a desktop's width go to
$TRANSIENT_ARTIFACTS (default test-artifacts/). The hostile cases one by one, in-process:
tests/unit/test_dashboard.py."""

import os
import re
import subprocess
import sys
import uuid
from http.server import BaseHTTPRequestHandler

import pyotp
import pytest
import requests
from _cli import clean_env
from _daemon import Daemon, coin_config, wait_for
from _http import close, serve
from _receiver import Receiver
from e2e.test_checkout_browser import ARTIFACTS, _chrome

from transient.devnet.node import find_free_port
from transient.store import migrations
from transient.store.db import open_database

pytestmark = [pytest.mark.xdist_group("dashboard-browser"), pytest.mark.regtest]

OWNER, MANAGER, VIEWER = "owner@example.com", "manager@example.com", "viewer@example.com"
PASSWORD = "correct horse battery"
XSS = '<script>window.pwned=1</script><img id="xss" src="/x" onerror="window.pwned=2">'
PHONE, DESKTOP = (390, 844), (1280, 900)


def users_create(daemon, email, role, password):
    return subprocess.run(
        [sys.executable, "-m", "transient.cli", "--config", daemon.config_path, "users", "create", email]
        + ["--role", role, "--password-stdin"],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )


@pytest.fixture(scope="module")
def site(regtest, tmp_path_factory):
    """A daemon (webhooks to a real receiver on loopback) with its first owner and a viewer."""
    work = tmp_path_factory.mktemp("dashboard")
    url = "sqlite:///%s" % (work / "transient.db")
    db = open_database(url)
    migrations.apply(db)
    db.close()
    receiver = Receiver()
    receiver.start()
    extra = (
        '[webhook]\nurl = "%s"\nallowed_networks = ["127.0.0.0/8"]\n[checkout]\nstore_name = "%s"\n'
        '[dashboard]\ntime_zone = "Europe/Berlin"\n' % (receiver.url, XSS.replace('"', '\\"'))
    )
    wallet = regtest.create_wallet("dash_" + uuid.uuid4().hex[:8])
    daemon = Daemon(str(work), url, coin_config(regtest, wallet, poll=1), extra=extra)
    daemon.wallet = wallet
    for email, role in ((OWNER, "owner"), (VIEWER, "viewer")):
        made = users_create(daemon, email, role, PASSWORD)
        assert made.returncode == 0 and "created %s %s" % (role, email) in made.stdout, made.stderr
    daemon.start()
    yield daemon, receiver
    daemon.kill()
    receiver.stop()


@pytest.fixture(scope="module")
def browser():
    driver = _chrome()
    yield driver
    driver.quit()


def _by(driver, css):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css)


def _all(driver, css):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, css)


def _fill(driver, values):
    for css, value in values.items():
        field = _by(driver, css)
        field.clear()
        field.send_keys(value)


def _click(driver, css, then):
    """Click ``css`` and wait for the page that follows to show ``then`` (a click on a
    submit button returns before the next page has loaded)."""
    from selenium.webdriver.support.ui import WebDriverWait

    old = _by(driver, "html")
    _by(driver, css).click()

    def arrived(d):
        try:
            _ = old.tag_name
            return False  # still the old document
        except Exception:  # noqa: BLE001 - StaleElementReference: the next page is there
            return bool(_all(d, then))

    WebDriverWait(driver, 30, poll_frequency=0.1).until(arrived)


def _shoot(driver, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    for label, (w, h) in (("phone", PHONE), ("desktop", DESKTOP)):
        driver.set_window_size(w, h)
        driver.save_screenshot(os.path.join(ARTIFACTS, "dashboard-%s-%s.png" % (name, label)))
    driver.set_window_size(*PHONE)


def _sign_in(driver, base, email, next_=""):
    driver.delete_all_cookies()
    driver.get(base + "/dashboard" + next_)
    assert "/dashboard/login?next=" in driver.current_url
    _fill(driver, {"#email": email, "#password": PASSWORD})
    _click(driver, "#sign-in", "main h1")


def test_no_default_account_and_the_cli_refuses_a_short_password(site):
    daemon, _ = site
    short = users_create(daemon, "x@example.com", "owner", "short")
    assert short.returncode == 2 and "password" in short.stderr and "Traceback" not in short.stderr
    page = requests.get(daemon.base + "/dashboard/login", timeout=10)
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    for email, password in (("admin", "admin"), ("admin@example.com", "password"), (OWNER, "")):
        answer = requests.post(
            daemon.base + "/dashboard/login",
            data={"csrf": token, "email": email, "password": password},
            cookies=page.cookies,
            headers={"Origin": daemon.base},
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 401 and "transient_session" not in answer.cookies


def test_the_owner_signs_in_with_totp_adds_a_manager_and_every_page_is_shot(site, browser, regtest):
    daemon, _ = site
    payment = daemon.create(currency="LTC", amount="0.5", account=XSS, metadata={"orderId": XSS}, expires_in=3600)
    _sign_in(browser, daemon.base, OWNER)
    _shoot(browser, "login-setup")
    assert _all(browser, "#secret"), (browser.current_url, browser.page_source[-1500:])
    secret = _by(browser, "#secret").text
    _fill(browser, {"#code": pyotp.TOTP(secret).now()})
    _click(browser, "#verify", "main h1")
    codes = [li.text for li in _all(browser, "#recovery-codes li")]
    assert len(codes) == 10
    _click(browser, "#continue", "#who")
    assert _by(browser, "#who").text == OWNER
    browser.get(daemon.base + "/dashboard/users")
    _fill(browser, {"#new-email": MANAGER, "#new-password": PASSWORD})
    from selenium.webdriver.support.ui import Select

    Select(_by(browser, "#new-role")).select_by_visible_text("manager")
    _click(browser, "#create-user", "#users")
    assert MANAGER in _by(browser, "#users").text and "user.create" in _by(browser, "#audit").text
    for name, path in (
        ("overview", ""),
        ("payments", "/payments"),
        ("payment", "/payments/" + payment["id"]),
        ("webhooks", "/webhooks"),
        ("health", "/health"),
        ("keys", "/keys"),
        ("users", "/users"),
        ("settings", "/settings"),
        ("account", "/account"),
        ("overview-de", "?lang=de"),
    ):
        browser.get(daemon.base + "/dashboard" + path)
        assert browser.execute_script("return window.pwned") is None, name
        assert not _all(browser, "#xss"), name
        _shoot(browser, name)
    logs = [e for e in browser.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]]
    assert not logs, logs  # no page broke its policy


def test_the_manager_finds_a_payment_by_txid_and_redelivers_its_webhook(site, browser, regtest):
    daemon, receiver = site
    payment = daemon.create(currency="LTC", amount="0.25", expires_in=3600)
    txid = regtest.pay(payment["payment_address"], "0.25")
    regtest.mine(1)
    wait_for(lambda: daemon.payment(payment["id"])["status"] == "PAID", timeout=60)
    wait_for(lambda: any(r.json.get("payment_id") == payment["id"] for r in receiver.requests), timeout=60)
    _sign_in(browser, daemon.base, MANAGER, next_="/payments")
    assert browser.current_url.endswith("/dashboard/payments")  # ?next= brought it back there
    _fill(browser, {"#q": txid})
    _click(browser, "#filter", "main h1")
    rows = _all(browser, "#payments tbody tr")
    assert len(rows) == 1 and payment["id"] in rows[0].text and "PAID" in rows[0].text
    _click(browser, "#payments a", "#receipts")
    assert txid in _by(browser, "#receipts").text
    before = len(receiver.requests)
    _click(browser, "button.redeliver", "#done")
    assert "Queued again" in _by(browser, "#done").text
    assert "delivery.redeliver" in _by(browser, "#audit").text and MANAGER in _by(browser, "#audit").text
    wait_for(lambda: len(receiver.requests) > before, timeout=30)
    _shoot(browser, "payment-redelivered")
    browser.get(daemon.base + "/dashboard")
    received = _by(browser, "#received-LTC").text  # the chart's figures, beside it as a table
    assert "0.25" in received and _all(browser, ".chart svg rect.bar")
    _shoot(browser, "overview-received")


def test_the_manager_approves_a_refund(site, browser, regtest):
    daemon, _ = site
    payment = daemon.create(currency="LTC", amount="0.2", expires_in=3600)
    regtest.pay(payment["payment_address"], "0.2")
    regtest.mine(1)
    wait_for(lambda: daemon.payment(payment["id"])["status"] == "PAID", timeout=60)
    destination = regtest.rpc("getnewaddress", "", wallet=daemon.wallet)
    made = daemon.post("/payments/%s/refund" % payment["id"], json={"destination": destination})
    assert made.status_code == 201, made.text
    payout = made.json()["payout"]
    assert payout["state"] == "awaiting_approval"
    _sign_in(browser, daemon.base, MANAGER, next_="/refunds")
    row = [r for r in _all(browser, "#payouts tbody tr") if payout["id"] in r.text]
    assert row and "0.2" in row[0].text and destination in row[0].text
    _shoot(browser, "refunds")
    _click(browser, 'button.approve[data-payout="%s"]' % payout["id"], "#done")
    assert "Approved" in _by(browser, "#done").text
    audit = _by(browser, "#audit").text
    assert "payout.approve" in audit and MANAGER in audit
    assert daemon.get("/payouts/%s" % payout["id"]).json()["payout"]["state"] != "awaiting_approval"
    browser.get(daemon.base + "/dashboard/payments/" + payment["id"])  # audited on the payment too
    assert "payout.approve" in _by(browser, "#audit").text


def test_a_viewer_has_no_buttons_and_a_posted_action_is_refused(site, browser):
    daemon, receiver = site
    payment = daemon.create(currency="LTC", amount="0.1", expires_in=3600)
    _sign_in(browser, daemon.base, VIEWER)
    browser.get(daemon.base + "/dashboard/payments/" + payment["id"])
    assert not _all(browser, "button.redeliver") and "Redeliver" not in browser.page_source
    token = _by(browser, "input[name=csrf]").get_attribute("value")  # the sign-out form's
    cookie = browser.get_cookie("transient_session")["value"]
    wait_for(lambda: daemon.get("/payments/%s/events" % payment["id"]).json()["events"][0]["deliveries"], timeout=30)
    delivery = daemon.get("/payments/%s/events" % payment["id"]).json()["events"][0]["deliveries"][0]["id"]
    answer = requests.post(
        "%s/dashboard/deliveries/%s/redeliver" % (daemon.base, delivery),
        data={"csrf": token},
        cookies={"transient_session": cookie},
        headers={"Origin": daemon.base},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 403
    events = daemon.get("/payments/%s/events" % payment["id"]).json()["events"]
    assert [len(e["deliveries"]) for e in events] == [1] * len(events)  # nothing queued


def test_a_form_from_another_origin_is_refused(site, browser):
    """Another port on the same host is the same site (the SameSite cookie goes along) but
    another origin: the dashboard refuses the form by its Origin."""
    daemon, _ = site
    _sign_in(browser, daemon.base, MANAGER)
    browser.get(daemon.base + "/dashboard/keys")  # a manager is no owner
    assert "Not allowed" in browser.title
    target = daemon.base + "/dashboard/logout"

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self):
            body = ('<form method="post" action="%s"><button id="go">win a prize</button></form>' % target).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    port = find_free_port()
    server = serve(port, Evil)
    try:
        browser.get("http://127.0.0.1:%d/" % port)
        _click(browser, "#go", "#refused")
        assert "another site" in browser.page_source
    finally:
        close(server)
    browser.get(daemon.base + "/dashboard")
    assert _by(browser, "#who").text == MANAGER  # still signed in: the forged sign-out did nothing
