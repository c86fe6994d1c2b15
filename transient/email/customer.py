"""The customer's e-mails: an outbox projection (``Outbox(projections=[...])``) that turns a
payment's events into ``mailto:`` deliveries in the events' own transaction, for a payment
with an ``email``:

- ``paid``: its status became PAID or OVERPAID (a receipt: amount, transactions);
- ``underpaid``: its status became UNDERPAID (what is due, with the checkout link);
- ``paid_late``: funds arrived after it expired (the merchant decides);
- ``refund_sent``: a payout refunding it went out (its transaction);
- ``refund_claim``: a refund of it can be claimed (the claim page's link): found by
  :class:`RefundClaims` with the merchant's alerts, written once like them.

Each kind can be switched off (``[email] customer``). At most ``rate_limit`` messages an
hour go to one address; more wait (queued with a later first attempt), none is dropped.
The language is the payment's ``metadata.language`` (Greenfield: the checkout's
``defaultLanguage``), one of the checkout's five, else English.
"""

import datetime
import json

from ..core import events as event_types
from ..core import status as st
from ..core.money import format_amount
from ..delivery import queue
from ..store.db import chunks
from ..store.models import Delivery, Event, Payment, Receipt
from . import compose

HOUR = datetime.timedelta(hours=1)


def kind_of(event_type, data):
    """The e-mail an event makes (``paid``, ``underpaid``, ``paid_late``) or None."""
    if event_type == event_types.STATUS_CHANGED:
        to = data.get("to")
        if to in st.PAID_STATUSES:
            return "paid"
        if to == st.UNDERPAID:
            return "underpaid"
    elif event_type == event_types.LATE:
        return "paid_late"
    return None


class CustomerMail:
    """Queues the customer's e-mails; ``decimals`` maps a currency to its decimals."""

    def __init__(self, sender, kinds, rate_limit, public_url, decimals):
        self.sender = sender
        self.kinds = frozenset(kinds)
        self.rate_limit = rate_limit
        self.base_url = (public_url or "").rstrip("/")
        self.decimals = decimals

    def project(self, made, payments, now, new=()):
        """Queue the e-mails of the events ``made`` (see Outbox); return how many."""
        wanted = []
        for event_id, pid, seq, type, data in made:
            payment = payments.get(pid)
            if payment is None or not getattr(payment, "email", None):
                continue
            kind = kind_of(type, json.loads(data) if isinstance(data, str) else data)
            if kind in self.kinds:
                wanted.append((event_id, payment, seq, kind))
        if not wanted:
            return 0
        ids = _event_ids([w[0] for w in wanted])
        rows, counts = [], {}
        for event_id, payment, seq, kind in wanted:
            url = "mailto:" + payment.email
            text = self.message(kind, payment, self._values(kind, payment), "%s.%s" % (event_id, kind), now)
            rows.append(
                dict(event=ids[event_id], payment=payment.id, sequence=seq, url=url, body=text)
                | self._later(url, counts, now)
            )
        return queue.queue(rows, now)

    def project_payouts(self, made, now):
        """Queue ``refund_sent`` for the payout events ``made`` (``(Event row, snapshot)``)
        that sent a refund of a payment with an ``email``; return how many."""
        if "refund_sent" not in self.kinds:
            return 0
        rows = []
        for event, snapshot in made:
            data = json.loads(event.data or "{}")
            if event.type != event_types.PAYOUT_UPDATED or data.get("to") != "broadcast":
                continue
            payment = Payment.get_or_none(Payment.id == snapshot["payment_id"]) if snapshot.get("payment_id") else None
            if payment is None or not payment.email:
                continue
            values = dict(self._values("refund_sent", payment), amount=snapshot["amount"])
            values["transactions"] = [snapshot["txid"]] if snapshot.get("txid") else []
            url = "mailto:" + payment.email
            text = self.message("refund_sent", payment, values, "%s.refund_sent" % event.event_id, now)
            row = dict(event=event.id, payment=None, payout_id=snapshot["id"], sequence=event.sequence, url=url)
            rows.append(dict(row, body=text) | self._later(url, {}, now))
        return queue.queue(rows, now)

    def message(self, kind, payment, values, key, now):
        """The message ``kind`` about ``payment`` to its customer, in their language."""
        lang = compose.language(_metadata(payment).get("language"))
        return compose.message(kind, lang, self.sender, payment.email, values, key, now)

    def values(self, kind, payment):
        """The template values of the message ``kind`` about ``payment``."""
        return self._values(kind, payment)

    def _values(self, kind, payment):
        money = lambda units: format_amount(units, self.decimals.get(payment.currency, 8))  # noqa: E731
        need = st.required_amount(payment.amount, payment.tolerance_bp)
        due = max(0, payment.amount - payment.amount_received) if payment.amount_received < need else 0
        metadata = _metadata(payment)
        order = metadata.get("order_id", metadata.get("orderId"))
        values = {
            "payment_id": str(payment.id),
            "order_id": str(order)[:100] if order is not None else None,
            "currency": payment.currency,
            "amount": money(payment.amount_received if kind != "underpaid" else payment.amount),
            "received": money(payment.amount_received),
            "due": money(due),
            "link": "%s/pay/%s" % (self.base_url, payment.id),
            "transactions": [],
        }
        if kind == "paid":
            query = Receipt.select(Receipt.txid).where(
                (Receipt.payment == payment.id) & Receipt.state.in_(Receipt.COUNTED)
            )
            values["transactions"] = sorted({r.txid for r in query})
        return values

    def _later(self, url, counts, now):
        """``{"next_attempt_at": ...}`` past the hour's limit for ``url``, else nothing."""
        if url not in counts:
            recent = Delivery.select().where((Delivery.url == url) & (Delivery.created_at > now - HOUR))
            counts[url] = recent.count()
        counts[url] += 1
        over = counts[url] - self.rate_limit
        return {} if over <= 0 else {"next_attempt_at": now + HOUR * ((over - 1) // self.rate_limit + 1)}


def _metadata(payment):
    try:
        data = json.loads(payment.metadata or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _event_ids(keys):
    found = {}
    for part in chunks(keys):
        query = Event.select(Event.id, Event.event_id).where(Event.event_id.in_(part))
        found.update({e.event_id: e.id for e in query})
    return found
