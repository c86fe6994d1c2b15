"""[server] public_url is the base of every link a payment gives out: checkout_url and
qrcode_url in the API's answers (full and public view), in the webhook bodies and in the
CLI; without it the links are relative. The URL is checked at start-up."""

import json

import pytest
from _api import post
from fakes import fake_runtime

from transient import settings
from transient.cli.payments import show_payment
from transient.core.errors import ConfigError
from transient.store.models import Delivery

HOOK = '[webhook]\nurl = "http://127.0.0.1:9/hook"\n'


@pytest.fixture
def public(tmp_path):
    client, runtime = fake_runtime(tmp_path, extra='[server]\npublic_url = "https://pay.example.com/shop/"\n' + HOOK)
    yield client
    runtime.close()


def test_links_start_with_public_url_everywhere(public):
    made = post(public, {"currency": "LTC", "amount": "1.25"}).json["payment"]
    pid = made["id"]
    checkout, qrcode = (
        "https://pay.example.com/shop/pay/%s" % pid,
        "https://pay.example.com/shop/payments/%s/qrcode.png" % pid,
    )
    assert (made["checkout_url"], made["qrcode_url"]) == (checkout, qrcode)
    for view in ("", "?view=public"):
        got = public.simulate_get("/payments/%s%s" % (pid, view)).json["payment"]
        assert (got["checkout_url"], got["qrcode_url"]) == (checkout, qrcode), view
    # The webhook body renders the payment too: the same links (fields only added).
    body = json.loads(Delivery.get(Delivery.payment == pid).body)
    assert (body["payment"]["checkout_url"], body["payment"]["qrcode_url"]) == (checkout, qrcode)
    # Behind the proxy's /shop prefix, the daemon serves what the links name.
    assert public.simulate_get("/pay/%s" % pid).status_code == 200
    assert public.simulate_get("/payments/%s/qrcode.png" % pid).headers["content-type"] == "image/png"


def test_without_public_url_links_are_relative_and_work(tmp_path, capsys):
    client, runtime = fake_runtime(tmp_path)
    try:
        made = post(client, {"currency": "LTC", "amount": "1"}).json["payment"]
        assert made["checkout_url"] == "/pay/%s" % made["id"]
        assert made["qrcode_url"] == "/payments/%s/qrcode.png" % made["id"]
        assert client.simulate_get(made["checkout_url"]).status_code == 200
        assert client.simulate_get(made["qrcode_url"]).status_code == 200
        show_payment(made)
        assert (
            "checkout       /pay/%s (relative: set [server] public_url for a full link)" % made["id"]
            in capsys.readouterr().out
        )
    finally:
        runtime.close()


def test_the_cli_prints_the_full_checkout_url(public, capsys):
    made = post(public, {"currency": "LTC", "amount": "1"}).json["payment"]
    show_payment(made)
    assert "checkout       https://pay.example.com/shop/pay/%s\n" % made["id"] in capsys.readouterr().out


@pytest.mark.parametrize(
    "value, words",
    [
        ("pay.example.com", "http:// or https://"),
        ("ftp://pay.example.com", "http:// or https://"),
        ("https://", "with a host"),
        ("https://pay.example.com/?shop=1", "query"),
        ("https://pay.example.com/#top", "fragment"),
        ("https://user:pw@pay.example.com", "credentials"),
        ("https://pay.example.com:99999", "port"),
    ],
)
def test_a_bad_public_url_is_refused_at_start_up(tmp_path, value, words):
    path = tmp_path / "config.toml"
    path.write_text('[server]\npublic_url = "%s"\n' % value)
    with pytest.raises(ConfigError) as exc:
        settings.load(str(path), environ={}, dotenv=False)
    assert exc.value.field == "server.public_url" and words in exc.value.message
    path.write_text("")
    with pytest.raises(ConfigError) as exc:
        settings.load(str(path), environ={"TRANSIENT_SERVER_PUBLIC_URL": value}, dotenv=False)
    assert exc.value.field == "TRANSIENT_SERVER_PUBLIC_URL"


@pytest.mark.parametrize(
    "value, kept",
    [
        ("https://pay.example.com", "https://pay.example.com"),
        ("https://pay.example.com/", "https://pay.example.com"),
        ("http://127.0.0.1:8080/transient//", "http://127.0.0.1:8080/transient"),
    ],
)
def test_a_trailing_slash_is_no_trouble(tmp_path, value, kept):
    path = tmp_path / "config.toml"
    path.write_text("")
    config = settings.load(str(path), environ={"TRANSIENT_SERVER_PUBLIC_URL": value}, dotenv=False)
    assert config["server.public_url"] == kept
