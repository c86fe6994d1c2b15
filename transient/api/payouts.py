"""The payouts routes: ``/payouts`` (list, record), one payout (read, approve, cancel, mark
paid), ``/payments/{id}/refund`` and ``/pull-payments/{id}``. Reading needs
``payouts:read``; anything that may make money leave needs ``payouts:approve``."""

import falcon

from ..core.errors import ValidationError
from ..core.keys import PAYOUTS_APPROVE, PAYOUTS_READ
from ..payouts.service import by_key
from .resources import has_body, read_json


def add_routes(app, service, refunds, batches, max_body):
    app.add_route("/payouts", Payouts(service, max_body))
    app.add_route("/payouts/{payout_id}", PayoutItem(service))
    for action in ("approve", "cancel", "mark-paid"):
        app.add_route("/payouts/{payout_id}/%s" % action, PayoutAction(service, action, max_body))
    app.add_route("/payments/{payment_id}/refund", Refund(service, refunds, max_body))
    app.add_route("/pull-payments/{pull_id}", PullPaymentItem(service))
    app.add_route("/payout-batches", BatchList(batches))
    app.add_route("/payout-batches/{batch_id}", BatchItem(batches, max_body))
    app.add_route("/payout-batches/{batch_id}/psbt", BatchItem(batches, max_body))


class Payouts:
    scopes = {"GET": PAYOUTS_READ, "POST": PAYOUTS_APPROVE}

    def __init__(self, service, max_body):
        self.service = service
        self.max_body = max_body

    def on_get(self, req, resp):
        rows = self.service.list(req.get_param("state"), req.get_param("currency"), req.get_param("limit"))
        resp.media = {"success": True, "payouts": [self.service.render(p) for p in rows]}

    def on_post(self, req, resp):
        body = read_json(req, self.max_body)
        payout, created = self.service.create(body, req.get_header("Idempotency-Key"))
        resp.status = falcon.HTTP_201 if created else falcon.HTTP_200
        if not created:
            resp.set_header("Idempotent-Replayed", "true")
        resp.location = "/payouts/%s" % payout.id
        resp.media = {"success": True, "payout": self.service.render(payout)}


class PayoutItem:
    scopes = {"GET": PAYOUTS_READ}

    def __init__(self, service):
        self.service = service

    def on_get(self, req, resp, payout_id):
        resp.media = {"success": True, "payout": self.service.render(self.service.get(payout_id))}


class PayoutAction:
    """POST /payouts/{id}/approve (body: optional ``{"revision": n}``), /cancel, /mark-paid."""

    scopes = {"POST": PAYOUTS_APPROVE}

    def __init__(self, service, action, max_body):
        self.service = service
        self.action = action
        self.max_body = max_body

    def on_post(self, req, resp, payout_id):
        body = read_json(req, self.max_body) if has_body(req) else {}
        if not isinstance(body, dict) or set(body) - {"revision"}:
            raise ValidationError(
                "unknown field", sorted(set(body) - {"revision"})[0] if isinstance(body, dict) else None
            )
        if self.action == "approve":
            revision = body.get("revision")
            if revision is not None and (isinstance(revision, bool) or not isinstance(revision, int)):
                raise ValidationError("must be an integer", "revision")
            payout = self.service.approve(payout_id, revision, by=by_key(req.context.grant))
        elif self.action == "cancel":
            payout = self.service.cancel(payout_id)
        else:
            payout = self.service.mark_paid(payout_id)
        resp.media = {"success": True, "payout": self.service.render(payout)}


class Refund:
    scopes = {"POST": PAYOUTS_APPROVE}

    def __init__(self, service, refunds, max_body):
        self.service = service
        self.refunds = refunds
        self.max_body = max_body

    def on_post(self, req, resp, payment_id):
        body = read_json(req, self.max_body) if has_body(req) else {}
        pull, payout, created = self.refunds.refund(payment_id, body, req.get_header("Idempotency-Key"))
        resp.status = falcon.HTTP_201 if created else falcon.HTTP_200
        if not created:
            resp.set_header("Idempotent-Replayed", "true")
        resp.location = "/pull-payments/%s" % pull.id
        resp.media = {
            "success": True,
            "pull_payment": self.service.render_pull(pull),
            "payout": self.service.render(payout) if payout is not None else None,
        }


class PullPaymentItem:
    scopes = {"GET": PAYOUTS_READ}

    def __init__(self, service):
        self.service = service

    def on_get(self, req, resp, pull_id):
        pull = self.service.get_pull(pull_id)
        resp.media = {
            "success": True,
            "pull_payment": self.service.render_pull(pull),
            "payouts": [self.service.render(p) for p in self.service.list(pull_id=pull.id, limit=500)],
        }


class BatchList:
    scopes = {"GET": PAYOUTS_READ}

    def __init__(self, batches):
        self.batches = batches

    def on_get(self, req, resp):
        rows = self.batches.list(req.get_param("state"))
        resp.media = {"success": True, "batches": [self.batches.render(b) for b in rows]}


class BatchItem:
    """GET a batch (a watch-only one with its unsigned PSBT); POST ``{"psbt": signed}``
    to its ``/psbt``: checked, then broadcast."""

    scopes = {"GET": PAYOUTS_READ, "POST": PAYOUTS_APPROVE}

    def __init__(self, batches, max_body):
        self.batches = batches
        self.max_body = max(max_body, 4 * 2**20)  # a PSBT of 1 000 inputs is a few MB

    def on_get(self, req, resp, batch_id):
        resp.media = {"success": True, "batch": self.batches.render(self.batches.get(batch_id))}

    def on_post(self, req, resp, batch_id):
        if not req.path.endswith("/psbt"):
            raise falcon.HTTPMethodNotAllowed(["GET"])
        body = read_json(req, self.max_body)
        if not isinstance(body, dict) or set(body) != {"psbt"}:
            raise ValidationError('send {"psbt": "<base64 of the signed PSBT>"}', "psbt")
        batch = self.batches.submit(batch_id, body["psbt"])
        resp.media = {"success": True, "batch": self.batches.render(batch)}
