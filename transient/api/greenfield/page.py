"""The browser pages of Greenfield: ``/i/{invoiceId}`` (the invoice's ``checkoutLink``,
where the plugin also sends returning shoppers) with the choice of payment method, each
leading to that method's own checkout page ``/pay/{paymentId}``; and clear answers for
what is not served (the API-key authorize wizard, the modal checkout).

The page reuses the checkout's stylesheet and its strict policy (no script at all here);
every value goes through html.escape."""

import html
import string
from importlib import resources as package_files

import falcon

from ...greenfield import shapes
from ...greenfield.invoices import Unknown
from ..checkout.page import ASSETS, PAGE_HEADERS

TEMPLATE = string.Template((package_files.files(__package__) / "templates" / "invoice.html").read_text("utf-8"))
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
    open_ = status == shapes.NEW
    items = "\n".join(
        '      <li><a class="button method" href="/pay/%s">%s %s (%s)</a></li>'
        % (
            html.escape(c["payment_id"]),
            html.escape(c["amount"]),
            html.escape(c["currency"]),
            html.escape(shapes.method_id(c["currency"])),
        )
        for c in choices
    )
    redirect = invoice["checkout"].get("redirectURL") if status == shapes.SETTLED else None
    if redirect:
        refresh = '<meta http-equiv="refresh" content="5;url=%s">' % html.escape(redirect)
    else:
        refresh = '<meta http-equiv="refresh" content="%d">' % refresh_seconds
    description = invoice["metadata"].get("itemDesc")
    values = {
        "amount": invoice["amount"],
        "currency": invoice["currency"],
        "state": status,
        "tone": tone,
        "message": message,
        "description": description if isinstance(description, str) else "",
        "redirect_url": redirect or "",
        "css_href": ASSETS["checkout.css"].href,
        "css_sri": ASSETS["checkout.css"].sri,
        "icon_href": ASSETS["favicon.svg"].href,
    }
    values = {k: html.escape(str(v)) for k, v in values.items()}
    values.update(
        refresh=refresh,
        choices=items,
        description_hidden="" if isinstance(description, str) and description else " hidden",
        methods_hidden="" if open_ else " hidden",
        redirect_hidden="" if redirect else " hidden",
    )
    return TEMPLATE.substitute(values)


NOT_FOUND = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>No such invoice</title>
<link rel="stylesheet" href="%s"></head>
<body><main><h1>No such invoice</h1><p>Check the link you were given, or ask the merchant for a new one.</p></main>
</body></html>
"""
NO_WIZARD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>API keys are made on the server</title>
<link rel="stylesheet" href="%s"></head>
<body><main><h1>API keys are made on the server</h1>
<p>This server does not authorize keys from the browser. On the server, run
<code>transient keys create --greenfield --label WooCommerce</code>, then enter in the plugin's
settings the server's URL, that key and the store id it prints (manual setup).</p></main>
</body></html>
"""


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
            resp.text = NOT_FOUND % ASSETS["checkout.css"].href
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
        resp.text = NO_WIZARD % ASSETS["checkout.css"].href


class NoModal:
    def on_get(self, req, resp):
        resp.status = falcon.HTTP_404
        resp.content_type = "text/javascript; charset=utf-8"
        resp.text = "// The modal checkout is not served: turn off the plugin's modal checkout.\n"
