"""The OpenAPI paths of the pages: the checkout, BTCPay's plugin pages, the dashboard."""

import re

from .build import PAGE, PAYMENT_ID, operation, param


def checkout():
    """The customer's side: the QR images, the checkout page and its files."""
    return {
        "/payments/{payment_id}/qrcode.{fmt}": {
            "get": operation(
                "The payment's QR code",
                {
                    "200": {
                        "description": "The image.",
                        "content": {
                            "image/png": {"schema": {"type": "string"}},
                            "image/svg+xml": {"schema": {"type": "string"}},
                        },
                    },
                    "304": {"description": "Unchanged (If-None-Match)."},
                },
                params=[
                    PAYMENT_ID,
                    param("fmt", "path", "The format.", {"enum": ["png", "svg"]}),
                    param("size", "query", "Pixels, 32 to 2048.", {"type": "integer"}, False),
                    param("border", "query", "Quiet zone in modules, 0 to 16.", {"type": "integer"}, False),
                    param("foreground", "query", "Hex colour.", None, False),
                    param("background", "query", "Hex colour.", None, False),
                    param("error_correction", "query", "L, M, Q or H.", {"enum": ["L", "M", "Q", "H"]}, False),
                    param(
                        "content", "query", "The BIP21 URI or the bare address.", {"enum": ["uri", "address"]}, False
                    ),
                    param("v", "query", "Ignored (cache busting).", None, False),
                ],
                tag="Checkout",
            )
        },
        "/pay/{payment_id}": {
            "get": operation(
                "The checkout page",
                {"200": PAGE, "404": PAGE},
                params=[PAYMENT_ID, param("lang", "query", "en, de, es, fr or pt.", None, False)],
                tag="Checkout",
            )
        },
        "/pay/static/{name}": {
            "get": operation(
                "The checkout page's script, style sheet and logo",
                {"200": {"description": "The file."}, "304": {"description": "Unchanged."}},
                params=[param("name", "path", "The file's name.")],
                tag="Checkout",
            )
        },
    }


def greenfield_pages():
    """The pages that BTCPay's plugins link to (the Greenfield API itself, under /api/v1/, is
    BTCPay's document: see the Greenfield section of the API reference)."""
    invoice = param("invoice_id", "path", "The Greenfield invoice's id.")
    return {
        "/i/{invoice_id}": {
            "get": operation(
                "A Greenfield invoice's checkout", {"200": PAGE, "404": PAGE}, params=[invoice], tag="BTCPay"
            )
        },
        "/invoices/{invoice_id}": {
            "get": operation(
                "The merchant's link to an invoice (a note)", {"404": PAGE}, params=[invoice], tag="BTCPay"
            )
        },
        "/api-keys/authorize": {
            "get": operation("How to make a key (BTCPay's wizard is not served)", {"404": PAGE}, tag="BTCPay")
        },
        "/modal/btcpay.js": {
            "get": operation(
                "The modal checkout (not served: a script saying so)",
                {"404": {"description": "A script."}},
                tag="BTCPay",
            )
        },
    }


# The dashboard's pages, at the default [dashboard] path: (suffix, methods, what it is).
DASHBOARD = (
    ("", "get", "Overview"),
    ("/payments", "get", "Payments, searched and filtered"),
    ("/payments/{payment_id}", "get", "One payment, its events and deliveries"),
    ("/deliveries/{delivery_id}/redeliver", "post", "Send a delivery again"),
    ("/webhooks", "get", "Webhook deliveries"),
    ("/webhooks/test", "post", "Send a test ping"),
    ("/health", "get", "The daemon's health"),
    ("/keys", "get post", "API keys: list, create"),
    ("/keys/{public_id}/revoke", "post", "Revoke an API key"),
    ("/users", "get post", "Users: list, invite"),
    ("/users/{user_id}/disable", "post", "Disable a user"),
    ("/users/{user_id}/role", "post", "Give a user another role"),
    ("/users/{user_id}/totp-reset", "post", "Reset a user's two-factor"),
    ("/account", "get post", "Your account: language and time zone"),
    ("/account/password", "post", "Change your password"),
    ("/sessions/{session_id}/revoke", "post", "End a session"),
    ("/settings", "get", "The settings in effect, secrets masked"),
    ("/login", "get post", "Sign in: password"),
    ("/login/code", "get post", "Sign in: the one-time code"),
    ("/login/setup", "get post", "Set up the one-time codes"),
    ("/logout", "post", "Sign out"),
    ("/reports", "get", "The reports' form: report, range, coin, status, format"),
    ("/reports/download", "get", "A report's file, as GET /reports/{kind} makes it (every role)"),
    ("/refunds", "get", "Refunds and payouts awaiting a decision"),
    ("/payouts/{payout_id}/{action}", "post", "Approve or cancel a payout"),
    ("/payments/{payment_id}/refund", "post", "Refund a payment"),
    ("/batches/{batch_id}/psbt", "get post", "A watch-only batch's PSBT: download it, upload it signed"),
)


def dashboard(prefix="/dashboard"):
    """The merchant's dashboard: browser pages behind its own session cookie and CSRF token
    (never API keys), listed so that the document has every route; forms, not an API."""
    form = {"required": False, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}}
    answers = {"200": PAGE, "303": {"description": "To the next page (or to sign in)."}, "403": PAGE, "404": PAGE}
    out = {}
    for suffix, methods, summary in DASHBOARD:
        params = [param(name, "path", "The id.") for name in re.findall(r"{(\w+)}", suffix)]
        out[prefix + suffix] = {
            method: operation(summary, answers, params=params, body=form if method == "post" else None, tag="Dashboard")
            for method in methods.split()
        }
    out[prefix + "/static/{name}"] = {
        "get": operation(
            "The dashboard's script and style sheet",
            {"200": {"description": "The file."}},
            params=[param("name", "path", "The file's name.")],
            tag="Dashboard",
        )
    }
    return out
