"""QR codes of payment URIs: options, rendering to PNG and SVG, and their ETags.

Rendering is a pure function of (text, style): the same inputs always give the
same bytes, so an ETag is a hash of the inputs and answering a 304 renders nothing.
"""

import functools
import hashlib
import io
import re
from dataclasses import astuple, dataclass, replace

from ...core.errors import BadRequest, ConfigError

# qrcode.constants.ERROR_CORRECT_*. qrcode and Pillow are imported on the first render
# only: together they are ~5 MB of the daemon's memory, and many shops never show a code.
LEVELS = {"L": 1, "M": 0, "Q": 3, "H": 2}
CONTENTS = ("uri", "address")
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
MIN_SIZE, MAX_SIZE = 32, 2048
MAX_BORDER = 16
MAX_TEXT = 1024  # a payment URI is ~100 characters; this bounds the work of one render
MIN_CONTRAST = 3.0
# Change when the output for the same inputs changes, so stale ETags stop matching.
RENDER_VERSION = "1"


def png(text, box_size=8, border=4):
    """Return the PNG bytes of a plain black-on-white QR code holding ``text``."""
    import qrcode

    code = qrcode.QRCode(error_correction=LEVELS["M"], box_size=box_size, border=border)
    code.add_data(text)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(out, format="PNG")
    return out.getvalue()


# -- options ----------------------------------------------------------------------
# Each parser takes a TOML value or a query-string text and raises ValueError with
# a message to show after the option's name; the settings table uses them too.


def _bounded_int(lo, hi):
    def parse(value):
        if isinstance(value, str) and re.fullmatch(r"[0-9]{1,6}", value.strip()):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be an integer")
        if not lo <= value <= hi:
            raise ValueError("must be between %d and %d" % (lo, hi))
        return value

    return parse


def parse_colour(value):
    """Return ``#rrggbb`` for a hex colour written #rgb, #rrggbb, rgb or rrggbb."""
    if isinstance(value, str):
        text = value.strip().lower().lstrip("#")
        if re.fullmatch(r"[0-9a-f]{3}", text):
            text = "".join(c * 2 for c in text)
        if re.fullmatch(r"[0-9a-f]{6}", text):
            return "#" + text
    raise ValueError("must be a hex colour such as #000000 or 003366")


def _choice(choices, upper=False):
    def parse(value):
        text = value.strip() if isinstance(value, str) else None
        text = text.upper() if text and upper else (text.lower() if text else text)
        if text not in choices:
            raise ValueError("must be one of %s" % ", ".join(choices))
        return text

    return parse


OPTIONS = {
    "size": _bounded_int(MIN_SIZE, MAX_SIZE),
    "border": _bounded_int(0, MAX_BORDER),
    "foreground": parse_colour,
    "background": parse_colour,
    "error_correction": _choice(tuple(LEVELS), upper=True),
    "content": _choice(CONTENTS),
}
# ``v`` is an opaque token a page may add to change the URL (the checkout page
# uses the amount due), so a browser fetches a new image; the server ignores it.
PARAMS = tuple(OPTIONS) + ("v",)


@dataclass(frozen=True)
class Style:
    size: int = 320
    border: int = 4
    foreground: str = "#000000"
    background: str = "#ffffff"
    error_correction: str = "M"
    content: str = "uri"


def default_style(**options):
    """Return the Style of the ``[qrcode]`` settings (``size=…, border=…``, each of OPTIONS);
    raise ConfigError if it cannot be scanned."""
    style = Style(**options)
    problem = contrast_problem(style)
    if problem:
        raise ConfigError("qrcode.foreground %s" % problem, field="qrcode.foreground")
    return style


def parse_style(params, defaults):
    """Return the Style for query ``params`` over ``defaults``; raise BadRequest naming the parameter."""
    for name, value in params.items():
        if name not in PARAMS:
            raise BadRequest("is not an option (options: %s)" % ", ".join(OPTIONS), name)
        if isinstance(value, list):
            raise BadRequest("is given more than once", name)
    if len(params.get("v", "")) > 64:
        raise BadRequest("must be at most 64 characters", "v")
    given = {}
    for name, parse in OPTIONS.items():
        if name in params:
            try:
                given[name] = parse(params[name])
            except ValueError as exc:
                raise BadRequest(str(exc), name) from None
    style = replace(defaults, **given)
    field = "background" if "background" in given and "foreground" not in given else "foreground"
    problem = contrast_problem(style, field)
    if problem:
        raise BadRequest(problem, field)
    return style


def contrast_problem(style, field="foreground"):
    """Return why ``style``'s colours would make a code scanners miss, worded for ``field``, or None."""
    fg, bg = _luminance(style.foreground), _luminance(style.background)
    ratio = (max(fg, bg) + 0.05) / (min(fg, bg) + 0.05)
    other = "background" if field == "foreground" else "foreground"
    if fg >= bg:
        return "must be %s than the %s (scanners expect dark modules on a light ground)" % (
            "darker" if field == "foreground" else "lighter",
            other,
        )
    if ratio < MIN_CONTRAST:
        return "must contrast with the %s at least %.0f:1 (got %.2f:1)" % (other, MIN_CONTRAST, ratio)
    return None


def _luminance(colour):
    # WCAG 2 relative luminance of an sRGB colour.
    def channel(c):
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


# -- what goes in the code ---------------------------------------------------------

_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_CONSTANTS = (1, 0x2BC830A3)  # bech32 (BIP173), bech32m (BIP350)


def _polymod(values):
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate((0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)):
            check ^= gen if (top >> i) & 1 else 0
    return check


def is_bech32(address):
    """True when ``address`` is a bech32 or bech32m string with a valid checksum (any length:
    Litecoin's MWEB addresses are longer than BIP173's 90 characters)."""
    if address != address.lower() and address != address.upper():
        return False
    text = address.lower()
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text) or any(not 33 <= ord(c) <= 126 for c in text[:pos]):
        return False
    hrp, data = text[:pos], text[pos + 1 :]
    if any(c not in _BECH32 for c in data):
        return False
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    return _polymod(expanded + [_BECH32.index(c) for c in data]) in _BECH32_CONSTANTS


def payment_text(payment, content):
    """Return the text to encode for a rendered payment: its BIP21 URI for the amount due
    (``content="uri"``) or its bare address.

    A bech32 address (and the URI scheme before it) is upper-cased: upper case fits
    QR's alphanumeric mode, which makes a smaller code (BIP173); wallets read both.
    """
    address = payment["payment_address"]
    # No URI when the payment's coin is no longer configured: the address still helps.
    text = payment["payment_uri"] if content == "uri" and payment["payment_uri"] else address
    if not is_bech32(address):
        return text
    head, sep, query = text.partition("?")
    return head.upper() + sep + query


# -- rendering ---------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def matrix(text, level):
    """Return the modules of the code for ``text`` (rows of booleans, no quiet zone)."""
    if len(text) > MAX_TEXT:
        raise ValueError("a QR code holds at most %d characters here" % MAX_TEXT)
    import qrcode

    code = qrcode.QRCode(error_correction=LEVELS[level], border=0)
    code.add_data(text)
    code.make(fit=True)
    return tuple(tuple(row) for row in code.get_matrix())


def render(fmt, text, style):
    """Return the bytes of the code for ``text`` as ``fmt`` ("png" or "svg")."""
    return render_png(text, style) if fmt == "png" else render_svg(text, style)


def render_png(text, style):
    """Return a ``style.size`` pixels square PNG; modules are whole pixels, centred.

    Raises BadRequest naming ``size`` when the size cannot hold one pixel a module.
    """
    modules = matrix(text, style.error_correction)
    n = len(modules)
    total = n + 2 * style.border
    box = style.size // total
    if box < 1:
        raise BadRequest("is too small for this code: at least %d pixels" % total, "size")
    from PIL import Image

    # A two-colour palette image: index 1 is a dark module. PNG stores it at 1 bit a pixel.
    small = Image.frombytes("P", (n, n), bytes(dark for row in modules for dark in row))
    canvas = Image.new("P", (style.size, style.size), 0)
    offset = (style.size - n * box) // 2
    canvas.paste(small.resize((n * box, n * box), Image.NEAREST), (offset, offset))
    canvas.putpalette(_rgb(style.background) + _rgb(style.foreground))
    out = io.BytesIO()
    canvas.save(out, format="PNG", bits=1)
    return out.getvalue()


def render_svg(text, style):
    """Return an SVG document: one rectangle for the ground, one path for the dark modules."""
    modules = matrix(text, style.error_correction)
    b, total = style.border, len(modules) + 2 * style.border
    runs = []
    for y, row in enumerate(modules):
        x = 0
        while x < len(row):
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            runs.append("M%d %dh%dv1h-%dz" % (start + b, y + b, x - start, x - start))
    return (
        (
            '<svg xmlns="http://www.w3.org/2000/svg" width="{s}" height="{s}" viewBox="0 0 {t} {t}" '
            'shape-rendering="crispEdges"><rect width="{t}" height="{t}" fill="{bg}"/>'
            '<path fill="{fg}" d="{d}"/></svg>\n'
        )
        .format(s=style.size, t=total, bg=style.background, fg=style.foreground, d="".join(runs))
        .encode()
    )


def etag(fmt, text, style):
    """Return the strong ETag (quoted) of the code ``render(fmt, text, style)`` makes."""
    key = "\0".join([RENDER_VERSION, fmt, text, repr(astuple(style))])
    return '"%s"' % hashlib.sha256(key.encode()).hexdigest()[:32]


def _rgb(colour):
    return [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
