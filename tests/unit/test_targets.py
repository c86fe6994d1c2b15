"""SSRF: per-payment URLs (callback_url, redirect_url, the test ping's url) may reach
public addresses and the operator's allowed networks only. The check at send time, on
the address actually connected to: tests/integration/test_webhook_targets.py."""

import pytest
from _api import post
from fakes import fake_runtime

from transient.delivery.targets import TargetGuard, UnsafeTarget, parse_networks

REFUSED = [
    "http://127.0.0.1/hook",
    "http://127.1:8080/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://localhost:9000/",
    "http://LOCALHOST./",
    "http://api.localhost/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://0.0.0.0/",
    "http://255.255.255.255/",
    "https://user:pass@shop.example/hook",
    "https://user@93.184.216.34/",
    "http://[fe80::1%25eth0]/",  # link-local with a zone id: was taken (unresolvable) until send time
    "http://[fe80::1%25nosuchif]:8080/hook",
    "http://[2606:2800:220:1::1%251]/",
]


def resolver(table):
    def resolve(host, port):
        if host in table:
            return table[host]
        import socket

        return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]

    return resolve


GUARD = TargetGuard(
    resolve=resolver(
        {"internal.test": ["93.184.216.34", "10.0.0.7"], "shop.test": ["93.184.216.34", "2606:2800:220:1::1"]}
    )
)


@pytest.mark.parametrize("url", REFUSED)
def test_private_loopback_and_reserved_targets_are_refused(url):
    with pytest.raises(UnsafeTarget):
        GUARD.check_url(url)


@pytest.mark.parametrize(
    "url", ["https://93.184.216.34/hook", "https://shop.test/hook?token=1", "http://[2606:2800:220:1::1]:8443/"]
)
def test_public_targets_pass(url):
    GUARD.check_url(url)


def test_allowed_networks_let_the_operator_reach_a_host_of_their_own():
    guard = TargetGuard(parse_networks(["127.0.0.0/8", "::1/128", "10.0.0.0/8"]))
    for url in ("http://127.0.0.1:8080/", "http://2130706433/", "http://[::1]/", "http://10.9.9.9/"):
        guard.check_url(url)
    for url in ("http://192.168.1.1/", "http://169.254.169.254/", "http://user:pw@127.0.0.1/"):
        with pytest.raises(UnsafeTarget):
            guard.check_url(url)
    with pytest.raises(UnsafeTarget):  # the name is refused even where its address is allowed
        guard.check_url("http://localhost/")


def test_a_name_that_does_not_resolve_passes_at_creation_and_not_at_send_time():
    guard = TargetGuard(resolve=resolver({}))
    guard.check_url("https://nowhere.invalid/hook")
    with pytest.raises(UnsafeTarget, match="does not resolve"):
        guard.addresses("nowhere.invalid", 443)


def test_registering_a_url_asks_no_resolver_and_the_send_time_check_decides():
    # 16 clients registering fresh names made 5 creates/s: each waited on DNS in its
    # request thread. Names are resolved by the sender, which refuses private answers.
    def no_dns(host, port):
        raise AssertionError("looked up %s at registration" % host)

    TargetGuard(resolve=no_dns).check_url("https://fresh-name-1234.example/hook")
    TargetGuard(resolve=no_dns).check_url("http://internal.test/")
    with pytest.raises(UnsafeTarget, match="private"):
        GUARD.addresses("internal.test", 80)  # resolves (above) to a private address among public ones


def test_bad_networks_are_a_config_error_naming_the_key(tmp_path):
    from transient import settings
    from transient.core.errors import ConfigError

    path = tmp_path / "c.toml"
    path.write_text('[webhook]\nallowed_networks = ["10.0.0.0/8", "nonsense"]\n')
    with pytest.raises(ConfigError, match="webhook.allowed_networks"):
        settings.load(str(path), environ={})


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """An API with API keys off and no allowed networks: the default rule."""
    client, runtime = fake_runtime(tmp_path_factory.mktemp("strict"))
    yield client
    runtime.close()


@pytest.mark.parametrize("field", ["callback_url", "redirect_url"])
@pytest.mark.parametrize("url", [u for u in REFUSED if "test/" not in u])
def test_the_api_refuses_private_per_payment_urls_with_a_422_naming_the_field(strict, field, url):
    resp = post(strict, {"currency": "LTC", "amount": 1, field: url})
    assert resp.status_code == 422, resp.text
    assert resp.json["error"]["field"] == field
    assert "pass" not in resp.json["error"]["message"] or "user:pass@" in resp.json["error"]["message"]


def test_the_api_keeps_public_urls(strict):
    body = {
        "currency": "LTC",
        "amount": 1,
        "callback_url": "https://93.184.216.34/hook?t=1",
        "redirect_url": "https://shop.example/thanks",
    }  # .example does not resolve: checked at send time
    resp = post(strict, body)
    assert resp.status_code == 201, resp.text


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:1/", "http://169.254.169.254/", "http://0x7f000001/", "http://u:p@93.184.216.34/"]
)
def test_the_test_ping_refuses_private_urls_and_sends_nothing(strict, url):
    resp = strict.simulate_post("/webhooks/test", json={"url": url})
    assert resp.status_code == 422 and resp.json["error"]["field"] == "url", resp.text
    assert "status_code" not in resp.json and "response" not in resp.json
