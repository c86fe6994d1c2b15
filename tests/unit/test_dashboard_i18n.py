"""The dashboard in the checkout's five languages (dashboard.po beside each checkout.po)
and in the reader's time zone: a user's own language and zone (their account page), else
the browser's Accept-Language and ``[dashboard] time_zone``; ``?lang=`` switches a page."""

import datetime
import inspect
import re
import zoneinfo
from importlib import resources

import pytest
from _dashboard import Browser
from fakes import fake_runtime

from transient.accounts import service as accounts_service
from transient.api.checkout import i18n
from transient.api.dashboard import catalog, web
from transient.store.users import AuditEntry, DashboardUser

PLACEHOLDER = re.compile(r"\{(\w+)\}")
PASSWORD = "correct horse battery"
MANAGER, VIEWER = "manager@example.com", "viewer@example.com"
# Words the same in English and that language (cognates, names of things).
SAME = {
    "de": {"Details", "Coins", "Coin", "Chain", "Dashboard", "Webhooks", "Status", "Code", "Browser", "Format"},
    "es": {"Webhooks", "total"},
    "fr": {"Action", "Webhooks", "E-mail", "total", "Transactions", "Confirmations", "Pages", "Code", "Format"},
    "pt": {"Webhooks", "E-mail", "total"},
}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    work = tmp_path_factory.mktemp("dashboard-i18n")
    client, runtime = fake_runtime(work, extra='[dashboard]\ntime_zone = "America/Sao_Paulo"\n')
    for email, role in ((MANAGER, "manager"), (VIEWER, "viewer")):
        runtime.accounts.create_user(email, role, PASSWORD)
    yield client, runtime
    runtime.close()


def signed_in(client, email):
    browser = Browser(client)
    assert browser.sign_in(email, PASSWORD).status_code == 303
    return browser


def test_every_language_translates_every_dashboard_message_with_the_same_placeholders():
    root = resources.files("transient.api.checkout") / "locale"
    messages = catalog.messages()
    pot = i18n.parse_po((root / "dashboard.pot").read_text("utf-8").replace('msgstr ""', 'msgstr "x"'))
    assert list(pot) == messages  # dashboard.pot is the templates' and the refusals' list, in order
    assert len(messages) > 150 and "Your role cannot do this." in messages and "Change the role" in messages
    for lang in i18n.LANGUAGES[1:]:
        po = i18n.parse_po((root / lang / "LC_MESSAGES" / "dashboard.po").read_text("utf-8"))
        assert set(po) == set(messages), (lang, set(messages) - set(po))
        for msgid, msgstr in po.items():
            assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(msgstr)), (lang, msgid)
            assert msgstr != msgid or msgid in SAME[lang], (lang, msgid)  # really translated
        assert all(i18n.gettext_for(lang, i18n.DASHBOARD)(m) == po[m] for m in messages)


def shown(value, zone):
    return value.replace(tzinfo=datetime.timezone.utc).astimezone(zoneinfo.ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def test_a_user_reads_the_dashboard_in_their_language_and_time_zone(env):
    client, _ = env
    manager = signed_in(client, MANAGER)
    page = manager.get("/dashboard/account")
    assert page.headers["content-language"] == "en" and "Your account" in page.text
    saved = manager.post(
        "/dashboard/account", {"csrf": manager.csrf(page.text), "language": "de", "time_zone": "Asia/Tokyo"}
    )
    assert saved.status_code == 303
    page = manager.get(saved.headers["location"])
    assert page.headers["content-language"] == "de"
    assert "<h1>Ihr Konto</h1>" in page.text and ">Übersicht</a>" in page.text and "Gespeichert." in page.text
    assert 'lang="de"' in page.text and "Your account" not in page.text
    entry = AuditEntry.select().where(AuditEntry.action == "user.preferences").get()
    assert shown(entry.at, "Asia/Tokyo") in page.text and "JST" in page.text  # the audit's time, in Tokyo
    assert shown(entry.at, "America/Sao_Paulo") not in page.text  # 12 hours apart: not the merchant's zone
    # A refusal is in the reader's language too; ?lang= switches one page.
    refused = manager.get("/dashboard/keys")
    assert refused.status_code == 403 and "Ihre Rolle darf diese Seite nicht sehen." in refused.text
    assert "<h1>Vue d&#x27;ensemble</h1>" in manager.get("/dashboard?lang=fr").text
    # Users in the merchant's zone ([dashboard] time_zone) and the browser's language.
    viewer = signed_in(client, VIEWER)
    spanish = viewer.get("/dashboard/account", headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"})
    assert spanish.headers["content-language"] == "es" and "<h1>Su cuenta</h1>" in spanish.text
    assert "La del panel (America/Sao_Paulo)" in spanish.text
    users = DashboardUser.get(DashboardUser.email == VIEWER)
    page = viewer.get("/dashboard/payments", headers={"Accept-Language": "pt-BR"})
    assert "Nenhum pagamento corresponde." in page.text and 'aria-label="Páginas"' in page.text
    assert users.language is None and users.time_zone is None


def test_a_wrong_language_or_zone_is_refused_naming_the_field_and_nothing_is_written(env):
    client, _ = env
    viewer = signed_in(client, VIEWER)
    page = viewer.get("/dashboard/account").text
    before = AuditEntry.select().count()
    for data, field in (({"language": "xx"}, "language"), ({"time_zone": "Mars/Olympus"}, "time_zone")):
        answer = viewer.post("/dashboard/account", {"csrf": viewer.csrf(page), **data})
        assert answer.status_code == 400 and field + ":" in answer.text
    forged = viewer.post("/dashboard/account", {"language": "de"})  # no CSRF token
    assert forged.status_code == 403
    user = DashboardUser.get(DashboardUser.email == VIEWER)
    assert (user.language, user.time_zone, AuditEntry.select().count()) == (None, None, before)


def test_the_sign_in_pages_say_the_services_refusals_in_the_browsers_language(env):
    client, _ = env
    source = inspect.getsource(accounts_service)
    assert all('"%s"' % m in source for m in web.SERVICE_MESSAGES)  # the words the service says
    browser = Browser(client)
    german = {"Accept-Language": "de-DE,de;q=0.9"}
    page = browser.get("/dashboard/login", headers=german)
    assert page.headers["content-language"] == "de" and "Anmelden" in page.text
    data = {"csrf": browser.csrf(page.text), "email": VIEWER, "password": "wrong password!"}
    wrong = browser.post("/dashboard/login", data, headers=german)
    assert wrong.status_code == 401 and "falsche E-Mail-Adresse oder falsches Passwort" in wrong.text
