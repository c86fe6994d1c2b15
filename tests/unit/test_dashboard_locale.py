"""The dashboard writes what it shows the way the reader's language does: amounts with the
checkout's and the e-mails' separators (api/checkout/i18n.NUMBERS, every digit kept), and
the names of statuses, states and roles, and the services' refusals, translated (the
values sent in forms stay the codes the services take)."""

import inspect
import re

import pytest
from _api import post
from _dashboard import Browser
from fakes import fake_runtime

from transient.accounts import service as accounts_service
from transient.api.dashboard import refunds as dashboard_refunds
from transient.api.dashboard import views, wording
from transient.core import money
from transient.core import status as st
from transient.payments import service as payments_service
from transient.payouts import refunds, validation
from transient.payouts import service as payouts_service
from transient.payouts import states as payout_states
from transient.reports import columns
from transient.reports import service as reports_service
from transient.reports.service import STATES
from transient.store.models import Delivery
from transient.store.users import ROLES

PASSWORD = "correct horse battery"
MANAGER = "manager@example.com"
GERMAN, FRENCH = {"Accept-Language": "de-DE,de;q=0.9"}, {"Accept-Language": "fr"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    client, runtime = fake_runtime(tmp_path_factory.mktemp("dashboard-locale"))
    runtime.accounts.create_user(MANAGER, "manager", PASSWORD)
    made = post(client, {"currency": "LTC", "amount": "1.5"}).json["payment"]
    backend = runtime.backends["LTC"]
    backend.pay(made["payment_address"], 1_234_500_000_000)  # 12345 LTC: a thousands separator
    backend.mine()
    runtime.syncers["LTC"].run()
    browser = Browser(client)
    assert browser.sign_in(MANAGER, PASSWORD).status_code == 303
    yield browser, runtime, made
    runtime.close()


def test_amounts_are_written_with_the_languages_separators_every_digit_kept(env):
    browser, _, made = env
    url = "/dashboard/payments/%s" % made["id"]
    english, german, french = (browser.get(url, headers=h).text for h in ({}, GERMAN, FRENCH))
    assert "<dd>1.5 LTC</dd>" in english and "1,5 LTC" not in english
    assert "<dd>1,5 LTC</dd>" in german and "<dd>1.5 LTC</dd>" not in german
    assert "<dd>1,5 LTC</dd>" in french
    assert '<td class="num">12.345</td>' in german and '<td class="num">12\u202f345</td>' in french  # the receipt
    assert "12.345 (" in german  # received, then pending
    listed = browser.get("/dashboard/payments", headers=GERMAN).text
    assert '<td class="num">1,5 LTC</td><td class="num">12.345</td>' in listed
    overview = browser.get("/dashboard", headers=GERMAN).text
    assert "LTC · gesamt 12.345</h3>" in overview
    assert ": 12.345 LTC</title>" in overview and '<td class="num">12.345</td>' in overview  # chart and table
    assert '<td class="num">12,345</td>' in browser.get("/dashboard").text  # English groups with a comma


def test_payouts_amounts_follow_the_language_too(env):
    browser, runtime, _ = env
    backend = runtime.backends["LTC"]
    payout, _ = runtime.payouts.create({"currency": "LTC", "amount": "0.25", "destination": backend.new_address()})
    page = browser.get("/dashboard/refunds", headers=GERMAN).text
    assert payout.id in page and "0,25 LTC" in page and "0.25 LTC" not in page


def test_statuses_states_and_roles_are_named_in_the_readers_language_the_forms_send_the_codes(env):
    browser, runtime, made = env
    url = "/dashboard/payments/%s" % made["id"]
    german, french = browser.get(url, headers=GERMAN).text, browser.get(url, headers=FRENCH).text
    assert '<strong id="status">ÜBERBEZAHLT</strong>' in german and '<strong id="status">SURPAYÉ</strong>' in french
    assert "<td>bestätigt</td>" in german and ": UNBEZAHLT" in german  # a receipt's state, the timeline
    assert "(Manager)" in german and "(gestionnaire)" in french and "(manager)" in browser.get(url).text
    listed = browser.get("/dashboard/payments?status=OVERPAID", headers=GERMAN).text
    assert '<option value="OVERPAID" selected>ÜBERBEZAHLT</option>' in listed and "<td>ÜBERBEZAHLT" in listed
    overview = browser.get("/dashboard", headers=FRENCH).text
    assert "<span>NON PAYÉ</span>" in overview and 'data-status="UNPAID"' in overview
    backend = runtime.backends["LTC"]
    runtime.payouts.create({"currency": "LTC", "amount": "0.5", "destination": backend.new_address()})
    refunds = browser.get("/dashboard/refunds", headers=GERMAN).text
    assert "<td>wartet auf Freigabe</td>" in refunds and "?state=cancelled" in refunds and ">storniert</a>" in refunds
    reports = browser.get("/dashboard/reports", headers=FRENCH).text
    assert '<optgroup label="versements"><option value="awaiting_approval">en attente d&#x27;approbation' in reports


def test_the_services_refusals_are_said_in_the_readers_language_naming_the_field(env):
    browser, _, made = env
    bad_day = browser.get("/dashboard/payments?from=yesterday", headers=GERMAN)
    assert bad_day.status_code == 400 and "from: muss ein Datum wie 2026-12-31 sein" in bad_day.text
    bad_status = browser.get("/dashboard/payments?status=LOST", headers=FRENCH).text
    assert "status: doit être l&#x27;une des valeurs UNPAID, UNDERPAID" in bad_status  # the choices kept as sent
    url = "/dashboard/payments/%s" % made["id"]
    page = browser.get(url).text
    refused = browser.post(url + "/refund", {"csrf": browser.csrf(page), "variant": "Bogus"})
    assert refused.status_code == 303
    shown = browser.get(refused.headers["location"], headers=GERMAN).text
    assert "variant: muss eines von RateThen" in shown and "must be one of" not in shown
    report = browser.get("/dashboard/reports/download?kind=payouts&status=UNPAID", headers=GERMAN)
    assert report.status_code == 422 and "status: muss eines von awaiting_approval" in report.text
    english = browser.get("/dashboard/reports/download?kind=payouts&status=UNPAID").text
    assert "status: must be one of awaiting_approval" in english


def test_every_code_the_dashboard_shows_has_a_name_and_every_refusal_is_one_a_service_says():
    kinds = set(columns.KINDS)
    codes = {*st.STATUSES, *ROLES, *payout_states.STATES, *kinds, *(s for k in STATES.values() for s in k)}
    codes |= {Delivery.PENDING, Delivery.DELIVERED, Delivery.FAILED}
    assert codes <= set(wording.LABELS) and all(wording.LABELS[c] == c for c in codes)  # English: the code
    sources = "".join(
        inspect.getsource(m) for m in (accounts_service, payouts_service, validation, refunds, reports_service, money)
    ) + "".join(inspect.getsource(m) for m in (payments_service, views, dashboard_refunds))
    for message in wording.SERVICE_MESSAGES:
        said = re.sub(r"\{\w+\}", "%s" if "{n}" not in message and "{now}" not in message else "%d", message)
        assert '"%s"' % said in sources or said.replace("%d", "%s") in sources or message in sources, message
