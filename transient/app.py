"""The Falcon application factory."""
import falcon

from . import checkout, resources
from .errors import TransientError


def create_app(runtime):
    """Return the WSGI app serving ``runtime``'s payments service."""
    app = falcon.App(middleware=[resources.ApiKeys(runtime.config["api.keys"])])
    app.req_options.strip_url_path_trailing_slash = True
    app.set_error_serializer(resources.serialize_http_error)
    app.add_error_handler(TransientError, resources.handle_domain_error)
    app.add_error_handler(Exception, resources.handle_unexpected_error)
    payments = runtime.payments
    app.add_route("/payments", resources.Payments(payments, runtime.config["api.max_body"]))
    app.add_route("/payments/{payment_id}", resources.PaymentItem(payments))
    checkout.add_routes(app, runtime)  # QR images, the /pay/{id} page and its assets
    app.add_route("/payments/{payment_id}/events", resources.PaymentEvents(payments))
    app.add_route("/deliveries/{delivery_id}/redeliver", resources.Redeliver(runtime))
    app.add_route("/webhooks/test", resources.WebhookTest(runtime, runtime.config["api.max_body"]))
    notify = resources.Notify(runtime, runtime.config["notify.token"])
    app.add_route("/notify/{currency}/{kind}/{value}", notify)
    app.add_route("/healthz", resources.Health(runtime))
    return app
