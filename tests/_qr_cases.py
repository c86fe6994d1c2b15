"""QR codes through the API written once, run on the FakeBackend by tests/unit/test_qr.py and
against the real regtest node by tests/regtest/test_qr_node.py (each gives the module-scoped
``qr_api`` fixture: a TestClient and its Runtime whose LTC addresses are regtest bech32)."""

import io

from _api import post
from _qr_decode import decode_png, decode_svg
from PIL import Image

from transient.api.checkout import qr


def _create(client, amount="1.25"):
    resp = post(client, {"currency": "LTC", "amount": amount})
    assert resp.status_code == 201, resp.text
    return resp.json["payment"]


def _qr(client, pid, fmt="png", **params):
    return client.simulate_get("/payments/%s/qrcode.%s" % (pid, fmt), params=params)


def _decode(resp):
    return decode_png(resp.content) if resp.headers["content-type"] == "image/png" else decode_svg(resp.content)


def test_png_and_svg_hold_the_bip21_uri_with_the_address_upper_cased(qr_api):
    client, _ = qr_api
    p = _create(client)
    address = p["payment_address"]
    assert qr.is_bech32(address) and address.startswith("rltc1")
    expected = "LITECOIN:%s?amount=1.25" % address.upper()
    png, svg = _qr(client, p["id"]), _qr(client, p["id"], "svg")
    assert (png.status_code, png.headers["content-type"]) == (200, "image/png")
    assert (svg.status_code, svg.headers["content-type"]) == (200, "image/svg+xml")
    assert _decode(png).text == expected and _decode(svg).text == expected
    assert _decode(_qr(client, p["id"], content="address")).text == address.upper()
    assert Image.open(io.BytesIO(png.content)).size == (320, 320)  # the [qrcode] size default
