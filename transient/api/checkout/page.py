"""What a customer sees: the /pay/{id} checkout page, its static assets and the
payment's QR code images.

The page is rendered whole on the server (it works without JavaScript, refreshing
itself); checkout.js then keeps it live by polling the payment's JSON. Every value
shown is escaped by the template (web.pages: Jinja2, autoescaping). Nothing is loaded from another host: the policy is
``default-src 'none'`` with the script, style sheet and images served by this app.
"""

import base64
import hashlib
import logging
import os
from dataclasses import dataclass
from importlib import resources as package_files

import falcon

from ...core import status as st
from ...core.clock import iso, parse_time
from ...core.errors import ConfigError, NodeError, NotFound
from ...web import pages
from . import i18n, qr

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'"
)
PAGE_HEADERS = {"Content-Security-Policy": CSP, **pages.SAFE_HEADERS}


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
PAGES = pages.Templates(__package__)


def template_messages():
    """The English messages of the templates (the checkout page, then the refund claim
    page), in order, once each (what checkout.pot lists)."""
    found = pages.messages(PAGES, "checkout.html")
    return found + [m for m in pages.messages(PAGES, "claim.html") if m not in found]


@dataclass(frozen=True)
class Branding:
    """What the merchant puts on the page: ``[checkout] store_name`` and ``logo`` (a file
    served by Transient itself), and ``network(currency)``, the coin node's chain ("main",
    "test", "regtest" or None when unknown) for the test-network badge."""

    store_name: str | None = None
    logo: "Asset | None" = None
    network: object = None

    def chain(self, currency):
        if self.network is None:
            return None
        try:
            return self.network(currency)
        except (NodeError, KeyError) as exc:
            log.debug("no chain for %s: %s", currency, exc)
            return None


LOGO_TYPES = {
    "png": "image/png",
    "svg": "image/svg+xml",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
}
MAX_LOGO = 256 * 1024


def read_logo(path):
    """Return the Asset of the logo file at ``path``; raise ValueError saying what is wrong
    with a file that is missing, too big or not an image type we serve."""
    ext = path.rsplit(".", 1)[-1].lower() if "." in os.path.basename(path) else ""
    if ext not in LOGO_TYPES:
        raise ValueError("%s is not a .png, .svg, .jpg, .webp or .gif file" % path)
    try:
        with open(path, "rb") as fh:
            body = fh.read(MAX_LOGO + 1)
    except OSError as exc:
        raise ValueError("cannot read %s: %s" % (path, exc.strerror)) from None
    if len(body) > MAX_LOGO:
        raise ValueError("%s is larger than 256 KiB" % path)
    return Asset("logo." + ext, body, LOGO_TYPES[ext])


def load_logo(path):
    """The logo's Asset (None for none); a ConfigError names ``checkout.logo``."""
    if not path:
        return None
    try:
        return read_logo(path)
    except ValueError as exc:
        raise ConfigError("checkout.logo: %s" % exc, field="checkout.logo") from None


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


def render_page(payment, now, refresh_seconds, lang=i18n.DEFAULT, branding=None):
    """Return the HTML of the checkout page for a payment's public view at ``now`` (naive
    UTC), in ``lang``: what anyone holding the link may see, and nothing else of the merchant's."""
    branding = branding or Branding()
    redirect = payment["redirect_url"]  # the public view holds it once the payment is paid
    pid = payment["id"]
    numbers = i18n.numbers(lang)
    logo = branding.logo
    # The script polls ?view=public: the same view whether keys are in use or not.
    values = {
        "id": pid,
        "lang": lang,
        "state": page_state(payment),
        "currency": payment["currency"],
        "amount_due": payment["amount_due"],
        "confirmations": payment["confirmations"],
        "confirmations_required": payment["confirmations_required"],
        "address": payment["payment_address"],
        "payment_uri": payment["payment_uri"] or "",
        "description": payment["description"] or "",
        "api": "/payments/%s?view=public" % pid,
        "qr_base": "/payments/%s/qrcode.svg" % pid,
        "qr_src": "/payments/%s/qrcode.svg?v=%s" % (pid, payment["amount_due"]),
        "qr_amount": "%s %s" % (numbers.format(payment["amount_due"]), payment["currency"]),
        "now": iso(now),
        "expires_at": payment["expires_at"] or "",
        "expires_in": _remaining(payment["expires_at"], now),
        "refresh_seconds": refresh_seconds,
        "redirect_url": redirect or "",
        "redirect_now": bool(redirect and payment["paid"]),
        "css_href": ASSETS["checkout.css"].href,
        "css_sri": ASSETS["checkout.css"].sri,
        "js_href": ASSETS["checkout.js"].href,
        "js_sri": ASSETS["checkout.js"].sri,
        "icon_href": ASSETS["favicon.svg"].href,
        # A priced payment shows what it was priced with (hidden for one given in coins).
        "price": payment.get("price") or "",
        "price_currency": payment.get("price_currency") or "",
        "rate_at": _minute(payment.get("rate_at")),
        "decimal_sep": numbers.decimal,
        "group_sep": numbers.group,
        "min_group": numbers.min_group,
        "store_name": branding.store_name or "",
        "logo_href": logo.href if logo else "",
        "testnet": branding.chain(payment["currency"]) in ("test", "regtest"),
        "txs": _txs(payment, numbers),
    }
    for name in ("amount", "amount_due", "amount_received", "amount_overpaid", "price", "rate"):
        values[name + "_f"] = numbers.format(payment.get(name) or "")
    return pages.render(PAGES, "checkout.html", i18n.gettext_for(lang), **values)


def _minute(stamp):
    """``2026-12-02T06:15:36.059Z`` as a customer reads it: ``2026-12-02 06:15 UTC``."""
    return "%s %s UTC" % (stamp[:10], stamp[11:16]) if stamp else ""


def _counted(payment):
    return [t for t in payment["transactions"] if t["status"] in ("pending", "confirmed")]


def short_txid(txid):
    """``1a2b3c4d…5e6f7a8b``: enough to recognise in a wallet, short enough for a phone."""
    return txid if len(txid) <= 20 else "%s…%s" % (txid[:8], txid[-8:])


def _txs(payment, numbers):
    """The page's list of the transactions seen (checkout.js rebuilds it the same way)."""
    return [
        {
            "amount_f": numbers.format(tx["amount"]),
            "txid": tx["txid"],
            "short": short_txid(tx["txid"]),
            "confirmations": max(0, tx["confirmations"]),
        }
        for tx in _counted(payment)
    ]


def _remaining(expires_at, now):
    if not expires_at:
        return ""
    left = max(0, int((parse_time(expires_at, "expires_at") - now).total_seconds()))
    h, m, s = left // 3600, left // 60 % 60, left % 60
    return ("%d:%02d:%02d" % (h, m, s)) if h else ("%d:%02d" % (m, s))


# -- resources ---------------------------------------------------------------------


def fresh(req, tag):
    """True when the request's If-None-Match already holds the quoted ETag ``tag``."""
    given = req.get_header("If-None-Match")
    if not given:
        return False
    tags = {t.strip().removeprefix("W/") for t in given.split(",")}
    return "*" in tags or tag in tags


class CheckoutPage:
    def __init__(self, service, refresh_seconds, branding=None):
        self.service = service
        self.refresh_seconds = refresh_seconds
        self.branding = branding or Branding()

    def on_get(self, req, resp, payment_id):
        resp.content_type = "text/html; charset=utf-8"
        resp.set_headers(PAGE_HEADERS)
        lang = i18n.choose(req.get_param("lang"), req.get_header("Accept-Language"))
        resp.set_header("Content-Language", lang)
        resp.set_header("Vary", "Accept-Language")
        try:
            payment = self.service.get(payment_id)
        except NotFound:
            resp.status = falcon.HTTP_404
            resp.text = pages.notice(
                "No such payment",
                "Check the link you were given, or ask the merchant for a new one.",
                css_href=ASSETS["checkout.css"].href,
                icon_href=ASSETS["favicon.svg"].href,
            )
            return
        rendered = self.service.renderer.render_public(payment, with_history=False)
        resp.text = render_page(rendered, self.service.clock(), self.refresh_seconds, lang, self.branding)


class StaticAsset:
    def __init__(self, assets=None):
        self.assets = ASSETS if assets is None else assets

    def on_get(self, req, resp, name):
        asset = self.assets.get(name)
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
        payment = self.service.renderer.render(self.service.get(payment_id), with_history=False)
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


def add_routes(app, service, qr_style, refresh_seconds, branding=None):
    """Add the checkout page, its assets and the QR images of ``service``'s payments to
    ``app``; ``branding`` is the store's name, logo and the nodes' chains."""
    app.add_route("/payments/{payment_id}/qrcode.{fmt}", QRImage(service, qr_style))
    app.add_route("/pay/{payment_id}", CheckoutPage(service, refresh_seconds, branding))
    # The merchant's logo is served as our own files are (hash in the URL, nosniff, SVG inert).
    logo = branding.logo if branding else None
    app.add_route("/pay/static/{name}", StaticAsset(dict(ASSETS, **({logo.name: logo} if logo else {}))))
