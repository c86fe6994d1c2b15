"""What a customer sees: the /pay/{id} checkout page, its static assets and the
payment's QR code images.

The page is rendered whole on the server (it works without JavaScript, refreshing
itself); checkout.js then keeps it live by polling the payment's JSON. Every value
shown goes through html.escape. Nothing is loaded from another host: the policy is
``default-src 'none'`` with the script, style sheet and images served by this app.
"""

import base64
import hashlib
import html
import string
from dataclasses import dataclass
from importlib import resources as package_files

import falcon

from ...core import status as st
from ...core.clock import iso, parse_time
from ...core.errors import NotFound
from . import qr

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    content_type: str

    @property
    def version(self):
        return hashlib.sha256(self.body).hexdigest()[:16]

    @property
    def sri(self):
        return "sha384-" + base64.b64encode(hashlib.sha384(self.body).digest()).decode()

    @property
    def href(self):
        return "/pay/static/%s?v=%s" % (self.name, self.version)


def _load_assets():
    static = package_files.files(__package__) / "static"
    types = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8", "svg": "image/svg+xml"}
    return {
        name: Asset(name, (static / name).read_bytes(), types[name.rsplit(".", 1)[1]])
        for name in ("checkout.js", "checkout.css", "favicon.svg")
    }


ASSETS = _load_assets()
TEMPLATE = string.Template((package_files.files(__package__) / "templates" / "checkout.html").read_text("utf-8"))


# -- the page ----------------------------------------------------------------------


def page_state(payment):
    """Return the page's state for a rendered payment: its status, with EXPIRED split into
    EXPIRED (nothing came), EXPIRED_PARTIAL (too little came in time) and EXPIRED_LATE
    (the amount came after expiry). checkout.js applies the same rule."""
    if payment["status"] != st.EXPIRED:
        return payment["status"]
    if payment["paid_late"]:
        return "EXPIRED_LATE"
    return "EXPIRED_PARTIAL" if payment["amount_received"] != "0" else "EXPIRED"


def render_page(payment, now, refresh_seconds):
    """Return the HTML of the checkout page for a payment's public view at ``now`` (naive
    UTC): what anyone holding the link may see, and nothing else of the merchant's."""
    state = page_state(payment)
    description = payment["description"]
    redirect = payment["redirect_url"]  # the public view holds it once the payment is paid
    if redirect and payment["paid"]:
        refresh = '<meta http-equiv="refresh" content="5;url=%s">' % html.escape(redirect)
    else:
        refresh = '<noscript><meta http-equiv="refresh" content="%d"></noscript>' % refresh_seconds
    pid = payment["id"]
    # The script polls ?view=public: the same view whether keys are in use or not.
    values = {
        "id": pid,
        "state": state,
        "currency": payment["currency"],
        "amount": payment["amount"],
        "amount_due": payment["amount_due"],
        "amount_received": payment["amount_received"],
        "amount_overpaid": payment["amount_overpaid"],
        "confirmations": payment["confirmations"],
        "confirmations_required": payment["confirmations_required"],
        "address": payment["payment_address"],
        "payment_uri": payment["payment_uri"] or "",
        "description": description or "",
        "api": "/payments/%s?view=public" % pid,
        "qr_base": "/payments/%s/qrcode.svg" % pid,
        "qr_src": "/payments/%s/qrcode.svg?v=%s" % (pid, payment["amount_due"]),
        "qr_alt": "QR code: send %s %s to %s"
        % (payment["amount_due"], payment["currency"], payment["payment_address"]),
        "now": iso(now),
        "expires_at": payment["expires_at"] or "",
        "expires_in": _remaining(payment["expires_at"], now),
        "refresh_seconds": refresh_seconds,
        "redirect_url": redirect or "",
        "css_href": ASSETS["checkout.css"].href,
        "css_sri": ASSETS["checkout.css"].sri,
        "js_href": ASSETS["checkout.js"].href,
        "js_sri": ASSETS["checkout.js"].sri,
        "icon_href": ASSETS["favicon.svg"].href,
        # A priced payment shows what it was priced with (hidden for one given in coins).
        "price": payment.get("price") or "",
        "price_currency": payment.get("price_currency") or "",
        "rate": payment.get("rate") or "",
        "rate_at": payment.get("rate_at") or "",
    }
    values = {k: html.escape(str(v)) for k, v in values.items()}
    values.update(
        refresh=refresh,
        description_hidden=_hidden(description),
        expiry_hidden=_hidden(payment["expires_at"]),
        redirect_hidden=_hidden(redirect),
        price_hidden=_hidden(payment.get("price")),
    )
    return TEMPLATE.substitute(values)


def _hidden(value):
    return "" if value else " hidden"


def _remaining(expires_at, now):
    if not expires_at:
        return ""
    left = max(0, int((parse_time(expires_at, "expires_at") - now).total_seconds()))
    h, m, s = left // 3600, left // 60 % 60, left % 60
    return ("%d:%02d:%02d" % (h, m, s)) if h else ("%d:%02d" % (m, s))


NOT_FOUND = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>No such payment</title><link rel="icon" href="%s" type="image/svg+xml"><link rel="stylesheet" href="%s">
</head>
<body><main><h1>No such payment</h1><p>Check the link you were given, or ask the merchant for a new one.</p></main>
</body></html>
"""


# -- resources ---------------------------------------------------------------------


def fresh(req, tag):
    """True when the request's If-None-Match already holds the quoted ETag ``tag``."""
    given = req.get_header("If-None-Match")
    if not given:
        return False
    tags = {t.strip().removeprefix("W/") for t in given.split(",")}
    return "*" in tags or tag in tags


class CheckoutPage:
    def __init__(self, service, refresh_seconds):
        self.service = service
        self.refresh_seconds = refresh_seconds

    def on_get(self, req, resp, payment_id):
        resp.content_type = "text/html; charset=utf-8"
        resp.set_headers(PAGE_HEADERS)
        try:
            payment = self.service.get(payment_id)
        except NotFound:
            resp.status = falcon.HTTP_404
            resp.text = NOT_FOUND % (ASSETS["favicon.svg"].href, ASSETS["checkout.css"].href)
            return
        rendered = self.service.public_view(self.service.render(payment, with_history=False))
        resp.text = render_page(rendered, self.service.clock(), self.refresh_seconds)


class StaticAsset:
    def on_get(self, req, resp, name):
        asset = ASSETS.get(name)
        if asset is None:
            raise NotFound("no such file", "name")
        tag = '"%s"' % asset.version
        resp.set_header("ETag", tag)
        resp.set_header("X-Content-Type-Options", "nosniff")
        # The page links each file with ?v=<its hash>: such a URL never changes content.
        versioned = req.get_param("v") == asset.version
        resp.cache_control = ["public", "max-age=31536000", "immutable"] if versioned else ["no-cache"]
        if fresh(req, tag):
            resp.status = falcon.HTTP_304
            return
        resp.content_type = asset.content_type
        if asset.content_type.startswith("image/svg"):
            resp.set_header("Content-Security-Policy", "default-src 'none'")
        resp.data = asset.body


class QRImage:
    """/payments/{id}/qrcode.png and .svg, styled by query parameters over ``[qrcode]``."""

    def __init__(self, service, defaults):
        self.service = service
        self.defaults = defaults

    def on_get(self, req, resp, payment_id, fmt):
        if fmt not in qr.FORMATS:
            raise NotFound("no such image format (png or svg)", "format")
        style = qr.parse_style(req.params, self.defaults)
        payment = self.service.render(self.service.get(payment_id), with_history=False)
        text = qr.payment_text(payment, style.content)
        tag = qr.etag(fmt, text, style)
        resp.set_header("ETag", tag)
        resp.set_header("X-Content-Type-Options", "nosniff")
        # The URI holds the amount still due, which changes as coins arrive: revalidate
        # each time (a 304 costs no rendering). The address of a payment never changes.
        resp.cache_control = ["public", "no-cache"] if style.content == "uri" else ["public", "max-age=86400"]
        if fresh(req, tag):
            resp.status = falcon.HTTP_304
            return
        resp.content_type = qr.FORMATS[fmt]
        if fmt == "svg":
            resp.set_header("Content-Security-Policy", "default-src 'none'")
        resp.data = qr.render(fmt, text, style)


def add_routes(app, service, qr_style, refresh_seconds):
    """Add the checkout page, its assets and the QR images of ``service``'s payments to ``app``."""
    app.add_route("/payments/{payment_id}/qrcode.{fmt}", QRImage(service, qr_style))
    app.add_route("/pay/{payment_id}", CheckoutPage(service, refresh_seconds))
    app.add_route("/pay/static/{name}", StaticAsset())
