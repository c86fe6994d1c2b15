"""QR codes of the API in-process against the real regtest node: the node's own
bech32 addresses upper-cased in the code, and a real payment changing the code and its
ETag (tests/unit/test_qr.py checks the same on the FakeBackend)."""

import uuid

import pytest
from _api import node_client as make_client
from _qr_cases import *  # noqa: F401,F403  (the shared case: PNG and SVG hold the URI)
from _qr_cases import _create, _decode, _qr

pytestmark = pytest.mark.regtest


@pytest.fixture(scope="module")
def qr_api(tmp_path_factory, regtest):
    """An in-process API client and its runtime, with a wallet of its own."""
    wallet = regtest.create_wallet("qr_" + uuid.uuid4().hex[:8])
    client, runtime = make_client(tmp_path_factory.mktemp("qr"), regtest, wallet)
    yield client, runtime
    runtime.close()


def test_etag_answers_304_without_a_body_until_the_code_changes(qr_api, regtest):
    client, runtime = qr_api
    p = _create(client, "1.25")
    first = _qr(client, p["id"])
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, no-cache"
    again = _qr(client, p["id"]).headers["etag"]
    assert again == tag
    cached = client.simulate_get("/payments/%s/qrcode.png" % p["id"], headers={"If-None-Match": tag})
    assert cached.status_code == 304 and cached.content == b"" and cached.headers["etag"] == tag
    assert _qr(client, p["id"], size="321").headers["etag"] != tag
    assert _qr(client, p["id"], "svg").headers["etag"] != tag
    address = _qr(client, p["id"], content="address")
    assert address.headers["cache-control"] == "public, max-age=86400"

    # 0.5 arrives: the URI now asks for the remainder, so the old ETag no longer matches.
    regtest.pay(p["payment_address"], "0.5")
    runtime.syncers["LTC"].run()
    payment = client.simulate_get("/payments/%s" % p["id"]).json["payment"]
    assert (payment["status"], payment["amount_due"]) == ("UNDERPAID", "0.75")
    fresh = client.simulate_get("/payments/%s/qrcode.png" % p["id"], headers={"If-None-Match": tag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != tag
    assert _decode(fresh).text == "LITECOIN:%s?amount=0.75" % p["payment_address"].upper()
    # The address code did not change.
    still = client.simulate_get(
        "/payments/%s/qrcode.png" % p["id"],
        params={"content": "address"},
        headers={"If-None-Match": address.headers["etag"]},
    )
    assert still.status_code == 304
