"""The customer's refund claim page, ``/claim/{id}`` (a pull payment's ``viewLink``): what
is left to claim and a form for the address, in the checkout's languages; a claim is the
payouts service's (the node checks the address's coin and network). No script; the form
is protected by a double-submit token (a SameSite=Strict cookie and the same value in
the form), and every value is escaped by the template (web.pages)."""

import hmac
import secrets
from urllib.parse import quote

import falcon

from ...core.errors import Conflict, NotFound, ValidationError
from ...core.money import format_amount
from ...web import pages
from . import i18n
from .page import ASSETS, PAGES

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
COOKIE = "transient_claim"
MAX_FORM = 4096


class ClaimPage:
    """GET shows the page; POST claims what remains to the form's ``destination``."""

    def __init__(self, payouts, store_name=""):
        self.payouts = payouts
        self.store_name = store_name

    def on_get(self, req, resp, pull_id):
        lang = self._start(req, resp)
        pull = self._pull(resp, pull_id, lang)
        if pull is None:
            return
        claimed = req.get_param("claimed")
        shown = None
        if claimed:
            mine = [p for p in self.payouts.list(pull_id=pull.id, limit=500) if p.id == claimed]
            shown = (
                "%s %s" % (format_amount(mine[0].amount, self.payouts.decimals(pull.currency)), pull.currency)
                if mine
                else None
            )
        resp.text = self._page(req, resp, pull, lang, claimed=shown)

    def on_post(self, req, resp, pull_id):
        lang = self._start(req, resp)
        pull = self._pull(resp, pull_id, lang)
        if pull is None:
            return
        form = _form(req)
        destination = form.get("destination", "").strip()
        given = form.get("csrf", "")
        cookie = req.cookies.get(COOKIE, "")
        if not cookie or not hmac.compare_digest(given.encode(), cookie.encode()):
            resp.status = falcon.HTTP_403
            resp.text = self._page(req, resp, pull, lang, error="csrf", destination=destination)
            return
        try:
            payout = self.payouts.claim(pull.id, destination)
        except (ValidationError, Conflict) as exc:
            resp.status = falcon.HTTP_422 if isinstance(exc, ValidationError) else falcon.HTTP_409
            resp.text = self._page(
                req, resp, self.payouts.get_pull(pull.id), lang, error=_error(exc), destination=destination
            )
            return
        resp.status = falcon.HTTP_303
        resp.location = "/claim/%s?lang=%s&claimed=%s" % (quote(pull.id), lang, quote(payout.id))

    def _start(self, req, resp):
        resp.content_type = "text/html; charset=utf-8"
        resp.set_headers({**pages.SAFE_HEADERS, "Content-Security-Policy": CSP})
        lang = i18n.choose(req.get_param("lang"), req.get_header("Accept-Language"))
        resp.set_header("Content-Language", lang)
        resp.set_header("Vary", "Accept-Language")
        return lang

    def _pull(self, resp, pull_id, lang):
        try:
            return self.payouts.get_pull(pull_id)
        except NotFound:
            resp.status = falcon.HTTP_404
            resp.text = pages.render(PAGES, "claim.html", i18n.gettext_for(lang), **_blank(lang, "missing"))
            return None

    def _page(self, req, resp, pull, lang, error=None, claimed=None, destination=""):
        token = req.cookies.get(COOKIE) or secrets.token_urlsafe(24)
        resp.set_cookie(COOKIE, token, path="/claim", secure=req.scheme == "https", http_only=True, same_site="Strict")
        decimals = self.payouts.decimals(pull.currency)
        remaining = pull.amount - pull.claimed
        closed = pull.archived or (pull.expires_at is not None and pull.expires_at <= self.payouts.clock())
        state = "closed" if closed and remaining else "done" if remaining <= 0 else "open"
        payouts = [
            {"amount": format_amount(p.amount, decimals), "destination": p.destination, "state": p.state}
            for p in self.payouts.list(pull_id=pull.id, limit=500, include_cancelled=False)
        ]
        return pages.render(
            PAGES,
            "claim.html",
            i18n.gettext_for(lang),
            lang=lang,
            state=state,
            refund_name=pull.name,
            currency=pull.currency,
            remaining=format_amount(max(remaining, 0), decimals),
            store_name=self.store_name,
            error=error or "",
            claimed=claimed or "",
            destination=destination,
            csrf=token,
            action="/claim/%s?lang=%s" % (quote(pull.id), lang),
            payouts=payouts,
            css_href=ASSETS["checkout.css"].href,
            css_sri=ASSETS["checkout.css"].sri,
            icon_href=ASSETS["favicon.svg"].href,
        )


def _form(req):
    """The url-encoded form of the request (at most MAX_FORM bytes), as {name: value}."""
    if (req.content_length or 0) > MAX_FORM:
        raise falcon.HTTPContentTooLarge(description="the form is larger than %d bytes" % MAX_FORM)
    raw = req.bounded_stream.read(MAX_FORM + 1)[:MAX_FORM]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return {}
    return {k: v for k, v in falcon.uri.parse_query_string(text, keep_blank=True).items() if isinstance(v, str)}


def _error(exc):
    """A claim's refusal: a message of the page's (translated there), or the service's text."""
    if exc.field == "destination":
        return "address"
    if isinstance(exc, Conflict):
        return "closed"
    return exc.message


def _blank(lang, state):
    """The values of a page that shows no pull payment (a 404)."""
    return dict(
        lang=lang,
        state=state,
        refund_name="",
        currency="",
        remaining="",
        store_name="",
        error="",
        claimed="",
        destination="",
        csrf="",
        action="",
        payouts=[],
        css_href=ASSETS["checkout.css"].href,
        css_sri=ASSETS["checkout.css"].sri,
        icon_href=ASSETS["favicon.svg"].href,
    )
