"""Refunds and payouts as a manager acts on them: the payouts waiting for approval (and the
newest others), approved or cancelled here through the payouts service, each audited on
the payout's payment; and a watch-only coin's batches waiting for a signature, whose PSBT
is downloaded here and uploaded signed (payouts.batches checks and broadcasts it, as for
the API and the CLI)."""

import base64
import binascii

import falcon

from ...core.errors import Conflict, NotFound, TransientError, ValidationError
from ...payouts.service import by_user
from . import web

STATES = ("awaiting_approval", "approved", "awaiting_signature", "broadcast", "completed", "cancelled", "failed")


class Refunds(web.Page):
    def on_get(self, req, resp):
        session = self.session(req, resp)
        if session is None:
            return
        payouts = self.dash.payouts
        state = req.get_param("state") or "awaiting_approval"
        if state not in STATES:
            state = "awaiting_approval"
        rows = [payouts.render(p) for p in payouts.list(state=state, limit=100)]
        web.render(
            req,
            resp,
            self.dash,
            "refunds.html",
            session,
            current="refunds",
            state=state,
            states=STATES,
            payouts=rows,
            batches=self.unsigned(),
            done=req.get_param("done") or "",
            error=req.get_param("error") or "",
            audit=self.dash.accounts.audit_of("payout", "all"),
        )

    def unsigned(self):
        batches = self.dash.batches
        return [batches.render(b) for b in batches.list("unsigned")] if batches is not None else []


class PayoutAction(web.Page):
    """POST {path}/payouts/{id}/approve or /cancel (a manager's)."""

    def on_post(self, req, resp, payout_id, action):
        acting = self.acting(req, resp)
        if acting is None:
            return
        session, data = acting
        payouts = self.dash.payouts
        if action not in ("approve", "cancel"):
            return web.refuse(req, resp, self.dash, falcon.HTTP_404, "No such action.", session)
        try:
            if action == "approve":
                revision = data.get("revision")
                number = int(revision) if revision and revision.isdigit() else None
                payout = payouts.approve(payout_id, number, by=by_user(session.user.email))
            else:
                payout = payouts.cancel(payout_id)
        except NotFound:
            return web.refuse(req, resp, self.dash, falcon.HTTP_404, "No such payout.", session)
        except (Conflict, ValidationError) as exc:
            return web.redirect(resp, "%s/refunds?error=%s" % (self.dash.path, falcon.uri.encode_value(exc.message)))
        # After the payouts service's own transaction (it wakes the sender on commit).
        with web.write_transaction(self.dash.db):
            self.audit(req, session, "payout." + action, "payout", "all", payout=payout.id, amount=payout.amount)
            if payout.payment_id:
                self.audit(req, session, "payout." + action, "payment", payout.payment_id, payout=payout.id)
        web.redirect(resp, "%s/refunds?done=%s" % (self.dash.path, action))


def psbt_text(upload):
    """The base64 PSBT of an upload: a binary .psbt file (BIP 174's magic bytes) encoded,
    anything else taken as the base64 text a wallet exports."""
    if isinstance(upload, bytes) and upload.startswith(b"psbt\xff"):
        return base64.b64encode(upload).decode()
    if isinstance(upload, bytes):
        try:
            return upload.decode("ascii").strip()
        except UnicodeDecodeError:
            return ""
    return (upload or "").strip()


class BatchPsbt(web.Page):
    """GET {path}/batches/{id}/psbt: the unsigned PSBT as a file (binary, as BIP 174 writes
    it); POST: the signed one, a file or pasted text, checked and broadcast (a manager's)."""

    role = act = web.MANAGER

    def on_get(self, req, resp, batch_id):
        session = self.session(req, resp)
        if session is None:
            return
        try:
            batch = self.dash.batches.render(self.dash.batches.get(batch_id))
        except NotFound:
            return web.refuse(req, resp, self.dash, falcon.HTTP_404, "No such batch.", session)
        if not batch["psbt"]:
            return web.refuse(req, resp, self.dash, falcon.HTTP_409, "This batch waits for no signature.", session)
        resp.set_headers(web.HEADERS)
        resp.content_type = "application/octet-stream"
        resp.downloadable_as = "payouts-%s-%s.psbt" % (batch["currency"], batch["id"])
        resp.data = base64.b64decode(batch["psbt"])

    def on_post(self, req, resp, batch_id):
        acting = self.acting(req, resp)
        if acting is None:
            return
        session, data = acting
        signed = psbt_text(data.get("file") or data.get("psbt"))
        try:
            base64.b64decode(signed, validate=True)
        except binascii.Error:
            signed = ""
        if not signed:
            return self.back(resp, error="psbt: must be a PSBT file or its base64 text")
        try:
            batch = self.dash.batches.submit(batch_id, signed)
        except NotFound:
            return web.refuse(req, resp, self.dash, falcon.HTTP_404, "No such batch.", session)
        except (Conflict, ValidationError) as exc:
            return self.back(resp, error="%s: %s" % (exc.field, exc.message))
        with web.write_transaction(self.dash.db):
            self.audit(req, session, "batch.submit", "payout", "all", batch=batch.id, txid=batch.txid)
        self.back(resp, done="signed")

    def back(self, resp, **query):
        web.redirect(resp, "%s/refunds?%s" % (self.dash.path, falcon.to_query_str(query, prefix=False)))


class PaymentRefund(web.Page):
    """POST {path}/payments/{id}/refund (a manager's): the refund of a payment, made by the
    payouts' Refunds as ``POST /payments/{id}/refund`` makes it: a claim link for the
    customer, or with a destination a payout awaiting approval. Audited on the payment."""

    def on_post(self, req, resp, payment_id):
        acting = self.acting(req, resp)
        if acting is None:
            return
        session, data = acting
        back = "%s/payments/%s" % (self.dash.path, payment_id)
        body = {"variant": data.get("variant") or "RateThen"}
        for name in ("amount", "destination", "currency"):
            if (data.get(name) or "").strip():
                body[name] = data[name].strip()
        try:
            pull, payout, _ = self.dash.refunds.refund(payment_id, body)
        except NotFound:
            return web.refuse(req, resp, self.dash, falcon.HTTP_404, "No such payment.", session)
        except TransientError as exc:  # bad input, nothing to refund, no rate: nothing was written
            query = falcon.to_query_str({"error": "%s: %s" % (exc.field, exc.message)}, prefix=False)
            return web.redirect(resp, "%s?%s#refund" % (back, query))
        with web.write_transaction(self.dash.db):
            detail = {"pull": pull.id, "amount": pull.amount, "payout": payout.id if payout else None}
            self.audit(req, session, "payment.refund", "payment", pull.payment_id or payment_id, **detail)
        if payout is not None:
            return web.redirect(resp, "%s/refunds?done=refund&state=%s" % (self.dash.path, payout.state))
        web.redirect(resp, "%s?done=refund&pull=%s#refund" % (back, pull.id))
