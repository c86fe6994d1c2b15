"""Greenfield webhooks as a projection of the outbox: in the transaction that writes a
payment's events, the events of the invoices it belongs to are derived and queued as
deliveries to the Greenfield webhooks (rows of the delivery-target table), with
Greenfield's body. The same dispatcher sends them (retries, log, fairness), signed with
each webhook's secret: one outbox, one ledger.

Per payment event: ``payment.received`` -> InvoiceReceivedPayment, ``payment.confirmed``
-> InvoicePaymentSettled. Then the invoice's status is computed from all its payments
(shapes.invoice_status); a change from what its webhooks last said queues
InvoiceProcessing / InvoiceSettled / InvoiceExpired / InvoiceInvalid.
"""

import json

from ..core import events as event_types
from ..core import status as st
from ..core.money import format_amount
from ..delivery import kinds, queue
from ..payouts import states as payout_states
from ..store.db import chunks, save_fields
from ..store.models import Event, Invoice, InvoicePayment, Payment, Receipt
from . import shapes


def paid_of(payment, conflicted=False):
    """The :class:`shapes.Paid` of a Payment row."""
    return shapes.Paid(
        payment.status,
        payment.amount,
        payment.amount_received,
        payment.amount_pending,
        st.required_amount(payment.amount, payment.tolerance_bp),
        conflicted,
    )


def state_of(invoice, payments, now):
    """``(status, additionalStatus)`` of ``invoice`` with its Payment rows, at ``now``.

    The receipts are read only when nothing counts on any payment (a double spend is then
    the one thing they can still tell)."""
    conflicted = set()
    if not invoice.marked and payments and all(p.amount_received == 0 for p in payments):
        query = Receipt.select(Receipt.payment).where(
            Receipt.payment.in_([p.id for p in payments]) & (Receipt.state == Receipt.CONFLICTED)
        )
        conflicted = {r.payment_id for r in query}
    paid = [paid_of(p, p.id in conflicted) for p in payments]
    return shapes.invoice_status(paid, invoice.expires_at, now, invoice.marked)


PAYOUT_EVENTS = dict(zip(event_types.PAYOUT_TYPES, shapes.PAYOUT_TYPES))


class Projection:
    """Derives and queues Greenfield deliveries. ``registry`` lists the webhooks;
    ``decimals`` maps a coin to its decimals (for money in payloads)."""

    def __init__(self, registry, decimals, idgen=shapes.new_id):
        self.registry = registry
        self.decimals = decimals
        self.idgen = idgen
        self.kind = kinds.GREENFIELD  # which events a webhook gets, and their body

    # -- the outbox's hook ---------------------------------------------------------

    def project(self, made, payments, now, new=()):
        """Queue the Greenfield deliveries of the events ``made`` (see Outbox); return how many.
        A payment created in this batch (``new``) has no invoice yet: Invoices.create links
        its payments once they are made, and queues InvoiceCreated itself."""
        pids = list(dict.fromkeys(pid for _, pid, _, _, _ in made if pid not in new))
        if not pids:
            return 0
        links = []
        for part in chunks(pids):
            links += list(InvoicePayment.select().where(InvoicePayment.payment.in_(part)))
        if not links:
            return 0
        hooks = [h for h in self.registry.greenfield() if h.enabled]
        by_invoice = self._by_invoice(made, {link.payment_id: link for link in links})
        # The invoices and all their payments (other methods' too) in two queries, and their
        # deliveries in one insert per 200: a block may pay thousands of invoices.
        invoice_ids = list(by_invoice)
        siblings = payments_of(invoice_ids)
        rows, changed = [], []
        for part in chunks(invoice_ids):
            for invoice in Invoice.select().where(Invoice.id.in_(part)):
                queued = self._invoice(invoice, by_invoice[invoice.id], siblings[invoice.id], payments, now, changed)
                rows += self.rows(invoice, queued, hooks, now)
        save_fields(Invoice, [Invoice.status, Invoice.additional_status, Invoice.updated_at], changed)
        return queue.queue(rows, now)

    def project_payouts(self, made, now):
        """Queue the payout webhooks (PayoutCreated, PayoutApproved, PayoutUpdated) of the
        payout events ``made`` (``(Event row, payout snapshot)``, see PayoutEvents); return
        how many. Every webhook of the store gets them (the gateway is one store)."""
        hooks = [h for h in self.registry.greenfield() if h.enabled]
        if not hooks:
            return 0
        rows = []
        for event, snapshot in made:
            kind = PAYOUT_EVENTS.get(event.type)
            if kind is None:
                continue
            subject = {
                "storeId": None,
                "payoutId": snapshot["id"],
                "pullPaymentId": snapshot.get("pull_payment_id") or "",
                "payoutState": payout_states.GREENFIELD[snapshot["state"]],
            }
            for hook in hooks:
                if not self.kind.wants(hook, kind):
                    continue
                did = self.idgen()
                body = self.kind.body(hook, kind, dict(subject, storeId=hook.store_id), {}, did, now)
                row = dict(event=event.id, payment=None, payout_id=snapshot["id"], sequence=event.sequence)
                rows.append(dict(row, url=hook.url, body=body, target=hook.id, public_id=did))
        return queue.queue(rows, now)

    def _by_invoice(self, made, invoice_of):
        """The events ``made`` of invoices' payments (``invoice_of``: payment id -> link), by
        invoice: ``(event row id, payment id, sequence, type, data, link)``."""
        ids = self._event_ids([m[0] for m in made if m[1] in invoice_of])
        by_invoice = {}
        for event_id, pid, seq, type, data in made:
            link = invoice_of.get(pid)
            if link is not None:
                item = (ids[event_id], pid, seq, type, json.loads(data) if isinstance(data, str) else data, link)
                by_invoice.setdefault(link.invoice_id, []).append(item)
        return by_invoice

    def _event_ids(self, keys):
        found = {}
        for part in chunks(keys):
            query = Event.select(Event.id, Event.event_id).where(Event.event_id.in_(part))
            found.update({row.event_id: row.id for row in query})
        return found

    def _invoice(self, invoice, items, rows, payments, now, changed):
        """Return the invoice's events for ``items`` (and its status change, which is
        appended to ``changed``); ``rows`` are its payments."""
        queued = []  # (type, extra, event row id, payment id, sequence)
        for event_row, pid, seq, type, data, link in items:
            if type in (event_types.RECEIVED, event_types.CONFIRMED):
                payment = payments.get(pid) or next(p for p in rows if p.id == pid)
                extra = {
                    "afterExpiration": now >= invoice.expires_at,
                    "paymentMethodId": link.method,
                    "paymentMethod": link.method,  # the name of older BTCPay versions
                    "payment": self.payment_entry(data, payment, now),
                }
                kind = shapes.RECEIVED_PAYMENT if type == event_types.RECEIVED else shapes.PAYMENT_SETTLED
                queued.append((kind, extra, event_row, pid, seq))
        status, additional = state_of(invoice, rows, now)
        if (status, additional) != (invoice.status, invoice.additional_status):
            moved = status != invoice.status
            invoice.status, invoice.additional_status, invoice.updated_at = status, additional, now
            changed.append(invoice)
            kind = shapes.STATUS_EVENTS.get(status)
            if moved and kind is not None:
                event_row, pid, seq = items[-1][0], items[-1][1], items[-1][2]
                queued.append((kind, status_extra(status, additional, False, rows), event_row, pid, seq))
        return queued

    # -- shared with the service (create, mark) ------------------------------------

    def queue(self, invoice, queued, hooks, now):
        """Insert one delivery per (event, subscribed webhook of the invoice's store); return how many."""
        return queue.queue(self.rows(invoice, queued, hooks, now), now)

    def rows(self, invoice, queued, hooks, now):
        """The delivery rows of ``queued`` events of ``invoice`` for the subscribed ``hooks``."""
        out = []
        subject = {"storeId": invoice.store_id, "invoiceId": invoice.id, "metadata": shapes.loads(invoice.metadata)}
        for type, extra, event_row, pid, seq in queued:
            for hook in hooks:
                if hook.store_id != invoice.store_id or not self.kind.wants(hook, type):
                    continue
                did = self.idgen()
                body = self.kind.body(hook, type, subject, extra, did, now)
                row = dict(event=event_row, payment=pid, sequence=seq, url=hook.url, body=body)
                out.append(dict(row, target=hook.id, public_id=did))
        return out

    def payment_entry(self, data, payment, now):
        """A payment of §3.8 from a receipt event's data (amounts in base units)."""
        decimals = self.decimals.get(payment.currency, 8)
        state = data.get("state")
        return {
            "id": "%s-%s" % (data["txid"], data["vout"]),
            "receivedDate": shapes.unix(now),
            "value": format_amount(data["amount"], decimals),
            "fee": "0",
            "status": receipt_status(state),
            "destination": payment.address,
        }


def payments_of(invoice_ids):
    """``{invoice id: [Payment, ...]}`` in the order the methods were offered, in chunks."""
    siblings = {i: [] for i in invoice_ids}
    for part in chunks(invoice_ids):
        query = Payment.select(Payment, InvoicePayment.invoice).join(InvoicePayment)
        for p in query.where(InvoicePayment.invoice.in_(part)).order_by(InvoicePayment.id):
            siblings[p.invoicepayment.invoice_id].append(p)
    return siblings


def receipt_status(state):
    """A receipt's state as a Greenfield payment status."""
    if state == "confirmed":
        return "Settled"
    if state == "pending":
        return "Processing"
    return "Invalid"


def status_extra(status, additional, manually, payments):
    """The extra fields of a status event (always sent: the plugin reads them unchecked)."""
    if status == shapes.PROCESSING:
        return {"overPaid": additional == shapes.PAID_OVER}
    if status == shapes.SETTLED:
        return {"overPaid": additional == shapes.PAID_OVER, "manuallyMarked": manually}
    if status == shapes.EXPIRED:
        return {"partiallyPaid": any(p.amount_received > 0 for p in payments)}
    return {"manuallyMarked": manually}
