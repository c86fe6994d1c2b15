"""E-mail queued in the unit layer (no SMTP server: nothing is sent here): which events make
which message, the per-address rate limit (later, never dropped), each kind switched off,
the address checks (a line break refused at input, Greenfield's buyerEmail), the [email]
settings' errors without the password. tests/integration/test_email.py sends them."""

import datetime
import json
import pathlib

import pytest
from _api import post
from fakes import fake_runtime

from transient import settings
from transient.core.errors import ConfigError
from transient.email import compose
from transient.store.models import Delivery

EMAIL = """
[email]
smtp_url = "smtp://shop:hunter2-secret@127.0.0.1:9"
sender = "shop@example.org"
rate_limit = 2
%s
"""


def _shop(tmp_path, more=""):
    return fake_runtime(tmp_path, extra=EMAIL % more)


def _paid(client, runtime, email, amount=100_000_000):
    p = post(client, {"currency": "LTC", "amount": "1", "email": email}).json["payment"]
    runtime.backends["LTC"].pay(p["payment_address"], amount)
    runtime.backends["LTC"].mine(1)
    runtime.syncers["LTC"].run()
    return p


def test_a_paid_payment_queues_one_message_and_the_limit_delays_the_rest(tmp_path):
    client, runtime = _shop(tmp_path)
    try:
        for _ in range(3):
            _paid(client, runtime, "many@example.org")
        rows = list(Delivery.select().where(Delivery.url == "mailto:many@example.org").order_by(Delivery.id))
        assert len(rows) == 3  # one "paid" each: nothing dropped
        assert all("Subject: Payment received: 1 LTC" in r.body for r in rows)
        waits = [(r.next_attempt_at - r.created_at).total_seconds() for r in rows]
        assert waits[:2] == [0, 0] and waits[2] == 3600  # the third waits for the next hour
        assert "hunter2" not in rows[0].body and "Message-ID: <" in rows[0].body
    finally:
        runtime.close()


def test_each_kind_can_be_switched_off(tmp_path):
    client, runtime = _shop(tmp_path, 'customer = ["underpaid"]')
    try:
        _paid(client, runtime, "quiet@example.org")  # paid: switched off
        _paid(client, runtime, "short@example.org", amount=40_000_000)  # underpaid: on
        urls = [d.url for d in Delivery.select().where(Delivery.url.startswith("mailto:"))]
        assert urls == ["mailto:short@example.org"]
    finally:
        runtime.close()


def test_no_email_no_message_and_a_line_break_is_refused(tmp_path):
    client, runtime = _shop(tmp_path)
    try:
        _paid(client, runtime, None)
        assert not Delivery.select().where(Delivery.url.startswith("mailto:")).exists()
        for bad in ("x@example.org\r\nBcc: y@example.org", "Name <x@example.org>", "x@@example.org", 7):
            resp = post(client, {"currency": "LTC", "amount": "1", "email": bad})
            assert resp.status_code == 422 and resp.json["error"]["field"] == "email", bad
    finally:
        runtime.close()


def test_greenfield_buyer_email_becomes_the_payments(tmp_path):
    client, runtime = _shop(tmp_path)
    try:
        store = runtime.greenfield.store_id
        body = {"amount": "1", "currency": "LTC", "metadata": {"buyerEmail": "buyer@example.org"}}
        resp = client.simulate_post("/api/v1/stores/%s/invoices" % store, body=json.dumps(body),
                                    headers={"Content-Type": "application/json"})  # fmt: skip
        assert resp.status_code == 200, resp.text
        bad = dict(body, metadata={"buyerEmail": "b@example.org\nBcc: all@example.org"})
        resp = client.simulate_post("/api/v1/stores/%s/invoices" % store, body=json.dumps(bad),
                                    headers={"Content-Type": "application/json"})  # fmt: skip
        assert resp.status_code == 422 and "metadata.buyerEmail" in resp.text
    finally:
        runtime.close()


def test_the_five_languages_and_english_for_the_rest():
    now = datetime.datetime(2026, 12, 7, 10)
    values = {"payment_id": "p", "order_id": None, "currency": "LTC", "amount": "1234.5", "transactions": []}
    subjects = {
        lang: compose.render("paid", compose.language(lang), values)[0] for lang in ("en", "de", "es", "fr", "pt", "xx")
    }
    assert subjects["en"] == subjects["xx"] == "Payment received: 1,234.5 LTC"
    assert subjects["de"] == "Zahlung erhalten: 1.234,5 LTC" and subjects["fr"].startswith("Paiement reçu")
    text = compose.message("paid", "es", "shop@example.org", "a@example.org", values, "k", now)
    assert "Content-Type: multipart/alternative;" in text and "Content-Language: es" in text
    _, _, html = compose.render("underpaid", "en", dict(values, received="1", due="<b>2</b>", link="https://x/pay/p"))
    assert "<b>2</b>" not in html and "&lt;b&gt;2&lt;/b&gt;" in html  # escaped, as every value


@pytest.mark.parametrize(
    "email, key",
    [
        ('smtp_url = "ftp://shop:hunter2-secret@h"\nsender = "a@example.org"', "email.smtp_url"),
        ('smtp_url = "smtp://shop:hunter2-secret@h"', "email.sender"),
        ('smtp_url = "smtp://shop:hunter2-secret@h"\nsender = "a@example.org\\nBcc: b@c"', "email.sender"),
        ('merchant = ["ops@example.org", "x"]', "email.merchant"),
        ('customer = ["paid", "spam"]', "email.customer"),
        ('merchant_language = "xx"', "email.merchant_language"),
    ],
)
def test_settings_errors_name_the_key_never_the_password(tmp_path, email, key):
    path = tmp_path / "config.toml"
    path.write_text('[database]\nurl = "sqlite:///%s"\n[email]\n%s\n' % (tmp_path / "t.db", email))
    with pytest.raises(ConfigError) as info:
        from transient.runtime import Runtime

        Runtime(settings.load(str(path), environ={}))
    assert key in str(info.value) and "hunter2" not in str(info.value)


def _alert_messages():
    """The English messages of the merchant's alerts: each ``_m("...")`` of email/alerts.py."""
    import ast
    import inspect

    from transient.email import alerts

    calls = [n for n in ast.walk(ast.parse(inspect.getsource(alerts))) if isinstance(n, ast.Call)]
    return [c.args[0].value for c in calls if getattr(c.func, "id", None) == "_m"]


def test_every_merchant_alert_is_said_in_the_five_languages_with_the_same_placeholders():
    import re

    messages = _alert_messages() + ["An alert of your Transient"]  # and the templates' footer
    assert len(messages) >= 19 and "Payout {id} awaits your approval" in messages
    for lang in ("de", "es", "fr", "pt"):
        for msgid in messages:
            said = compose.catalogs()[lang].gettext(msgid)
            assert said != msgid, (lang, msgid)  # translated
            assert sorted(re.findall(r"{(\w+)}", said)) == sorted(re.findall(r"{(\w+)}", msgid)), (lang, msgid)
    pot = (pathlib.Path(compose.__file__).parent / "locale" / "email.pot").read_text("utf-8")
    assert all('msgid "%s"' % m.replace('"', '\\"') in pot for m in messages)  # listed for translators


def test_a_merchant_alert_is_text_and_html_in_its_language_every_value_escaped():
    from email import message_from_string, policy

    from transient.email.alerts import _m

    now = datetime.datetime(2026, 12, 8, 1)
    line = _m("Last error: {error}", error="<b>refused</b>")
    text = compose.alert("es", "shop@example.org", "ops@example.org", "x", [line.say("es")], "k", now)
    mail = message_from_string(text, policy=policy.SMTP)
    assert mail["Subject"] == "[Transient] x" and mail["Content-Language"] == "es"
    assert "Último error: <b>refused</b>" in mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "<p>Último error: &lt;b&gt;refused&lt;/b&gt;</p>" in html and '<html lang="es">' in html
