"""Behind a reverse proxy (issue 25, finding 7): the keyless loopback access of
``GET /metrics`` and ``/notify`` is for a client on loopback, never for a proxy on
loopback that forwards another's request; which peers are proxies is said by
``[server] trusted_proxies`` (api/peers.py)."""

import pytest
from fakes import fake_runtime

OUTSIDE = "203.0.113.7"
PING = "/notify/LTC/block/" + "0" * 64


@pytest.fixture
def behind(tmp_path):
    """The API with a key and a notify token, nginx declared on 127.0.0.1."""
    extra = '[server]\ntrusted_proxies = ["127.0.0.1"]\n[notify]\ntoken = "t0k"\n'
    client, runtime = fake_runtime(tmp_path, extra=extra)
    runtime.key_store.create(["payments:read"])  # keys are on: /metrics needs one from afar
    yield client
    runtime.close()


@pytest.fixture
def undeclared(tmp_path):
    """The same, with no proxy declared."""
    client, runtime = fake_runtime(tmp_path, extra='[notify]\ntoken = "t0k"\n')
    runtime.key_store.create(["payments:read"])
    yield client
    runtime.close()


def _get(client, path, remote="127.0.0.1", **headers):
    return client.simulate_get(path, remote_addr=remote, headers=headers)


def test_a_trusted_proxy_that_adds_no_header_gets_no_keyless_access(behind):
    # nginx's proxy_pass adds no forwarding header by default: every client looked local.
    assert _get(behind, "/metrics").status_code == 401
    assert _get(behind, PING).status_code == 401
    for header in ({"X-Real-IP": OUTSIDE}, {"X-Forwarded-For": OUTSIDE}, {"Forwarded": 'for="%s:4711"' % OUTSIDE}):
        assert _get(behind, "/metrics", **header).status_code == 401, header
        assert _get(behind, PING, **header).status_code == 401, header
    # A client on the proxy's host itself is local; the token still works from anywhere.
    assert _get(behind, "/metrics", **{"X-Forwarded-For": "127.0.0.1"}).status_code == 200
    assert _get(behind, PING, **{"X-Real-IP": "::1"}).status_code == 202
    assert _get(behind, PING + "?token=t0k", **{"X-Real-IP": OUTSIDE}).status_code == 202
    # A client cannot pose as local by sending the header itself: the proxy appends.
    spoofed = {"X-Forwarded-For": "127.0.0.1, %s" % OUTSIDE}
    assert _get(behind, "/metrics", **spoofed).status_code == 401


def test_forwarding_headers_from_an_undeclared_peer_are_not_trusted(undeclared):
    # /notify ignored them (unlike /metrics): a ping through any loopback proxy needed no token.
    assert _get(undeclared, PING, **{"X-Forwarded-For": OUTSIDE}).status_code == 401
    assert _get(undeclared, PING, **{"X-Forwarded-For": "127.0.0.1"}).status_code == 401
    assert _get(undeclared, "/metrics", **{"X-Real-IP": OUTSIDE}).status_code == 401
    # Straight from loopback, as the notify script and a local Prometheus are: let in.
    assert _get(undeclared, PING).status_code == 202
    assert _get(undeclared, "/metrics").status_code == 200
    assert _get(undeclared, PING, remote=OUTSIDE).status_code == 401


def test_trusted_proxies_is_checked_at_start(tmp_path):
    from transient.core.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        fake_runtime(tmp_path, extra='[server]\ntrusted_proxies = ["nginx"]\n')
    assert err.value.field == "server.trusted_proxies"
