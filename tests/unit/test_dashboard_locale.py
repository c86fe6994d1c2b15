"""The dashboard writes what it shows the way the reader's language does: amounts with the
checkout's and the e-mails' separators (api/checkout/i18n.NUMBERS, every digit kept), and
the names of statuses, states and roles, and the services' refusals, translated (the
values sent in forms stay the codes the services take)."""

import pytest
from _api import post
from _dashboard import Browser
from fakes import fake_runtime

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
