"""The pages every role reads (overview, payments, a payment, webhooks, health) and the
actions a manager takes on them (redeliver, test ping). Each reads the services the API
uses; the figures of the overview come from reports.summary."""

import datetime
from urllib.parse import urlencode

import falcon

from ...core import status as st
from ...core.clock import utcnow
from ...core.errors import NotFound, TransientError, ValidationError
from ...core.redact import redact
from ...delivery import admin
from ...reports import summary
from . import chart, web

WINDOW_DAYS = 14
PAGE = 50


class Overview(web.Page):
    def on_get(self, req, resp):
        session = self.session(req, resp)
        if session is None:
            return
        dash, now = self.dash, utcnow()
        received = summary.received(dash.db, now, dash.zone, dash.decimals, WINDOW_DAYS)
        _, since = summary.days(now, dash.zone, WINDOW_DAYS)
        counts, attention = summary.payment_figures(since)
        web.render(
            req,
            resp,
            dash,
            "overview.html",
            session,
            current="overview",
            days=[d.isoformat() for d in received["days"]],
            charts=[
                chart.bars(code, units, received["days"], dash.decimals.get(code, 8))
                for code, units in sorted(received["coins"].items())
            ],
            fiat=sorted(received["fiat"].items()),
            counts=counts,
            queue=self.queue(attention),
            window=WINDOW_DAYS,
        )

    def queue(self, attention):
        """What needs the merchant now: each item a sentence's parts and the page that fixes it."""
        path, items = self.dash.path, []
        if attention["underpaid"]:
            items.append(("underpaid", attention["underpaid"], path + "/payments?status=UNDERPAID"))
        if attention["late"]:
            items.append(("late", attention["late"], path + "/payments?status=EXPIRED&late=1"))
        failed = len(admin.failed_ids())
        if failed:
            items.append(("failed", failed, path + "/webhooks?state=failed"))
        if self.dash.payouts is not None:
            waiting = len(self.dash.payouts.list(state="awaiting_approval", limit=100))
            if waiting:
                items.append(("refunds", waiting, path + "/refunds"))
        report = self.dash.health()
        for code, coin in sorted(report["coins"].items()):
            if coin.get("node") != "ok":
                items.append(("node_down", code, path + "/health#coin-" + code))
            elif coin.get("tip_height") is not None and (coin.get("cursor_height") or 0) < coin["tip_height"] - 2:
                items.append(("node_behind", code, path + "/health#coin-" + code))
            if not coin.get("watch_only", {}).get("gap_ok", True):
                items.append(("gap", code, path + "/health#coin-" + code))
        rates = report.get("rates") or {"ok": True}
        if not rates.get("ok", True):
            pairs = ", ".join(s["pair"] for s in rates.get("stale", [])) or rates.get("error", "")
            items.append(("rates", pairs, path + "/health#rates"))
        if report.get("database") != "ok":
            items.append(("database", "", path + "/health"))
        return items


def _day(text, field, zone, end=False):
    """A local date (YYYY-MM-DD) as naive UTC: its start, or the next day's for ``end``."""
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise ValidationError("must be a date such as 2026-12-31", field) from None
    day += datetime.timedelta(days=1 if end else 0)
    local = datetime.datetime.combine(day, datetime.time(), zone)
    return local.astimezone(datetime.timezone.utc).replace(tzinfo=None)


class Payments(web.Page):
    def on_get(self, req, resp):
        session = self.session(req, resp)
        if session is None:
            return
        dash = self.dash
        q = {k: (req.get_param(k) or "").strip() for k in ("status", "currency", "from", "to", "q", "cursor", "late")}
        error, rows, cursor = "", [], None
        try:
            if q["q"]:
                rows = dash.payments.search(q["q"], PAGE)
            else:
                rows, cursor = dash.payments.list(
                    status=q["status"] or None,
                    currency=q["currency"] or None,
                    limit=PAGE,
                    cursor=q["cursor"] or None,
                    since=_day(q["from"], "from", dash.zone) if q["from"] else None,
                    until=_day(q["to"], "to", dash.zone, end=True) if q["to"] else None,
                )
        except ValidationError as exc:
            error = "%s: %s" % (exc.field, exc.message)
        rendered = dash.payments.renderer.render_many(rows) if rows else []
        if q["late"]:
            rendered = [p for p in rendered if p["amount_received"] != "0"]
        web.render(
            req,
            resp,
            dash,
            "payments.html",
            session,
            current="payments",
            q=q,
            error=error,
            payments=rendered,
            statuses=st.STATUSES,
            coins=sorted(dash.decimals),
            next_query=_with(q, cursor=cursor) if cursor else "",
            status=falcon.HTTP_400 if error else falcon.HTTP_200,
        )


def _with(q, **over):
    return urlencode({k: v for k, v in dict(q, **over).items() if v})


def _param(req, name):
    """A query parameter, without a fragment a client left on the URL it was sent to."""
    return (req.get_param(name) or "").split("#")[0]


class PaymentPage(web.Page):
    def on_get(self, req, resp, payment_id):
        session = self.session(req, resp)
        if session is None:
            return
        dash = self.dash
        try:
            payment = dash.payments.get(payment_id)
        except (NotFound, ValidationError):
            return web.refuse(req, resp, dash, falcon.HTTP_404, "No such payment.", session)
        rendered = dash.payments.renderer.render(payment)
        events = admin.event_log(payment, dash.payments.renderer)
        web.render(
            req,
            resp,
            dash,
            "payment.html",
            session,
            current="payments",
            p=rendered,
            events=events,
            invoice=dash.invoice_of(payment.id) if dash.invoice_of else None,
            audit=dash.accounts.audit_of("payment", payment.id),
            done=_param(req, "done"),
            error=_param(req, "error"),
            refundable=dash.refunds is not None,
            claim=self.claim_link(_param(req, "pull")),
        )

    def claim_link(self, pull_id):
        """The claim page of the refund just made here (``?pull=``), or ""."""
        if not pull_id or self.dash.payouts is None:
            return ""
        try:
            return self.dash.payouts.view_link(self.dash.payouts.get_pull(pull_id))
        except (NotFound, ValidationError):
            return ""


class Redeliver(web.Page):
    def on_post(self, req, resp, delivery_id):
        acting = self.acting(req, resp)
        if acting is None:
            return
        session, data = acting
        dash = self.dash
        try:
            with web.write_transaction(dash.db):
                delivery = admin.redeliver(delivery_id, dash.db)
                target = delivery.payment_id or "none"
                self.audit(req, session, "delivery.redeliver", "payment", target, delivery=delivery_id)
        except NotFound:
            return web.refuse(req, resp, dash, falcon.HTTP_404, "No such delivery.", session)
        dash.outbox.written_one()
        back = data.get("back") or ""
        if delivery.payment_id and back != "webhooks":
            return web.redirect(resp, "%s/payments/%s?done=redelivered#deliveries" % (dash.path, delivery.payment_id))
        web.redirect(resp, dash.path + "/webhooks?done=redelivered")


class Webhooks(web.Page):
    def on_get(self, req, resp):
        session = self.session(req, resp)
        if session is None:
            return
        state = req.get_param("state") or None
        if state not in (None, "pending", "delivered", "failed"):
            state = None
        deliveries = [admin.render_delivery(d, []) | {"payment_id": d.payment_id} for d in admin.recent(state, PAGE)]
        web.render(
            req,
            resp,
            self.dash,
            "webhooks.html",
            session,
            current="webhooks",
            state=state or "",
            deliveries=deliveries,
            webhook_url=redact(self.dash.webhook_url) if self.dash.webhook_url else "",
            targets=[redact(url) for url in self.dash.targets()],
            audit=self.dash.accounts.audit_of("webhook", "test"),
            done=req.get_param("done") or "",
            ping=None,
        )


class WebhookTest(web.Page):
    def on_post(self, req, resp):
        acting = self.acting(req, resp)
        if acting is None:
            return
        session, _ = acting
        dash = self.dash
        if not dash.webhook_url:
            return web.refuse(req, resp, dash, falcon.HTTP_400, "No [webhook] url is configured.", session)
        try:
            outcome = admin.ping(dash.sender, dash.webhook_url)
        except TransientError as exc:
            return web.refuse(req, resp, dash, falcon.HTTP_400, exc.message, session)
        with web.write_transaction(dash.db):
            self.audit(req, session, "webhook.test", "webhook", "test", ok=outcome.ok, status=outcome.status)
        web.redirect(resp, "%s/webhooks?done=%s" % (dash.path, "ping-ok" if outcome.ok else "ping-failed"))


class Health(web.Page):
    def on_get(self, req, resp):
        session = self.session(req, resp)
        if session is None:
            return
        report = self.dash.health()
        refunds = []
        if self.dash.payouts is not None:
            waiting = self.dash.payouts.list(state="awaiting_approval", limit=PAGE)
            refunds = [self.dash.payouts.render(p) for p in waiting]
        web.render(req, resp, self.dash, "health.html", session, current="health", report=report, refunds=refunds)
