"""The Falcon application factory: every route, given the services it serves."""

import falcon

from ..core.errors import TransientError
from . import errors, resources
from . import payouts as payout_routes
from .auth import ApiKeys
from .checkout import page
from .checkout.claim import ClaimPage
from .dashboard import mount as mount_dashboard
from .greenfield import mount as mount_greenfield
from .metrics import HttpMetrics, Metrics
from .openapi import OpenApiDocument
from .reports import Reconcile, ReportFile


class App(falcon.App):
    """Falcon's App where every resource that answers GET answers HEAD the same way
    (monitors use it; Falcon sends the headers and drops the body)."""

    def add_route(self, uri_template, resource, **kwargs):
        if hasattr(resource, "on_get") and not hasattr(resource, "on_head"):
            resource.on_head = resource.on_get
        super().add_route(uri_template, resource, **kwargs)


def create_app(
    payments,
    health,
    *,
    wake,
    db,
    outbox,
    sender,
    webhook_url=None,
    keys=(),
    notify_token=None,
    max_body=65536,
    qr_style,
    refresh_interval=10,
    rates=None,
    metrics_state=None,
    greenfield=None,
    branding=None,
    reports=None,
    reconciler=None,
    payouts=None,
    peers=None,
    dashboard=None,
):
    """Return the WSGI app.

    ``payments`` is the PaymentService; ``health()`` returns the health report;
    ``wake(currency)`` asks for a sync (the notify routes); ``db``, ``outbox`` and
    ``sender`` serve redelivery and the webhook test ping; ``keys`` is the KeyRing
    (or a list of full-scope keys); ``qr_style`` is the
    default QR Style; ``refresh_interval`` the checkout page's reload, in seconds;
    ``rates`` the RateBook behind ``/rates/{currency}/{fiat}``; ``metrics_state`` the
    scrape-time gauges of ``/metrics`` (an ops.metrics.StateCollector); ``greenfield`` the
    ``(invoices, webhooks)`` services of BTCPay's Greenfield API under ``/api/v1``.
    ``branding`` the checkout page's store name, logo and the nodes' chains (``page.Branding``).
    ``reports`` the reports.service.Reports behind ``/reports/{kind}``; ``reconciler`` the
    reports.reconcile.Reconciler behind ``/reports/reconcile``; ``peers`` who is local
    (api.peers.Peers over ``[server] trusted_proxies``), for /metrics and /notify.
    ``payouts`` the ``(PayoutService, Refunds, Batches)`` behind ``/payouts``,
    ``/payments/{id}/refund``, ``/payout-batches`` and the claim page ``/claim/{id}``;
    ``dashboard`` the merchant's pages (a dashboard.Dashboard: its services and path), None
    when turned off.
    """
    access = ApiKeys(keys)
    app, shapes = _app(access)
    app.add_route("/payments", resources.Payments(payments, max_body))
    app.add_route("/payments/{payment_id}", resources.PaymentItem(payments))
    page.add_routes(app, payments, qr_style, refresh_interval, branding)  # QR images, the /pay/{id} page and its assets
    app.add_route("/payments/{payment_id}/events", resources.PaymentEvents(payments))
    app.add_route("/deliveries/{delivery_id}/redeliver", resources.Redeliver(db, outbox))
    app.add_route("/webhooks/test", resources.WebhookTest(sender, webhook_url, max_body))
    app.add_route("/notify/{currency}/{kind}/{value}", resources.Notify(payments.coins, wake, notify_token, peers))
    _operator_routes(app, health, keys, metrics_state, peers)
    _optional_routes(app, reports, reconciler, rates, payouts, branding, max_body)
    if greenfield is not None:
        mount_greenfield(app, shapes, *greenfield, access.keys, max_body, refresh_interval)
    if dashboard is not None:
        mount_dashboard(app, dashboard)
    return app


def _app(access):
    """The App with its middleware (``access``: the ApiKeys) and its one error mapping;
    return ``(app, ErrorShapes)``."""
    app = App(middleware=[HttpMetrics(), access])
    app.req_options.strip_url_path_trailing_slash = True
    shapes = errors.ErrorShapes()  # ours, and a foreign API's under its prefix (mount_greenfield)
    app.set_error_serializer(shapes.serialize)
    app.add_error_handler(TransientError, shapes.handle)
    app.add_error_handler(Exception, errors.handle_unexpected_error)
    return app, shapes


def _operator_routes(app, health, keys, metrics_state, peers):
    """What an operator and a client generator read: health, metrics, this API's document."""
    app.add_route("/healthz", resources.Health(health))
    app.add_route("/metrics", Metrics(keys, metrics_state, peers))
    app.add_route("/openapi.json", OpenApiDocument())


def _optional_routes(app, reports, reconciler, rates, payouts, branding, max_body):
    """The routes of what this process has: reports, reconciliation, rates, payouts."""
    if reports is not None:
        app.add_route("/reports/{kind}", ReportFile(reports))
    if reconciler is not None:
        app.add_route("/reports/reconcile", Reconcile(reconciler, reports.decimals if reports else {}))
    if rates is not None:
        app.add_route("/rates/{currency}/{fiat}", resources.Rates(rates))
    if payouts is not None:
        payout_routes.add_routes(app, *payouts, max_body)
        # The customers' refund claim page: a pull payment's viewLink.
        app.add_route("/claim/{pull_id}", ClaimPage(payouts[0], (branding.store_name or "") if branding else ""))
