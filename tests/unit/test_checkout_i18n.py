"""The checkout page's languages (gettext catalogs, Accept-Language, ?lang=), numbers per
language, and the store's name, logo and test-network badge, rendered in-process."""

import gettext
import io
import re
from decimal import Decimal

import pytest
from _api import post
from fakes import fake_runtime
from hypothesis import given
from hypothesis import strategies as s

from transient import settings
from transient.api.checkout import i18n
from transient.api.checkout import page as checkout
from transient.core.errors import ConfigError, NodeUnreachable

PLACEHOLDER = re.compile(r"\{(\w+)\}")


# -- the catalogs -------------------------------------------------------------------


def test_every_language_translates_every_message_with_the_same_placeholders():
    from importlib import resources

    root = resources.files("transient.api.checkout") / "locale"
    messages = checkout.template_messages()
    pot = i18n.parse_po((root / "checkout.pot").read_text("utf-8").replace('msgstr ""', 'msgstr "x"'))
    assert list(pot) == messages  # checkout.pot is the template's list, in order
    assert len(messages) > 30 and i18n.LANGUAGES == ("en", "de", "es", "fr", "pt")
    for lang in i18n.LANGUAGES[1:]:
        po = i18n.parse_po((root / lang / "LC_MESSAGES" / "checkout.po").read_text("utf-8"))
        assert set(po) == set(messages), lang
        for msgid, msgstr in po.items():
            assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(msgstr)), (lang, msgid)
            assert msgstr != msgid or msgid in ("Status", "Transactions"), (lang, msgid)  # really translated
        # What the page reads is what the translator wrote.
        assert all(i18n.gettext_for(lang)(m) == po[m] for m in messages)


def test_po_parsing_and_mo_compiling_follow_gettext():
    po = (
        '# a comment\nmsgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Copy"\nmsgstr "Kopieren"\n\n'
        '#, fuzzy\nmsgid "Paid"\nmsgstr "Bezahlt?"\n\n'
        'msgid "Two "\n"lines \\"quoted\\""\nmsgstr ""\n"Zwei Zeilen"\n\n'
        'msgid "Untranslated"\nmsgstr ""\n'
    )
    parsed = i18n.parse_po(po)
    assert parsed == {"Copy": "Kopieren", 'Two lines "quoted"': "Zwei Zeilen"}  # no fuzzy, no empty
    catalog = gettext.GNUTranslations(io.BytesIO(i18n.compile_mo(dict(parsed, **{"": "charset=UTF-8\n"}))))
    assert catalog.gettext("Copy") == "Kopieren" and catalog.gettext("Paid") == "Paid"
    assert catalog.gettext('Two lines "quoted"') == "Zwei Zeilen"


@pytest.mark.parametrize(
    "requested, accept, lang",
    [
        (None, None, "en"),
        (None, "de-DE,de;q=0.9,en;q=0.8", "de"),
        (None, "ja, pt-BR;q=0.7, fr;q=0.8", "fr"),
        (None, "es;q=0.2, de;q=0", "es"),
        (None, "xx, yy;q=nonsense, *", "en"),
        ("pt", "de", "pt"),
        ("FR_ca", None, "fr"),
        ("zz", "es-MX", "es"),
        ("", "", "en"),
    ],
)
def test_the_language_asked_for(requested, accept, lang):
    assert i18n.choose(requested, accept) == lang


# -- numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lang, text, shown",
    [
        ("en", "1.5", "1.5"),
        ("de", "1.5", "1,5"),
        ("de", "0.00000001", "0,00000001"),
        ("de", "1234567.12345678", "1.234.567,12345678"),
        ("en", "1234567.12345678", "1,234,567.12345678"),
        ("es", "1234.5", "1234,5"),
        ("es", "12345.5", "12.345,5"),
        ("fr", "12345.678", "12\u202f345,678"),
        ("pt", "1000", "1.000"),
        ("de", "-2.50", "-2,50"),
        ("de", "n/a", "n/a"),
    ],
)
def test_numbers_in_each_language(lang, text, shown):
    assert i18n.numbers(lang).format(text) == shown


@given(s.decimals(min_value=0, max_value=10**12, places=8, allow_nan=False), s.sampled_from(i18n.LANGUAGES))
def test_a_formatted_amount_has_the_same_value_never_rounded(value, lang):
    text = format(value, "f")
    fmt = i18n.numbers(lang)
    shown = fmt.format(text)
    assert Decimal(shown.replace(fmt.group, "").replace(fmt.decimal, ".")) == value
    assert re.sub(r"\D", "", shown) == re.sub(r"\D", "", text)  # every digit, in order


# -- the page -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    work = tmp_path_factory.mktemp("i18n")
    (work / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"/>')
    extra = '[checkout]\nstore_name = "<b>Zoë & Co</b>"\nlogo = "%s"\n' % (work / "logo.svg")
    client, runtime = fake_runtime(work, extra=extra)
    yield client
    runtime.close()


def test_the_page_follows_accept_language_and_lang(client):
    p = post(client, {"currency": "LTC", "amount": "1234.5", "expires_in": 600}).json["payment"]
    de = client.simulate_get("/pay/%s" % p["id"], headers={"Accept-Language": "de-AT,de;q=0.9"})
    assert de.headers["content-language"] == "de" and "Accept-Language" in de.headers["vary"]
    assert '<html lang="de">' in de.text and "Wir warten auf Ihre Zahlung." in de.text
    assert '<span id="amount">1.234,5</span>' in de.text and 'data-value="1234.5">1.234,5</span>' in de.text
    assert 'data-decimal="," data-group="." data-min-group="4"' in de.text
    fr = client.simulate_get("/pay/%s" % p["id"], params={"lang": "fr"}, headers={"Accept-Language": "de"})
    assert '<html lang="fr">' in fr.text and "En attente de votre paiement." in fr.text
    for lang in i18n.LANGUAGES:
        text = client.simulate_get("/pay/%s" % p["id"], params={"lang": lang}).text
        assert "[[" not in text and "]]" not in text and "$" not in text.replace("$$", ""), lang


def test_store_name_logo_and_test_badge(client):
    p = post(client, {"currency": "LTC", "amount": "1"}).json["payment"]
    page = client.simulate_get("/pay/%s" % p["id"]).text
    assert '<p id="store" class="store">&lt;b&gt;Zoë &amp; Co&lt;/b&gt;</p>' in page  # escaped
    (src,) = re.findall(r'<img id="logo" class="logo" src="([^"]+)"', page)
    assert src.startswith("/pay/static/logo.svg?v=")
    path, _, query = src.partition("?")
    logo = client.simulate_get(path, query_string=query)
    assert logo.status_code == 200 and logo.headers["content-type"] == "image/svg+xml"
    assert logo.headers["content-security-policy"] == "default-src 'none'"  # an SVG cannot run script
    assert logo.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert '<p id="testnet" class="badge">' in page  # the fake node is on regtest


@pytest.mark.parametrize("chain, shown", [("main", False), ("test", True), ("regtest", True), (None, False)])
def test_the_badge_follows_the_nodes_chain(chain, shown):
    def network(currency):
        if chain is None:
            raise NodeUnreachable("down")
        return chain

    payment = _public()
    page = checkout.render_page(payment, _now(), 5, "es", checkout.Branding(network=network))
    assert ('<p id="testnet" class="badge">' in page) is shown
    assert "Red de prueba: estas monedas no tienen valor" in page
    assert ('class="brand" hidden' in page) is not shown  # nothing to show: no empty bar


def test_transactions_are_listed_short_and_copyable():
    txid = "ab" * 32
    txs = [
        {"txid": txid, "vout": 0, "amount": "0.4", "confirmations": 0, "status": "pending"},
        {"txid": "cd" * 32, "vout": 1, "amount": "9", "confirmations": -1, "status": "conflicted"},
    ]
    page = checkout.render_page(_public(status="UNDERPAID", transactions=txs), _now(), 5, "pt")
    assert page.count('<li class="tx">') == 1  # the conflicted one is not counted
    assert '<code class="txid" title="%s">abababab…abababab</code>' % txid in page
    assert 'data-copy="txid" data-value="%s"' % txid in page and "0 de 2 confirmações" in page
    assert '<span class="tx-amount">0,4 LTC</span>' in page
    assert 'id="txs" aria-label="Transações" hidden' in checkout.render_page(_public(), _now(), 5, "pt")


def test_the_logo_setting_is_checked_when_the_config_loads(tmp_path):
    for name, body, words in (
        ("logo.bmp", b"BM", "not a .png, .svg, .jpg, .webp or .gif file"),
        ("big.png", b"\0" * (256 * 1024 + 1), "larger than 256 KiB"),
        ("missing.png", None, "cannot read"),
    ):
        if body is not None:
            (tmp_path / name).write_bytes(body)
        with pytest.raises(ConfigError, match="TRANSIENT_CHECKOUT_LOGO.*" + re.escape(words)):
            settings.load(environ={"TRANSIENT_CHECKOUT_LOGO": str(tmp_path / name)}, dotenv=False)
    (tmp_path / "ok.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    config = settings.load(environ={"TRANSIENT_CHECKOUT_LOGO": str(tmp_path / "ok.png")}, dotenv=False)
    assert config["checkout.logo"] == str(tmp_path / "ok.png") and config["checkout.store_name"] is None


def _public(**over):
    from transient.payments.rendering import public_view

    base = {
        "id": "6c6fa0ea-1998-49d1-a815-27bbe1f3c5d9",
        "currency": "LTC",
        "status": "UNPAID",
        "paid": False,
        "paid_late": False,
        "amount": "1",
        "amount_received": "0",
        "amount_pending": "0",
        "amount_due": "1",
        "amount_overpaid": "0",
        "payment_address": "rltc1qexample",
        "payment_uri": "litecoin:rltc1qexample?amount=1",
        "account": None,
        "metadata": {},
        "confirmations_required": 2,
        "redirect_url": None,
        "transactions": [],
        "expires_at": None,
        "checkout_url": "/pay/6c6fa0ea-1998-49d1-a815-27bbe1f3c5d9",
        "qrcode_url": "/payments/6c6fa0ea-1998-49d1-a815-27bbe1f3c5d9/qrcode.png",
    }
    base.update(over)
    return public_view(base)


def _now():
    import datetime

    return datetime.datetime(2030, 1, 1)
