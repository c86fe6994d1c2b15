"""Refunds and payouts as a manager acts on them: the payouts waiting for approval (and the
newest others), approved or cancelled here through the payouts service, each audited on
the payout's payment."""

import falcon

from ...core.errors import Conflict, NotFound, ValidationError
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
            done=req.get_param("done") or "",
            error=req.get_param("error") or "",
            audit=self.dash.accounts.audit_of("payout", "all"),
        )


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
