"""QR codes: options and their validation, PNG and SVG rendering, bech32 upper-casing,
ETags and caching. Every code is read back with a real decoder (zxing-cpp); SVGs are
rasterised with CairoSVG first. The API tests run in-process on the FakeBackend (on the
regtest node: tests/regtest/test_qr_node.py)."""

import io
import uuid

import pytest
from _qr_cases import *  # noqa: F401,F403  (the shared case: PNG and SVG hold the URI)
from _qr_cases import _create, _decode, _qr
from _qr_decode import decode_png, decode_svg
from fakes import fake_runtime
from PIL import Image

from transient import settings
from transient.api.checkout import qr
from transient.core.errors import BadRequest, ConfigError

BECH32_VALID = [  # BIP173 and BIP350 test vectors
    "A12UEL5L",
    "a12uel5l",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
    "A1LQFN3A",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
]
BECH32_INVALID = [
    "A12uEL5L",  # mixed case
    "a12uel5m",  # checksum
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",  # checksum
    "pzry9x0s0muk",  # no separator
    "1pzry9x0s0muk",  # empty human-readable part
    "LM2WMpR1Rp6j3Sa59cMXMs1SPzj9eXpGc1",  # base58 (Litecoin legacy)
    "nWpGJvdqXZ5aHRFxTQyy4wJkgWsuwXuZnF",  # base58 (Dogecoin)
]
URI = "litecoin:rltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kqd6yhq?amount=1.25"


# -- pure: what goes in the code --------------------------------------------------


@pytest.mark.parametrize("text", BECH32_VALID)
def test_bech32_with_a_valid_checksum_is_recognised(text):
    assert qr.is_bech32(text)


@pytest.mark.parametrize("text", BECH32_INVALID)
def test_anything_else_is_not_bech32(text):
    assert not qr.is_bech32(text)


def test_payment_text_upper_cases_bech32_only():
    bech = {
        "payment_address": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        "payment_uri": "bitcoin:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4?amount=0.001",
    }
    assert qr.payment_text(bech, "uri") == "BITCOIN:BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4?amount=0.001"
    assert qr.payment_text(bech, "address") == "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"
    legacy = {
        "payment_address": "nWpGJvdqXZ5aHRFxTQyy4wJkgWsuwXuZnF",
        "payment_uri": "dogecoin:nWpGJvdqXZ5aHRFxTQyy4wJkgWsuwXuZnF?amount=10",
    }
    assert qr.payment_text(legacy, "uri") == legacy["payment_uri"]
    assert qr.payment_text(legacy, "address") == legacy["payment_address"]
    assert qr.payment_text(dict(legacy, payment_uri=None), "uri") == legacy["payment_address"]


def test_upper_case_makes_a_smaller_code():
    upper_text = URI.split("?")[0].upper() + "?amount=1.25"
    lower = decode_png(qr.render_png(URI, qr.Style()))
    upper = decode_png(qr.render_png(upper_text, qr.Style()))
    assert upper.text == upper_text
    assert int(upper.extra["Version"]) < int(lower.extra["Version"])
    assert len(qr.matrix(upper_text, "M")) < len(qr.matrix(URI, "M"))


# -- pure: rendering ----------------------------------------------------------------


@pytest.mark.parametrize("level", ["L", "M", "Q", "H"])
def test_png_and_svg_decode_to_the_exact_text_at_each_level(level):
    style = qr.Style(error_correction=level)
    for code in (decode_png(qr.render_png(URI, style)), decode_svg(qr.render_svg(URI, style))):
        assert code.text == URI
        assert code.ec_level == level


def test_png_size_border_and_colours():
    style = qr.Style(size=300, border=6, foreground="#003366", background="#fffae0")
    image = Image.open(io.BytesIO(qr.render_png(URI, style))).convert("RGB")
    assert image.size == (300, 300)
    colours = {c for _, c in image.getcolors()}
    assert colours == {(0x00, 0x33, 0x66), (0xFF, 0xFA, 0xE0)}
    # The quiet zone: border modules of whole pixels, all background.
    n = len(qr.matrix(URI, "M"))
    box = 300 // (n + 2 * 6)
    quiet = (300 - n * box) // 2
    assert quiet >= 6 * box
    strip = image.crop((0, 0, 300, quiet))
    assert strip.getcolors() == [(300 * quiet, (0xFF, 0xFA, 0xE0))]
    assert image.getpixel((quiet, quiet)) == (0x00, 0x33, 0x66)  # a finder pattern's corner
    assert decode_png(qr.render_png(URI, style)).text == URI


def test_svg_is_sized_coloured_and_scales():
    style = qr.Style(size=200, border=2, foreground="#222222", background="#f0f0f0")
    svg = qr.render_svg(URI, style).decode()
    total = len(qr.matrix(URI, "M")) + 4
    assert 'width="200" height="200" viewBox="0 0 %d %d"' % (total, total) in svg
    assert 'fill="#f0f0f0"' in svg and 'fill="#222222"' in svg
    assert "<script" not in svg
    for size in (120, 600):  # vector: any raster size decodes
        assert decode_svg(svg.encode(), size).text == URI


def test_a_size_too_small_for_the_code_is_refused_naming_size():
    with pytest.raises(BadRequest) as err:
        qr.render_png(URI, qr.Style(size=40, border=4))
    assert err.value.field == "size" and "at least" in err.value.message


def test_rendering_is_bounded():
    big = qr.Style(size=qr.MAX_SIZE, error_correction="H")
    data = qr.render_png(URI, big)
    assert Image.open(io.BytesIO(data)).size == (2048, 2048)
    assert len(data) < 64 * 1024  # one bit a pixel: small even at the largest size
    assert decode_png(data).text == URI
    with pytest.raises(ValueError):
        qr.matrix("x" * (qr.MAX_TEXT + 1), "M")


def test_etag_follows_every_input():
    style = qr.Style()
    tag = qr.etag("png", URI, style)
    assert tag == qr.etag("png", URI, qr.Style()) and tag.startswith('"') and tag.endswith('"')
    others = {
        qr.etag("svg", URI, style),
        qr.etag("png", URI + "0", style),
        qr.etag("png", URI, qr.Style(size=321)),
        qr.etag("png", URI, qr.Style(foreground="#000001")),
    }
    assert tag not in others and len(others) == 4


# -- pure: options --------------------------------------------------------------------


def test_query_options_override_the_defaults_and_are_normalised():
    style = qr.parse_style(
        {
            "size": "200",
            "border": "0",
            "foreground": "036",
            "background": "#FFFFFF",
            "error_correction": "q",
            "content": "Address",
            "v": "0.75",
        },
        qr.Style(),
    )
    assert style == qr.Style(
        size=200, border=0, foreground="#003366", background="#ffffff", error_correction="Q", content="address"
    )
    assert qr.parse_style({}, qr.Style(size=99)) == qr.Style(size=99)


BAD_PARAMS = [
    ({"size": "big"}, "size"),
    ({"size": "31"}, "size"),
    ({"size": "2049"}, "size"),
    ({"size": "-5"}, "size"),
    ({"size": "1e3"}, "size"),
    ({"border": "17"}, "border"),
    ({"border": "-1"}, "border"),
    ({"foreground": "red"}, "foreground"),
    ({"foreground": "#12345"}, "foreground"),
    ({"background": "#ggg"}, "background"),
    ({"error_correction": "X"}, "error_correction"),
    ({"error_correction": ""}, "error_correction"),
    ({"content": "qr"}, "content"),
    ({"colour": "#000"}, "colour"),
    ({"size": ["100", "200"]}, "size"),
    ({"v": "x" * 65}, "v"),
    ({"foreground": "#ffffff"}, "foreground"),  # not darker than the white background
    ({"background": "#000000"}, "background"),  # not lighter than the black foreground
    ({"foreground": "#cccccc"}, "foreground"),  # too little contrast to scan
    ({"foreground": "#777777", "background": "#999999"}, "foreground"),
]


@pytest.mark.parametrize("params, field", BAD_PARAMS)
def test_bad_options_raise_naming_the_parameter(params, field):
    with pytest.raises(BadRequest) as err:
        qr.parse_style(params, qr.Style())
    assert err.value.field == field and err.value.message


def test_config_defaults_are_validated(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[qrcode]\nsize = 5\n")
    with pytest.raises(ConfigError) as err:
        settings.load(str(path), environ={})
    assert err.value.field == "qrcode.size"
    path.write_text("[qrcode]\nsize = 256\n")
    config = settings.load(str(path), environ={"TRANSIENT_QRCODE_FOREGROUND": "#eeeeee"})
    with pytest.raises(ConfigError) as err:
        qr.default_style(**_section(config))  # light on white: the app refuses to start
    assert err.value.field == "qrcode.foreground"
    ok = settings.load(str(path), environ={"TRANSIENT_QRCODE_ERROR_CORRECTION": "h"})
    assert qr.default_style(**_section(ok)) == qr.Style(size=256, error_correction="H")


def _section(config):
    """The ``[qrcode]`` settings as the runtime hands them to the QR room."""
    return {name: config["qrcode." + name] for name in qr.OPTIONS}


# -- the API (FakeBackend; on the regtest node: tests/regtest/test_qr_node.py) ----


@pytest.fixture(scope="module")
def qr_api(tmp_path_factory):
    """An in-process API client and its runtime on the FakeBackend."""
    client, runtime = fake_runtime(tmp_path_factory.mktemp("qr"))
    yield client, runtime
    runtime.close()


def test_query_options_shape_the_code(qr_api):
    client, _ = qr_api
    p = _create(client, "0.1")
    resp = _qr(client, p["id"], size="500", border="2", foreground="#003366", error_correction="H")
    assert resp.status_code == 200, resp.text
    image = Image.open(io.BytesIO(resp.content)).convert("RGB")
    assert image.size == (500, 500) and (0x00, 0x33, 0x66) in {c for _, c in image.getcolors()}
    code = _decode(resp)
    assert code.ec_level == "H" and code.text.endswith("?amount=0.1")


@pytest.mark.parametrize("params, field", BAD_PARAMS[:6] + BAD_PARAMS[-4:] + [({"colour": "#000"}, "colour")])
def test_bad_parameters_are_400_naming_the_parameter(qr_api, params, field):
    client, _ = qr_api
    p = _create(client, "0.2")
    for fmt in ("png", "svg"):
        resp = client.simulate_get("/payments/%s/qrcode.%s" % (p["id"], fmt), params=params)
        assert resp.status_code == 400, resp.text
        assert resp.json["success"] is False and resp.json["error"]["field"] == field


def test_unknown_payment_or_format_is_404(qr_api):
    client, _ = qr_api
    assert _qr(client, uuid.uuid4()).status_code == 404
    assert _qr(client, "not-a-uuid", "svg").status_code == 404
    p = _create(client, "0.3")
    resp = _qr(client, p["id"], "gif")
    assert resp.status_code == 404 and resp.json["error"]["field"] == "format"


def test_etag_answers_304_without_a_body_until_the_code_changes(qr_api):
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
    runtime.backends["LTC"].pay(p["payment_address"], 50_000_000)
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


def test_config_sets_the_defaults(tmp_path):
    extra = '[qrcode]\nsize = 200\nerror_correction = "Q"\nforeground = "#1b5e20"\ncontent = "address"\n'
    client, runtime = fake_runtime(tmp_path, extra=extra)
    try:
        p = _create(client, "2")
        resp = _qr(client, p["id"])
        image = Image.open(io.BytesIO(resp.content)).convert("RGB")
        assert image.size == (200, 200) and (0x1B, 0x5E, 0x20) in {c for _, c in image.getcolors()}
        code = _decode(resp)
        assert code.ec_level == "Q" and code.text == p["payment_address"].upper()
        assert _decode(_qr(client, p["id"], content="uri")).text.endswith("?amount=2")
    finally:
        runtime.close()


def test_amounts_in_codes_are_exact_strings():
    # The amount in the URI is the API's decimal string: no float ever rounds it.
    big = "dogecoin:DFq66AjLeoJTtpHo47fg3rYrUydZxcANLN?amount=9999999999.99999999"
    assert decode_png(qr.render_png(big, qr.Style())).text == big
