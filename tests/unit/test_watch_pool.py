"""The watch-only pool on the FakeBackend: addresses derived from the key, registered
before they are pooled, recorded on the payment, never asked of the node; the gap. The
same against the real node: tests/regtest/test_watch_only.py."""

import json

import pika
import pytest
from _api import post
from _watch import fresh_tpub
from fakes import fake_coin_config, fake_runtime

from transient.amqp.commands import CommandConsumer
from transient.chain import hdkeys
from transient.core.errors import ConfigError
from transient.payments.pool import gap


@pytest.mark.parametrize(
    "used, last, want",
    [
        ([], None, 0),  # nothing handed out
        ([], 4, 5),  # 0..4 handed out, none used
        ([0, 1, 2], 2, 0),
        ([0, 5], 7, 4),  # 1-4 unused, then 6-7
        ([3], 3, 3),  # 0-2 before the first used one count too
        ([0, 2, 30], 31, 27),
    ],
)
def test_gap_is_the_longest_unused_run_a_restoring_wallet_sees(used, last, want):
    assert gap(used, last) == want


@pytest.fixture
def watch_api(tmp_path):
    key = fresh_tpub()
    coins = fake_coin_config(extra='xpub = "%s"\naddress_pool = 4\ngap_limit = 2\n' % key).replace(
        'backend = "fake"', 'backend = "fake-watch"'
    )
    client, runtime = fake_runtime(tmp_path, coins=coins)
    yield client, runtime, hdkeys.parse("LTC", key)
    runtime.close()


def test_payments_take_derived_registered_addresses_and_record_their_index(watch_api):
    client, runtime, watch = watch_api
    node = runtime.backends["LTC"]
    made = [
        post(client, {"currency": "LTC", "amount": "1", **({"account": "a"} if i == 1 else {})}).json["payment"]
        for i in range(6)
    ]
    assert [p["derivation_index"] for p in made] == list(range(6))
    assert [p["payment_address"] for p in made] == [watch.address(i, "regtest") for i in range(6)]
    assert {p["key_fingerprint"] for p in made} == {watch.fingerprint}
    # Each batch was registered (gap_limit ahead) while none of its addresses was pooled yet.
    assert node.registered[0] == (0, 4 + 2) and all(b > a for (a, b) in node.registered)
    assert node.registered[-1][1] >= 6 + 2
    # Keys off: every read is the full one, and shows the index the create and the list show.
    private = {"derivation_index": 0, "key_fingerprint": watch.fingerprint}
    path = "/payments/%s" % made[0]["id"]
    assert {k: client.simulate_get(path).json["payment"].get(k) for k in private} == private
    public = client.simulate_get(path, params={"view": "public"}).json["payment"]
    assert not set(private) & set(public) and public["payment_address"] == made[0]["payment_address"]
    assert {k: client.simulate_get(path).json["payment"].get(k) for k in private} == private  # two views kept apart
    listed = client.simulate_get("/payments").json["payments"]
    assert sorted(p["derivation_index"] for p in listed) == list(range(6))


KEY = {"Authorization": "Bearer watch-test-key"}
PRIVATE = ("derivation_index", "key_fingerprint")


def test_every_authenticated_read_shows_the_index_and_no_anonymous_one(tmp_path):
    """POST, GET and the list over HTTP and the same three over AMQP (the consumer's own
    execute, without a broker) show a watch-only payment's index and key fingerprint to a
    caller with payments:read; the public view (anonymous, or ?view=public) never does."""
    key = fresh_tpub()
    coins = fake_coin_config(extra='xpub = "%s"\n' % key).replace('backend = "fake"', 'backend = "fake-watch"')
    client, runtime = fake_runtime(tmp_path, extra='[api]\nkeys = ["watch-test-key"]\n', coins=coins)
    want = {"derivation_index": 0, "key_fingerprint": hdkeys.parse("LTC", key).fingerprint}
    try:
        made = post(client, {"currency": "LTC", "amount": "1"}, KEY).json["payment"]
        path = "/payments/%s" % made["id"]
        full = client.simulate_get(path, headers=KEY).json["payment"]
        listed = client.simulate_get("/payments", headers=KEY).json["payments"]
        assert [{k: p.get(k) for k in PRIVATE} for p in (made, full, *listed)] == [want] * 3
        for public in (client.simulate_get(path), client.simulate_get(path, params={"view": "public"}, headers=KEY)):
            assert public.status_code == 200 and public.json["payment"]["view"] == "public"
            assert not set(PRIVATE) & set(public.json["payment"])
        consumer = CommandConsumer(runtime.payments, None, "commands", api_keys=runtime.keys)

        def command(type, body, authorization=KEY["Authorization"], **props):
            headers = {"Authorization": authorization} if authorization else {}
            props = pika.BasicProperties(type=type, headers=headers, **props)
            reply = consumer.execute(props, json.dumps(body).encode())
            assert reply.status < 300, reply.body
            return reply.body

        made = command("payments.create", {"currency": "LTC", "amount": "1"}, message_id="m-1")["payment"]
        got = command("payments.get", {"id": made["id"]})["payment"]
        listed = command("payments.list", {"limit": 1})["payments"]
        want["derivation_index"] = 1
        assert [{k: p.get(k) for k in PRIVATE} for p in (made, got, *listed)] == [want] * 3
        assert not set(PRIVATE) & set(command("payments.get", {"id": made["id"]}, authorization=None)["payment"])
    finally:
        runtime.close()


def test_a_payment_is_paid_and_the_gap_is_reported(watch_api):
    client, runtime, _ = watch_api
    node = runtime.backends["LTC"]
    made = [post(client, {"currency": "LTC", "amount": "1"}).json["payment"] for _ in range(5)]
    node.pay(made[0]["payment_address"], 10**8)
    node.mine()
    runtime.syncers["LTC"].run()
    got = client.simulate_get("/payments/%s" % made[0]["id"]).json["payment"]
    assert got["status"] == "PAID"
    health = client.simulate_get("/healthz").json
    report = health["coins"]["LTC"]["watch_only"]
    assert (report["gap"], report["gap_limit"], report["gap_ok"]) == (4, 2, False)  # indexes 1-4 unused
    assert "gap limit" in report["advice"] and health["ok"] is False


def test_a_mainnet_key_on_a_regtest_node_refuses_to_start(tmp_path):
    zpub = (
        "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz"
        "2oz2AGutZYs"
    )
    coins = fake_coin_config(extra='xpub = "%s"\n' % zpub).replace('backend = "fake"', 'backend = "fake-watch"')
    client, runtime = fake_runtime(tmp_path, coins=coins)
    with pytest.raises(ConfigError, match="coins.LTC.xpub: a mainnet key, but the LTC node runs regtest"):
        runtime.check_watch_keys()
    resp = post(client, {"currency": "LTC", "amount": "1"})
    assert resp.status_code >= 400 and zpub not in resp.text
    runtime.close()
