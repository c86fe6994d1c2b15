"""The /pay/{id} checkout page rendered by the server: its state from a payment dict,
then headers, escaping and assets in-process on the FakeBackend. The page in headless
Chromium against a real transientd and the regtest node: tests/e2e/test_checkout_browser.py."""

import base64
import hashlib
import html.parser
import re
import uuid

import pytest
from _api import post
from fakes import fake_runtime

from transient.api.checkout import page as checkout
from transient.payments.rendering import least_confirmations, public_view

XSS_ACCOUNT = "<script>window.pwned = 1</script>"
XSS_DESCRIPTION = '"><img id="xss" src="/x" onerror="window.pwned = 2">'


# -- pure: the page's state and what it shows -----------------------------------------


def _payment(**over):
    """The public view (what the page is rendered from) of a rendered payment."""
    base = {
        "id": "6c6fa0ea-1998-49d1-a815-27bbe1f3c5d9",
        "currency": "LTC",
        "status": "UNPAID",
        "paid": False,
        "paid_late": False,
        "amount": "1.25",
        "amount_received": "0",
        "amount_pending": "0",
        "amount_due": "1.25",
        "amount_overpaid": "0",
        "payment_address": "rltc1qexample",
        "payment_uri": "litecoin:rltc1qexample?amount=1.25",
        "checkout_url": "/pay/6c6fa0ea-1998-49d1-a815-27bbe1f3c5d9",
        "qrcode_url": "/payments/6c6fa0ea-1998-49d1-a815-27bbe1f3c5d9/qrcode.png",
        "account": None,
        "metadata": {},
        "confirmations_required": 2,
        "redirect_url": None,
        "transactions": [],
        "expires_at": None,
    }
    base.update(over)
    return public_view(base)


@pytest.mark.parametrize(
    "over, state",
    [
        ({}, "UNPAID"),
        ({"status": "UNDERPAID"}, "UNDERPAID"),
        ({"status": "PAID", "paid": True}, "PAID"),
        ({"status": "EXPIRED"}, "EXPIRED"),
        ({"status": "EXPIRED", "amount_received": "0.1"}, "EXPIRED_PARTIAL"),
        ({"status": "EXPIRED", "amount_received": "1.25", "paid_late": True}, "EXPIRED_LATE"),
    ],
)
def test_page_state(over, state):
    payment = _payment(**over)
    assert checkout.page_state(payment) == state
    assert 'data-state="%s"' % state in checkout.render_page(payment, _now(), 5)


def test_confirmations_shown_are_the_least_among_counted_outputs():
    txs = [
        {"txid": "aa", "vout": i, "amount": "1", "status": status, "confirmations": n}
        for i, (status, n) in enumerate([("confirmed", 5), ("pending", 1), ("conflicted", -1), ("removed", 0)])
    ]
    assert _payment(transactions=txs)["confirmations"] == 1
    assert _payment(transactions=txs[:1])["confirmations"] == 2  # capped at the requirement
    assert _payment()["confirmations"] == 0
    assert least_confirmations({"transactions": txs, "confirmations_required": 9}) == 1


def test_refresh_without_javascript_and_redirect_after_payment():
    waiting = checkout.render_page(_payment(redirect_url="https://shop.example/done?a=1&b=2"), _now(), 7)
    assert '<noscript><meta http-equiv="refresh" content="7"></noscript>' in waiting
    assert "shop.example" not in waiting  # the public view names the redirect only once paid
    paid = checkout.render_page(
        _payment(status="PAID", paid=True, redirect_url="https://shop.example/done?a=1&b=2"), _now(), 7
    )
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
def client(tmp_path_factory):
    client, runtime = fake_runtime(tmp_path_factory.mktemp("checkout"))
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


def test_every_value_shown_is_escaped(client):
    body = {
        "currency": "LTC",
        "amount": "1",
        "account": XSS_ACCOUNT,
        "metadata": {"description": XSS_DESCRIPTION},
        "redirect_url": 'https://shop.example/thanks?order=1&x="><script>',
    }
    p = post(client, body).json["payment"]
    page = client.simulate_get("/pay/%s" % p["id"]).text
    assert XSS_ACCOUNT not in page and XSS_DESCRIPTION not in page
    assert "window.pwned = 1" not in page  # the account is the merchant's: not on the public page
    assert "&quot;&gt;&lt;img id=&quot;xss&quot;" in page
    paid = checkout.render_page(_payment(status="PAID", paid=True, redirect_url=body["redirect_url"]), _now(), 5)
    assert 'data-redirect="https://shop.example/thanks?order=1&amp;x=&quot;&gt;&lt;script&gt;"' in paid
    tags = _Tags(page).tags
    assert [t for t, a in tags if t == "img"] == ["img"]  # only the QR code
    assert not any(a.get("id") == "xss" or "onerror" in a for _, a in tags)


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


def test_unknown_payment_is_an_html_404(client):
    for pid in (uuid.uuid4(), "not-a-uuid"):
        resp = client.simulate_get("/pay/%s" % pid)
        assert resp.status_code == 404 and "No such payment" in resp.text
        assert resp.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in resp.headers["content-security-policy"]
