"""The dashboard in-process (Falcon's TestClient on the FakeBackend): signing in with a
password and TOTP, roles, and each hostile case refused with nothing written. The pages
in Chromium on a real daemon and node: tests/e2e/test_dashboard_browser.py."""

import csv
import datetime
import html.parser
import io
import logging
import re

import pyotp
import pytest
from _api import post
from _dashboard import Browser
from fakes import fake_runtime

from transient.ops import metrics
from transient.store.models import Delivery
from transient.store.payouts import PullPayment
from transient.store.users import AuditEntry, DashboardSession

OWNER, MANAGER, VIEWER = "owner@example.com", "manager@example.com", "viewer@example.com"
PASSWORD = "correct horse battery"
XSS = '<script>window.pwned=1</script>"><img src=x onerror=alert(1)>'
HOOK = "http://127.0.0.1:9/hook?x=<script>alert(1)</script>"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    work = tmp_path_factory.mktemp("dashboard")
    extra = '[webhook]\nurl = "%s"\n[checkout]\nstore_name = "%s"\n' % (HOOK, XSS.replace('"', '\\"'))
    client, runtime = fake_runtime(work, extra=extra)
    for email, role in ((OWNER, "owner"), (MANAGER, "manager"), (VIEWER, "viewer")):
        runtime.accounts.create_user(email, role, PASSWORD)
    yield client, runtime
    runtime.close()


class _Parser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(text):
    parser = _Parser()
    parser.feed(text)
    return parser.tags


def signed_in(client, email):
    browser = Browser(client)
    answer = browser.sign_in(email, PASSWORD)
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard", answer.text
    return browser


@pytest.fixture(scope="module")
def payment(env):
    client, _ = env
    body = {"currency": "LTC", "amount": "1.5", "account": XSS, "metadata": {"order_id": XSS, "note": XSS}}
    return post(client, body).json["payment"]


def test_the_first_owner_sets_up_totp_then_signs_in_with_a_code_and_a_recovery_code_once(env):
    client, runtime = env
    browser = Browser(client)
    first = browser.sign_in(OWNER, PASSWORD)
    assert first.headers["location"].startswith("/dashboard/login/setup")
    assert browser.get("/dashboard").status_code == 303  # not signed in until the code
    secret, codes, done = browser.set_up_totp(first)
    assert done.status_code == 200 and len(codes) == 10
    assert browser.get("/dashboard").status_code == 200
    # Next time: the password, then a code; the code just used does not count twice.
    again = Browser(client)
    step = again.sign_in(OWNER, PASSWORD)
    assert step.headers["location"].startswith("/dashboard/login/code")
    assert again.code(step, browser.totp_code).status_code == 401
    later = pyotp.TOTP(secret).at(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=30))
    assert again.code(step, later).status_code == 303 and again.get("/dashboard").status_code == 200
    third = Browser(client)
    step = third.sign_in(OWNER, PASSWORD)
    assert third.code(step, codes[0]).status_code == 303
    fourth = Browser(client)
    assert fourth.code(fourth.sign_in(OWNER, PASSWORD), codes[0]).status_code == 401  # used once


def test_a_planted_session_cookie_is_never_the_one_signed_in(env):
    client, _ = env
    browser = Browser(client)
    browser.cookies["transient_session"] = "attacker-chosen-token"
    answer = browser.sign_in(MANAGER, PASSWORD)
    assert answer.status_code == 303
    assert browser.cookies["transient_session"] != "attacker-chosen-token"
    cookie = answer.cookies["transient_session"]
    assert cookie.http_only and cookie.same_site == "Strict" and cookie.path == "/dashboard"
    planted = Browser(client)
    planted.cookies["transient_session"] = "attacker-chosen-token"
    assert planted.get("/dashboard").status_code == 303


def test_every_page_renders_with_the_strict_policy_and_escapes_every_field(env, payment):
    client, runtime = env
    browser = signed_in(client, MANAGER)
    runtime.accounts.create_user("owner2@example.com", "owner", PASSWORD)
    owner = Browser(client)
    owner.set_up_totp(owner.sign_in("owner2@example.com", PASSWORD))
    pages = ["", "/payments", "/payments/%s" % payment["id"], "/payments?q=%s" % payment["payment_address"]]
    pages += ["/webhooks", "/health", "/webhooks?state=failed"]
    for who, urls in ((browser, pages), (owner, pages + ["/keys", "/users", "/settings"])):
        for url in urls:
            page = who.get("/dashboard" + url)
            assert page.status_code == 200, (url, page.text[:300])
            policy = page.headers["content-security-policy"]
            assert (
                "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
            )
            tags = _tags(page.text)
            assert [a for t, a in tags if t == "script"] == [
                {"src": a["src"], "defer": None} for t, a in tags if t == "script"
            ]
            assert len([t for t, _ in tags if t == "script"]) == 1, url  # only dashboard.js
            assert not any(k.startswith("on") for _, a in tags for k in a), url
            assert not any(t == "img" and a.get("src") == "x" for t, a in tags), url
    detail = browser.get("/dashboard/payments/%s" % payment["id"]).text
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in detail  # the account, shown escaped
    settings = owner.get("/dashboard/settings").text
    assert "<script>alert(1)</script>" not in settings


def test_a_viewer_sees_no_buttons_and_a_posted_action_is_refused_with_nothing_written(env, payment):
    client, _ = env
    viewer = signed_in(client, VIEWER)
    page = viewer.get("/dashboard/payments/%s" % payment["id"]).text
    assert "Redeliver" not in page and 'class="redeliver"' not in page
    delivery = Delivery.select().where(Delivery.payment == payment["id"]).first()
    before, audited = Delivery.select().count(), AuditEntry.select().count()
    answer = viewer.post("/dashboard/deliveries/%d/redeliver" % delivery.id, {"csrf": viewer.csrf(page)})
    assert answer.status_code == 403 and "role" in answer.text
    assert viewer.post("/dashboard/keys", {"csrf": viewer.csrf(page), "label": "x"}).status_code == 403
    assert (Delivery.select().count(), AuditEntry.select().count()) == (before, audited)


def test_a_manager_redelivers_and_the_audit_shows_on_the_payment(env, payment):
    client, _ = env
    manager = signed_in(client, MANAGER)
    page = manager.get("/dashboard/payments/%s" % payment["id"]).text
    delivery_id = re.search(r'data-delivery="(\d+)"', page).group(1)
    before = Delivery.select().count()
    answer = manager.post("/dashboard/deliveries/%s/redeliver" % delivery_id, {"csrf": manager.csrf(page)})
    assert answer.status_code == 303 and Delivery.select().count() == before + 1
    page = manager.get(answer.headers["location"]).text
    assert 'id="done"' in page and "delivery.redeliver" in page and MANAGER in page


@pytest.mark.parametrize(
    "headers, origin, token",
    [
        ({}, "https://evil.example", True),  # another origin
        ({"Sec-Fetch-Site": "cross-site"}, None, True),
        ({}, "null", True),  # a sandboxed frame or a data: page
        ({}, "http://falconframework.org", False),  # no token
    ],
)
def test_a_forged_form_is_refused_and_nothing_is_written(env, payment, headers, origin, token):
    client, _ = env
    manager = signed_in(client, MANAGER)
    page = manager.get("/dashboard/payments/%s" % payment["id"]).text
    delivery_id = re.search(r'data-delivery="(\d+)"', page).group(1)
    before, audited = Delivery.select().count(), AuditEntry.select().count()
    data = {"csrf": manager.csrf(page)} if token else {}
    answer = manager.post("/dashboard/deliveries/%s/redeliver" % delivery_id, data, headers=headers, origin=origin)
    assert answer.status_code == 403
    assert (Delivery.select().count(), AuditEntry.select().count()) == (before, audited)
    login = Browser(client)
    login.get("/dashboard/login")
    forged = login.post("/dashboard/login", {"email": MANAGER, "password": PASSWORD}, headers=headers, origin=origin)
    assert forged.status_code == 403 and "transient_session" not in login.cookies


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/dashboard/../pay", "/dashboard\\@evil", "/api/v1"]
)
def test_next_leads_only_inside_the_dashboard(env, target):
    client, _ = env
    answer = Browser(client).sign_in(MANAGER, PASSWORD, next_=target)
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard"
    inside = Browser(client).sign_in(MANAGER, PASSWORD, next_="/dashboard/health")
    assert inside.headers["location"] == "/dashboard/health"


def test_an_account_locks_after_failures_and_the_log_and_metrics_say_so(env, caplog):
    client, runtime = env
    runtime.accounts.create_user("locked@example.com", "viewer", PASSWORD)
    before = metrics.LOCKOUTS.labels("account")._value.get()
    with caplog.at_level(logging.WARNING, logger="transient.dashboard"):
        for _ in range(5):
            assert Browser(client).sign_in("locked@example.com", "wrong password!").status_code == 401
        locked = Browser(client).sign_in("locked@example.com", PASSWORD)
    assert locked.status_code == 429 and "too many failed sign-ins" in locked.text
    assert "transient_session" not in locked.cookies
    assert metrics.LOCKOUTS.labels("account")._value.get() == before + 1
    assert any("account locked@example.com locked" in r.getMessage() for r in caplog.records)


def test_signing_out_and_revoking_end_the_session(env):
    client, runtime = env
    manager = signed_in(client, MANAGER)
    page = manager.get("/dashboard").text
    assert manager.post("/dashboard/logout", {"csrf": manager.csrf(page)}).status_code == 303
    assert manager.get("/dashboard").status_code == 303
    other = signed_in(client, MANAGER)
    session = DashboardSession.select().order_by(DashboardSession.created_at.desc()).first()
    runtime.accounts.revoke_session(session.id, OWNER, "127.0.0.1")
    assert other.get("/dashboard").status_code == 303


def test_a_manager_approves_a_refund_a_viewer_cannot_and_the_audit_says_who(env):
    client, runtime = env
    backend = runtime.backends["LTC"]
    payout, _ = runtime.payouts.create({"currency": "LTC", "amount": "0.01", "destination": backend.new_address()})
    viewer = signed_in(client, VIEWER)
    page = viewer.get("/dashboard/refunds").text
    assert payout.id in page and 'class="approve"' not in page
    refused = viewer.post("/dashboard/payouts/%s/approve" % payout.id, {"csrf": viewer.csrf(page)})
    assert refused.status_code == 403 and runtime.payouts.get(payout.id).state == "awaiting_approval"
    manager = signed_in(client, MANAGER)
    page = manager.get("/dashboard/refunds").text
    done = manager.post("/dashboard/payouts/%s/approve" % payout.id, {"csrf": manager.csrf(page), "revision": "0"})
    assert done.status_code == 303 and runtime.payouts.get(payout.id).state == "approved"
    assert runtime.payouts.get(payout.id).approved_by == "dashboard:" + MANAGER  # the payouts report's column
    after = manager.get(done.headers["location"]).text
    assert 'id="done"' in after and "payout.approve" in after and MANAGER in after
    again = manager.post("/dashboard/payouts/%s/approve" % payout.id, {"csrf": manager.csrf(page)})
    assert again.status_code == 303 and "error=" in again.headers["location"]  # not twice


def test_a_viewer_downloads_a_report_made_by_the_apis_own_code(env, payment):
    """The download button: a form of report, range, coin, status and format; the file is
    the API's GET /reports/{kind} of the same parameters, byte for byte, streamed; a wrong
    field comes back as the form naming it (422, nothing sent)."""
    client, runtime = env
    assert Browser(client).get("/dashboard/reports/download?kind=payments").status_code == 303  # signed out
    viewer = signed_in(client, VIEWER)
    page = viewer.get("/dashboard/reports")
    assert page.status_code == 200 and 'action="/dashboard/reports/download"' in page.text
    names = {attrs.get("name") for tag, attrs in _tags(page.text) if tag in ("select", "input")}
    assert {"kind", "from", "to", "currency", "status", "format"} <= names
    today = datetime.date.today()
    query = "from=%s&to=%s&currency=LTC&status=UNPAID" % (today - datetime.timedelta(days=1), today)
    for fmt in ("csv", "json"):
        got = viewer.get("/dashboard/reports/download?kind=payments&format=%s&%s" % (fmt, query))
        api = client.simulate_get("/reports/payments", query_string="format=%s&tz=UTC&%s" % (fmt, query))
        assert got.status_code == 200 and api.status_code == 200
        assert got.headers["content-disposition"].startswith('attachment; filename="transient-payments-')
        assert got.headers["content-type"] == api.headers["content-type"] and got.text == api.text
        assert payment["id"] in got.text  # XSS text in a cell: a file, not a page
    (row,) = csv.DictReader(io.StringIO(viewer.get("/dashboard/reports/download?kind=payments&" + query).text))
    assert row["payment_id"] == payment["id"] and row["order_id"] == XSS  # text, as it was given
    bad = viewer.get("/dashboard/reports/download?kind=payouts&status=UNPAID")
    assert bad.status_code == 422 and 'id="error"' in bad.text and "status" in bad.text
    assert 'aria-invalid="true"' in bad.text and "attachment" not in bad.headers.get("content-disposition", "")
    assert viewer.get("/dashboard/reports/download?kind=invoices").status_code == 404


def test_a_manager_refunds_a_payment_from_its_page_a_viewer_cannot(env):
    client, runtime = env
    backend = runtime.backends["LTC"]
    made = post(client, {"currency": "LTC", "amount": "0.001"}).json["payment"]
    url = "/dashboard/payments/%s" % made["id"]
    viewer, manager = signed_in(client, VIEWER), signed_in(client, MANAGER)
    page = manager.get(url).text
    before = (PullPayment.select().count(), AuditEntry.select().count())
    nothing = manager.post(url + "/refund", {"csrf": manager.csrf(page)})  # nothing received yet
    assert nothing.status_code == 303 and "error=payment_id" in nothing.headers["location"]
    assert 'id="error"' in manager.get(nothing.headers["location"]).text
    backend.pay(made["payment_address"], 150_000)  # overpaid by 0.0005
    backend.mine()
    runtime.syncers["LTC"].run()
    shown = viewer.get(url).text
    assert 'id="refund"' in shown and 'class="refund"' not in shown  # the section, no button
    refused = viewer.post(url + "/refund", {"csrf": viewer.csrf(shown), "variant": "OverpaidAmount"})
    assert refused.status_code == 403
    forged = manager.post(url + "/refund", {"variant": "OverpaidAmount"})  # no CSRF token
    assert forged.status_code == 403
    bad = manager.post(url + "/refund", {"csrf": manager.csrf(page), "variant": "Bogus"})
    assert "error=variant" in bad.headers["location"]
    assert (PullPayment.select().count(), AuditEntry.select().count()) == before
    # Without an address: a claim page for the customer.
    claim = manager.post(url + "/refund", {"csrf": manager.csrf(page), "variant": "OverpaidAmount"})
    assert claim.status_code == 303 and "done=refund" in claim.headers["location"]
    pull = PullPayment.select().order_by(PullPayment.created_at.desc()).first()
    assert pull.amount == 50_000 and str(pull.payment_id) == made["id"]
    after = manager.get(claim.headers["location"]).text
    assert "/claim/%s" % pull.id in after and "payment.refund" in after
    # With the customer's address: a payout awaiting approval, on the refunds page.
    to = backend.new_address()
    paid = manager.post(url + "/refund", {"csrf": manager.csrf(page), "variant": "RateThen", "destination": to})
    assert paid.status_code == 303 and paid.headers["location"].startswith("/dashboard/refunds?done=refund")
    (payout,) = runtime.payouts.list(state="awaiting_approval", currency="LTC", limit=100)[:1]
    assert payout.destination == to and payout.amount == 100_000
    assert to in manager.get(paid.headers["location"]).text
