"""The watch-only pool on the FakeBackend: addresses derived from the key, registered
before they are pooled, recorded on the payment, never asked of the node; the gap. The
same against the real node: tests/regtest/test_watch_only.py."""

import pytest
from _api import post
from _watch import fresh_tpub
from fakes import fake_coin_config, fake_runtime

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
    public = client.simulate_get("/payments/%s" % made[0]["id"]).json["payment"]
    assert "derivation_index" not in public and public["payment_address"] == made[0]["payment_address"]
    listed = client.simulate_get("/payments").json["payments"]
    assert sorted(p["derivation_index"] for p in listed) == list(range(6))


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
