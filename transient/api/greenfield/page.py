"""The browser pages of Greenfield: ``/i/{invoiceId}`` (the invoice's ``checkoutLink``,
where the plugin also sends returning shoppers) with the choice of payment method, each
leading to that method's own checkout page ``/pay/{paymentId}``; and clear answers for
what is not served (the API-key authorize wizard, the modal checkout).

The page reuses the checkout's stylesheet and its strict policy (no script at all here);
every value is escaped by the template (web.pages)."""

import falcon

from ...greenfield import shapes
from ...greenfield.invoices import Unknown
from ...web import pages
from ..checkout.page import ASSETS, PAGE_HEADERS

PAGES = pages.Templates(__package__)
MESSAGES = {
    shapes.NEW: ("waiting", "Choose how you want to pay."),
    shapes.PROCESSING: ("waiting", "Payment received. Waiting for confirmations."),
    shapes.SETTLED: ("ok", "Paid. Thank you!"),
    shapes.EXPIRED: ("bad", "This payment request has expired. Do not send funds."),
    shapes.INVALID: ("bad", "This payment request is no longer valid. Do not send funds."),
}
LATE = ("warn", "Your payment arrived after this request expired. The merchant has been told.")


def render_page(invoice, choices, refresh_seconds):
    """The HTML of the invoice page (its status and one link per payment method)."""
    status = invoice["status"]
    tone, message = LATE if invoice["additionalStatus"] == shapes.PAID_LATE else MESSAGES[status]
    redirect = invoice["checkout"].get("redirectURL") if status == shapes.SETTLED else None
    description = invoice["metadata"].get("itemDesc")
    values = {
        "lang": "en",
        "amount": invoice["amount"],
        "currency": invoice["currency"],
        "state": status,
        "tone": tone,
        "message": message,
        "description": description if isinstance(description, str) else "",
        "redirect_url": redirect or "",
        "refresh_seconds": refresh_seconds,
        "open": status == shapes.NEW,
        "choices": [dict(c, method=shapes.method_id(c["currency"])) for c in choices],
        "css_href": ASSETS["checkout.css"].href,
        "css_sri": ASSETS["checkout.css"].sri,
        "icon_href": ASSETS["favicon.svg"].href,
    }
    return pages.render(PAGES, "invoice.html", str, **values)


class InvoicePage:
    def __init__(self, service, refresh_seconds):
        self.service = service
        self.refresh_seconds = refresh_seconds

    def on_get(self, req, resp, invoice_id):
        resp.content_type = "text/html; charset=utf-8"
        resp.set_headers(PAGE_HEADERS)
        try:
            invoice, choices = self.service.page(invoice_id)
        except Unknown:
            resp.status = falcon.HTTP_404
            resp.text = pages.notice(
                "No such invoice",
                "Check the link you were given, or ask the merchant for a new one.",
                css_href=ASSETS["checkout.css"].href,
            )
            return
        if invoice["status"] == shapes.NEW and len(choices) == 1:
            # One way to pay: straight to its checkout page.
            see_other(resp, "/pay/%s" % choices[0]["payment_id"])
            return
        resp.text = render_page(invoice, choices, self.refresh_seconds)


def see_other(resp, location):
    """A browser redirect (these pages only: API paths never redirect)."""
    resp.status = falcon.HTTP_303
    resp.location = location
    resp.content_type = "text/plain; charset=utf-8"
    resp.text = "See %s\n" % location


class MerchantLink:
    """``/invoices/{id}``: the merchant's link of the plugin's order list (no back office
    here): the invoice's page."""

    def on_get(self, req, resp, invoice_id):
        see_other(resp, "/i/%s" % falcon.uri.encode_value(invoice_id))


class NoWizard:
    def on_get(self, req, resp):
        resp.status = falcon.HTTP_404
        resp.content_type = "text/html; charset=utf-8"
        resp.set_headers(PAGE_HEADERS)
        resp.text = pages.notice(
            "API keys are made on the server",
            "This server does not authorize keys from the browser. On the server, run "
            "`transient keys create --greenfield --label WooCommerce`, then enter in the plugin's "
            "settings the server's URL, that key and the store id it prints (manual setup).",
            css_href=ASSETS["checkout.css"].href,
        )


class NoModal:
    def on_get(self, req, resp):
        resp.status = falcon.HTTP_404
        resp.content_type = "text/javascript; charset=utf-8"
        resp.text = "// The modal checkout is not served: turn off the plugin's modal checkout.\n"
