"""The merchant's dashboard under ``[dashboard] path``: server-rendered pages over the
services the API uses, behind users and sessions of its own (accounts/), never API keys.
May import core, store, delivery, reports, web, accounts and the checkout's i18n and QR."""

from . import account, assets, owner, refunds, reports, signin, views
from .web import Dashboard

__all__ = ["Dashboard", "mount"]


def mount(app, dash):
    """Add every dashboard route of ``dash`` (a web.Dashboard) to ``app``."""
    p = dash.path
    routes = {
        "": views.Overview,
        "/payments": views.Payments,
        "/payments/{payment_id}": views.PaymentPage,
        "/deliveries/{delivery_id}/redeliver": views.Redeliver,
        "/webhooks": views.Webhooks,
        "/webhooks/test": views.WebhookTest,
        "/health": views.Health,
        "/keys": owner.Keys,
        "/keys/{public_id}/revoke": owner.KeyRevoke,
        "/users": owner.Users,
        "/users/{user_id}/disable": owner.UserDisable,
        "/users/{user_id}/role": owner.UserAction,
        "/users/{user_id}/totp-reset": owner.UserTotpReset,
        "/account": account.Account,
        "/account/password": account.Password,
        "/sessions/{session_id}/revoke": owner.SessionRevoke,
        "/settings": owner.Settings,
        "/login": signin.Login,
        "/login/code": signin.Code,
        "/login/setup": signin.Setup,
        "/logout": signin.Logout,
    }
    if dash.reports is not None:
        routes["/reports"] = reports.ReportsPage
        routes["/reports/download"] = reports.Download
    if dash.payouts is not None:
        routes["/refunds"] = refunds.Refunds
        routes["/payouts/{payout_id}/{action}"] = refunds.PayoutAction
        routes["/batches/{batch_id}/psbt"] = refunds.BatchPsbt
        routes["/payments/{payment_id}/refund"] = refunds.PaymentRefund
    for suffix, resource in routes.items():
        app.add_route(p + suffix, resource(dash))
    app.add_route(p + "/static/{name}", assets.resource())
