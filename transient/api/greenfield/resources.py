"""The Greenfield routes: thin resources that check the key, call the service and answer
in Greenfield's shapes (exactly 200 on success; 401/403/404 ``{code, message}``, 422 an
array of ``{path, message}``, 400 ``{code, message}``), never a redirect."""

import functools

import falcon

from ... import __version__
from ...core.errors import NotFound
from ...core.keys import PAYOUTS_APPROVE, PAYOUTS_READ
from ...greenfield import shapes
from ...payouts.service import by_key
from ..auth import Permissions
from ..resources import read_json

MISSING = 'Insufficient API Permissions. Please use an API key with permission "%s".'


def edge(responder):
    """Answer exactly 200 (create and delete too) with what the responder returns; its errors
    are answered in Greenfield's shapes by the app's ErrorShapes (api/greenfield/errors.py)."""

    @functools.wraps(responder)
    def wrapped(self, req, resp, **params):
        result = responder(self, req, resp, **params)
        resp.status = falcon.HTTP_200
        # The metadata's numbers are Decimals, written as the client sent them.
        resp.content_type = falcon.MEDIA_JSON
        resp.text = shapes.dumps(result)

    return wrapped


# Greenfield's permission names over our scopes: the app's one key check (api/auth.ApiKeys)
# reads each resource's ``scopes`` in them. Payouts are gated by two names a key's
# permission list (api-keys/current) does not show.
VIEW_PAYOUTS, MANAGE_PAYOUTS = "btcpay.store.canviewpullpayments", "btcpay.store.canmanagepullpayments"
PERMISSIONS = Permissions(
    dict(shapes.PERMISSIONS, **{VIEW_PAYOUTS: PAYOUTS_READ, MANAGE_PAYOUTS: PAYOUTS_APPROVE}),
    missing=MISSING,
    schemes=("token",),  # Greenfield's ``token <key>``, besides ``Bearer <key>``
)
ANY_KEY = None  # a valid key, whatever it may do


class Resource:
    permissions = PERMISSIONS
    scopes = {}  # what each method needs, in Greenfield's names; a method not named is public

    def __init__(self, service, max_body=65536):
        self.service = service
        self.max_body = max_body

    def body(self, req):
        """The JSON body (None when empty: the service names what is missing)."""
        return read_json(req, self.max_body, optional=True)


class ServerInfo(Resource):
    scopes = {"GET": ANY_KEY}

    @edge
    def on_get(self, req, resp):
        return self.service.server_info(__version__)


class CurrentKey(Resource):
    scopes = {"GET": ANY_KEY}

    def __init__(self, service, keys):
        super().__init__(service)
        self.keys = keys

    @edge
    def on_get(self, req, resp):
        grant = req.context.grant
        row = self.keys.store.find(grant.key) if grant.key not in (None, "config") else None
        label = row.label if row is not None and row.label else ("config" if grant.key == "config" else "")
        return {
            # The key is never echoed: its public part names it.
            "apiKey": "tk_%s" % grant.key if row is not None else (grant.key or ""),
            "label": label,
            "permissions": shapes.permissions_of(grant.scopes, self.service.store_id),
        }


class Stores(Resource):
    scopes = {"GET": shapes.VIEW_STORE}

    @edge
    def on_get(self, req, resp):
        return [self.service.store()]


class Store(Resource):
    scopes = {"GET": shapes.VIEW_STORE}

    @edge
    def on_get(self, req, resp, store_id):
        self.service.check_store(store_id)
        return self.service.store()


class StoreMethods(Resource):
    scopes = {"GET": shapes.VIEW_STORE}

    @edge
    def on_get(self, req, resp, store_id):
        self.service.check_store(store_id)
        methods = self.service.payment_methods()
        if req.get_param_as_bool("includeConfig"):
            for m in methods:
                m["config"] = {}
        return methods


class Invoices(Resource):
    scopes = {"GET": shapes.VIEW_INVOICES, "POST": shapes.CREATE_INVOICE}

    @edge
    def on_get(self, req, resp, store_id):
        params = {
            "orderId": req.get_param_as_list("orderId"),
            "status": req.get_param_as_list("status"),
            "textSearch": req.get_param("textSearch"),
            "startDate": req.get_param("startDate"),
            "endDate": req.get_param("endDate"),
            "skip": req.get_param("skip"),
            "take": req.get_param("take"),
        }
        return self.service.list(store_id, params)

    @edge
    def on_post(self, req, resp, store_id):
        return self.service.create(store_id, self.body(req))


class InvoiceItem(Resource):
    scopes = {"GET": shapes.VIEW_INVOICES}

    @edge
    def on_get(self, req, resp, store_id, invoice_id):
        return self.service.get(store_id, invoice_id)


class InvoiceMethods(Resource):
    scopes = {"GET": shapes.VIEW_INVOICES}

    @edge
    def on_get(self, req, resp, store_id, invoice_id):
        return self.service.methods(store_id, invoice_id)


class InvoiceStatus(Resource):
    scopes = {"POST": shapes.MODIFY_INVOICES}

    @edge
    def on_post(self, req, resp, store_id, invoice_id):
        return self.service.mark(store_id, invoice_id, self.body(req))


class HookResource(Resource):
    """Webhook routes: ``service`` is the invoices' (for the store), ``hooks`` the webhooks'."""

    scopes = dict.fromkeys(("GET", "POST", "PUT", "DELETE"), shapes.MODIFY_WEBHOOKS)

    def __init__(self, service, hooks, max_body=65536):
        super().__init__(service, max_body)
        self.hooks = hooks

    def store(self, req, store_id):
        self.service.check_store(store_id)
        return self.service.store_id


class Hooks(HookResource):
    @edge
    def on_get(self, req, resp, store_id):
        return self.hooks.list(self.store(req, store_id))

    @edge
    def on_post(self, req, resp, store_id):
        return self.hooks.create(self.store(req, store_id), self.body(req))


class Hook(HookResource):
    @edge
    def on_get(self, req, resp, store_id, webhook_id):
        return self.hooks.get(self.store(req, store_id), webhook_id)

    @edge
    def on_put(self, req, resp, store_id, webhook_id):
        return self.hooks.update(self.store(req, store_id), webhook_id, self.body(req))

    @edge
    def on_delete(self, req, resp, store_id, webhook_id):
        return self.hooks.delete(self.store(req, store_id), webhook_id)


class Deliveries(HookResource):
    @edge
    def on_get(self, req, resp, store_id, webhook_id):
        return self.hooks.deliveries(self.store(req, store_id), webhook_id, req.get_param("count"))


class DeliveryItem(HookResource):
    @edge
    def on_get(self, req, resp, store_id, webhook_id, delivery_id):
        return self.hooks.delivery(self.store(req, store_id), webhook_id, delivery_id)


class DeliveryRequest(HookResource):
    @edge
    def on_get(self, req, resp, store_id, webhook_id, delivery_id):
        return self.hooks.request(self.store(req, store_id), webhook_id, delivery_id)


class Redeliver(HookResource):
    @edge
    def on_post(self, req, resp, store_id, webhook_id, delivery_id):
        return self.hooks.redeliver(self.store(req, store_id), webhook_id, delivery_id)


class PayoutResource(Resource):
    """Pull payments and payouts (§3.11-3.12): ``service`` is greenfield.payouts.GreenfieldPayouts."""

    def may_approve(self, grant):
        return grant.allows(PAYOUTS_APPROVE)


class PullPayments(PayoutResource):
    scopes = {"POST": shapes.PULL_PAYMENTS, "GET": shapes.VIEW_STORE}

    @edge
    def on_post(self, req, resp, store_id):
        return self.service.create_pull(store_id, self.body(req), self.may_approve(req.context.grant))

    @edge
    def on_get(self, req, resp, store_id):
        return self.service.store_pulls(store_id, req.get_param_as_bool("includeArchived") or False)


class PullPaymentItem(PayoutResource):
    """Public, as in BTCPay: the id is the customer's link."""

    @edge
    def on_get(self, req, resp, pull_id):
        return self.service.pull(pull_id)


class StorePullPayment(PayoutResource):
    scopes = {"DELETE": shapes.PULL_PAYMENTS}

    @edge
    def on_delete(self, req, resp, store_id, pull_id):
        return self.service.archive(store_id, pull_id)


class PullPayouts(PayoutResource):
    """The claim (public: whoever holds the link) and the pull payment's payouts."""

    @edge
    def on_post(self, req, resp, pull_id):
        return self.service.claim(pull_id, self.body(req))

    @edge
    def on_get(self, req, resp, pull_id):
        return self.service.pull_payouts(pull_id, req.get_param_as_bool("includeCancelled") or False)


class PullPayoutItem(PayoutResource):
    @edge
    def on_get(self, req, resp, pull_id, payout_id):
        return self.service.pull_payout(pull_id, payout_id)


class InvoiceRefund(PayoutResource):
    scopes = {"POST": shapes.PULL_PAYMENTS}

    @edge
    def on_post(self, req, resp, store_id, invoice_id):
        grant = req.context.grant
        return self.service.refund_invoice(store_id, invoice_id, self.body(req), self.may_approve(grant))


class StorePayouts(PayoutResource):
    scopes = {"GET": (shapes.VIEW_STORE, VIEW_PAYOUTS)}

    @edge
    def on_get(self, req, resp, store_id):
        return self.service.store_payouts(store_id, req.get_param_as_bool("includeCancelled") or False)


class StorePayout(PayoutResource):
    """Approve (POST, with the payout's revision), cancel (DELETE): the merchant's."""

    scopes = {"POST": MANAGE_PAYOUTS, "DELETE": MANAGE_PAYOUTS}

    @edge
    def on_post(self, req, resp, store_id, payout_id):
        return self.service.approve(store_id, payout_id, self.body(req), by=by_key(req.context.grant))

    @edge
    def on_delete(self, req, resp, store_id, payout_id):
        return self.service.cancel(store_id, payout_id)


class StorePayoutPaid(PayoutResource):
    """Mark paid: POST only (a subclass of StorePayout served its DELETE here, which cancelled the payout)."""

    scopes = {"POST": MANAGE_PAYOUTS}

    @edge
    def on_post(self, req, resp, store_id, payout_id):
        return self.service.mark_paid(store_id, payout_id)


def unknown_path(req, resp, **params):
    """Any other path under /api/v1: Greenfield's 404 (not the rest of the app's shape)."""
    raise NotFound("%s is not a Greenfield endpoint this server serves" % req.path)
