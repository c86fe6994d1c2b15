"""The HTTP API's flows written once, run on the FakeBackend by tests/unit/test_api.py and
against the real regtest node by tests/regtest/test_api_node.py (each gives the module-scoped
``api`` fixture: a TestClient whose LTC addresses are regtest bech32)."""

import io

from _api import post


def test_create_returns_201_location_and_the_payment(api):
    resp = post(api, {"currency": "ltc", "amount": 10, "account": "acct", "metadata": {"a": [1, "x"]}})
    assert resp.status_code == 201
    p = resp.json["payment"]
    assert resp.json["success"] is True
    assert resp.headers["location"] == "/payments/%s" % p["id"]
    assert (p["currency"], p["status"], p["amount"], p["amount_received"], p["amount_due"]) == (
        "LTC",
        "UNPAID",
        "10",
        "0",
        "10",
    )
    assert p["metadata"] == {"a": [1, "x"]} and p["account"] == "acct"
    assert p["payment_address"].startswith("rltc1")
    assert p["created_at"].endswith("Z") and p["expires_at"] is None and p["paid_at"] is None
    got = api.simulate_get("/payments/%s" % p["id"])
    assert got.status_code == 200 and got.json["payment"] == p


def test_qrcode_png_holds_the_bip21_uri(api):
    p = post(api, {"currency": "LTC", "amount": "1.25"}).json["payment"]
    resp = api.simulate_get("/payments/%s/qrcode.png" % p["id"])
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"
    from PIL import Image

    image = Image.open(io.BytesIO(resp.content))
    assert image.format == "PNG" and image.size[0] > 100
    # Read back with a real decoder (tests/test_qr.py has the options and the SVG).
    from _qr_decode import decode_png

    assert decode_png(resp.content).text == "LITECOIN:%s?amount=1.25" % p["payment_address"].upper()


def test_health_reports_the_node(api):
    resp = api.simulate_get("/healthz")
    coin = resp.json["coins"]["LTC"]
    assert resp.status_code == 200 and coin["node"] == "ok" and coin["chain"] == "regtest"
    assert coin["tip_height"] > 100
