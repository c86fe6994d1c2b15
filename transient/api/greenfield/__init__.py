"""BTCPay Greenfield (v1) over HTTP: the resources and pages of the subset the shops'
plugins and the Greenfield clients use, mounted at /api/v1/. The domain (invoices, the
status rule, the projection, webhooks) is transient.greenfield. May import the rooms
below the API and the API's own modules (errors, checkout assets)."""

from . import errors, openapi, page, resources


def mount(app, error_shapes, service, hooks, payouts, keys, max_body=65536, refresh_seconds=5):
    """Add the Greenfield routes and pages of ``service`` (invoices.Greenfield), ``hooks``
    (webhooks.Webhooks) and ``payouts`` (payouts.GreenfieldPayouts) to ``app``, with the
    KeyRing ``keys``; the app's ErrorShapes ``error_shapes`` answers errors under /api/v1/
    in Greenfield's shape."""
    error_shapes.add("/api/v1/", errors)
    r = resources
    base = "/api/v1"
    store = base + "/stores/{store_id}"
    hook = store + "/webhooks/{webhook_id}"
    routes = [
        (base + "/openapi.json", openapi.GreenfieldDocument()),
        (base + "/server/info", r.ServerInfo(service)),
        (base + "/api-keys/current", r.CurrentKey(service, keys)),
        (base + "/stores", r.Stores(service)),
        (store, r.Store(service)),
        (store + "/payment-methods", r.StoreMethods(service)),
        (store + "/invoices", r.Invoices(service, max_body)),
        (store + "/invoices/{invoice_id}", r.InvoiceItem(service)),
        (store + "/invoices/{invoice_id}/payment-methods", r.InvoiceMethods(service)),
        (store + "/invoices/{invoice_id}/status", r.InvoiceStatus(service, max_body)),
        (store + "/webhooks", r.Hooks(service, hooks, max_body)),
        (hook, r.Hook(service, hooks, max_body)),
        (hook + "/deliveries", r.Deliveries(service, hooks)),
        (hook + "/deliveries/{delivery_id}", r.DeliveryItem(service, hooks)),
        (hook + "/deliveries/{delivery_id}/request", r.DeliveryRequest(service, hooks)),
        (hook + "/deliveries/{delivery_id}/redeliver", r.Redeliver(service, hooks)),
        (store + "/pull-payments", r.PullPayments(payouts, max_body)),
        (store + "/pull-payments/{pull_id}", r.StorePullPayment(payouts)),
        (base + "/pull-payments/{pull_id}", r.PullPaymentItem(payouts)),
        (base + "/pull-payments/{pull_id}/payouts", r.PullPayouts(payouts, max_body)),
        (base + "/pull-payments/{pull_id}/payouts/{payout_id}", r.PullPayoutItem(payouts)),
        (store + "/invoices/{invoice_id}/refund", r.InvoiceRefund(payouts, max_body)),
        (store + "/payouts", r.StorePayouts(payouts)),
        (store + "/payouts/{payout_id}", r.StorePayout(payouts, max_body)),
        (store + "/payouts/{payout_id}/mark-paid", r.StorePayoutPaid(payouts, max_body)),
        ("/i/{invoice_id}", page.InvoicePage(service, refresh_seconds)),
        ("/invoices/{invoice_id}", page.MerchantLink()),
        ("/api-keys/authorize", page.NoWizard()),
        ("/modal/btcpay.js", page.NoModal()),
    ]
    for path, resource in routes:
        app.add_route(path, resource)
    app.add_sink(resources.unknown_path, base + "/")
