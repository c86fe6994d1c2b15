"""QR codes of payment URIs."""
import io

import qrcode
from qrcode.constants import ERROR_CORRECT_M


def png(text, box_size=8, border=4):
    """Return the PNG bytes of a QR code holding ``text``."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=border)
    code.add_data(text)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(out, format="PNG")
    return out.getvalue()
