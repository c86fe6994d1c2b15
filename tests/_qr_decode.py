"""Read QR codes back with a real decoder: zxing-cpp (a pip wheel with no system
library; it also reports the error-correction level and version it read), and
CairoSVG to rasterise SVG codes first (needs Debian's libcairo2)."""

import io

from _services import _missing
from PIL import Image


def decode_image(image):
    """Return the zxing-cpp barcodes found in a PIL image."""
    try:
        import zxingcpp
    except ImportError:
        _missing("zxing-cpp is not installed (pip install -e .[test])")
    return zxingcpp.read_barcodes(image.convert("RGB"))


def decode_png(data):
    """Return the one QR code in PNG ``data`` (fails unless there is exactly one)."""
    codes = decode_image(Image.open(io.BytesIO(data)))
    assert len(codes) == 1, "expected one QR code, found %d" % len(codes)
    return codes[0]


def svg_to_png(data, size=None):
    """Rasterise SVG ``data`` with CairoSVG; return the PNG bytes."""
    try:
        import cairosvg
    except (ImportError, OSError) as exc:  # OSError: libcairo2 is missing
        _missing("CairoSVG cannot run (%s); install libcairo2 and pip install -e .[test]" % exc)
    return cairosvg.svg2png(bytestring=data, output_width=size, output_height=size)


def decode_svg(data, size=None):
    """Return the one QR code in SVG ``data``."""
    return decode_png(svg_to_png(data, size))
