"""The Greenfield store, server and invoices over the payments service.

An invoice offers one Transient payment per payment method it allows (each its own
address and locked amount, made by :class:`~transient.payments.service.PaymentService`):
whichever is paid settles it, and funds on any of them are credited by the ledger as
always. The invoice row keeps what Greenfield needs besides (metadata, checkout options,
the merchant's mark) and its status, which the projection keeps true at each payment event
(so lists filter on it in SQL).
"""

import datetime
import functools
import json
import operator

from peewee import IntegrityError

from ..core.clock import iso
from ..core.errors import NodeError, NotFound, RateUnavailable, TransientError, ValidationError
from ..core.money import format_amount
from ..core.status import required_amount
from ..core.text import text_problem
from ..delivery.outbox import store_event
from ..store.db import write_transaction
from ..store.models import ChainState, Event, GreenfieldStore, Invoice, InvoicePayment, Receipt
from ..store.models import confirmations as receipt_confirmations
from . import shapes
from .projection import payments_of, receipt_status, state_of, status_extra
from .reading import int_param, number, read_request, span

MAX_TAKE = 1000
SYNC_FRESH = datetime.timedelta(minutes=2)  # a coin synced this recently counts as synched
# A payments-service field -> the Greenfield request path it comes from (422 paths).
PATHS = {
    "amount": "amount",
    "price": "amount",
    "price_currency": "currency",
    "currency": "currency",
    "metadata": "metadata",
    "confirmations": "checkout.speedPolicy",
    "underpayment_tolerance": "checkout.paymentTolerance",
    "expires_at": "checkout.expirationMinutes",
    "redirect_url": "checkout.redirectURL",
    "email": "metadata.buyerEmail",
}


class Unknown(NotFound):
    """A store, invoice, webhook or delivery this key cannot see (404): ``code`` and text."""

    def __init__(self, what):
        super().__init__("The %s was not found" % what)
        self.code = "%s-not-found" % what


class Refused(TransientError):
    """A request understood but refused by a business rule (400 ``{code, message}``)."""

    http_status = 400

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def store_id(db, configured, clock, idgen=shapes.new_id):
    """The store id: ``configured`` (``[greenfield] store_id``), else the one generated
    once and kept in the database (made here the first time it is asked for)."""
    if configured:
        return configured
    row = GreenfieldStore.select().order_by(GreenfieldStore.created_at, GreenfieldStore.id).first()
    if row is None:
        try:
            with write_transaction(db):
                GreenfieldStore.create(id=idgen(44), created_at=clock())
        except IntegrityError:
            pass  # another process made it first
        # The oldest row wins, should two processes have made one at once.
        row = GreenfieldStore.select().order_by(GreenfieldStore.created_at, GreenfieldStore.id).first()
    return row.id


class Greenfield:
    """One store (the gateway) and its invoices.

    ``payments`` is the PaymentService; ``options`` the ``[greenfield]`` settings as a
    dict (``store_id``, ``store_name``, ...); ``projection`` queues the webhooks;
    ``base_url`` is where customers reach the pages (``[server] public_url``)."""

    def __init__(self, payments, db, projection, registry, options, base_url, clock, idgen=shapes.new_id):
        self.payments = payments
        self.coins = payments.coins
        self.db = db
        self.projection = projection
        self.registry = registry
        self.options = options
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.idgen = idgen
        self._store_id = options.get("store_id")

    # -- the store -------------------------------------------------------------------

    @property
    def store_id(self):
        """The configured store id, or the one generated once and kept in the database."""
        if self._store_id is None:
            self._store_id = store_id(self.db, None, self.clock, self.idgen)
        return self._store_id

    def check_store(self, store_id):
        """Raise Unknown unless ``store_id`` is this gateway's store."""
        if store_id != self.store_id:
            raise Unknown("store")

    def store(self):
        """The store object of §3.3 (the whole BTCPay shape: clients have typed getters)."""
        o = self.options
        return {
            "id": self.store_id,
            "name": o["store_name"],
            "website": None,
            "defaultCurrency": o["default_currency"],
            "invoiceExpiration": o["expiration_minutes"] * 60,
            "monitoringExpiration": o["monitoring_minutes"] * 60,
            "displayExpirationTimer": 300,
            "speedPolicy": o["speed_policy"],
            "paymentTolerance": number(o["payment_tolerance"]),
            "defaultLang": "en",
            "defaultPaymentMethod": shapes.method_id(sorted(self.coins)[0]) if self.coins else None,
            "archived": False,
            "anyoneCanCreateInvoice": False,
            "requiresRefundEmail": False,
            "checkoutType": "V2",
            "receipt": {"enabled": True, "showQR": None, "showPayments": None},
            "lightningAmountInSatoshi": False,
            "lightningPrivateRouteHints": False,
            "onChainWithLnInvoiceFallback": False,
            "redirectAutomatically": False,
            "showRecommendedFee": False,
            "recommendedFeeBlockTarget": 1,
            "htmlTitle": None,
            "networkFeeMode": "Never",
            "payJoinEnabled": False,
            "lazyPaymentMethods": False,
            "spread": 0,
            "paymentMethodCriteria": [],
        }

    def payment_methods(self):
        """The store's payment methods: one on-chain method per configured coin."""
        return [{"paymentMethodId": shapes.method_id(c), "enabled": True} for c in sorted(self.coins)]

    def server_info(self, version):
        """§3.1: ``fullySynched`` when every coin synced recently without an error since."""
        now = self.clock()
        states = {s.currency: s for s in ChainState.select().where(ChainState.currency.in_(list(self.coins)))}
        status = []
        for code in sorted(self.coins):
            s = states.get(code)
            ok = (
                s is not None
                and s.last_sync_at is not None
                and now - s.last_sync_at <= SYNC_FRESH
                and (s.last_error_at is None or s.last_error_at < s.last_sync_at)
            )
            height = s.cursor_height if s is not None and s.cursor_height is not None else 0
            status.append(
                {
                    "paymentMethodId": shapes.method_id(code),
                    "cryptoCode": code,
                    "chainHeight": height,
                    "syncHeight": height,
                    "nodeInformation": None,
                    "available": bool(ok),
                }
            )
        return {
            "version": shapes.VERSION,
            "transientVersion": version,
            "onion": None,
            "supportedPaymentMethods": [shapes.method_id(c) for c in sorted(self.coins)],
            "fullySynched": bool(status) and all(s["available"] for s in status),
            "syncStatus": status,
        }

    # -- invoices --------------------------------------------------------------------

    def create(self, store_id, body):
        """Create an invoice from a Greenfield request; return its object (§3.5)."""
        self.check_store(store_id)
        request = read_request(body, self.coins, self.options)
        # Written before any payment is made: nothing is left behind if it cannot be.
        metadata, checkout = shapes.dumps(request["metadata"]), json.dumps(request["checkout"])
        now = self.clock()
        invoice_id = self.idgen()
        expires_at = now + span(request["expiration_minutes"])
        made, failed = [], None
        for code in request["methods"]:
            try:
                made.append((code, self._payment(code, request, invoice_id, expires_at)))
            except (RateUnavailable, NodeError) as exc:
                # A coin without a usable rate or node is left out, as BTCPay leaves out a
                # method without a rate; with none left the invoice is refused.
                failed = failed or exc
        if not made:
            raise failed
        row = dict(id=invoice_id, store_id=self.store_id, amount=request["amount"], currency=request["currency"])
        row.update(metadata=metadata, order_id=request["order_id"], checkout=checkout, created_at=now)
        row.update(expires_at=expires_at, monitoring_until=expires_at + span(request["monitoring_minutes"]))

        def invoice_and_links():  # in the payments' transaction: all of it is written, or none
            invoice = Invoice.create(**row, updated_at=now)
            for code, payment in made:
                InvoicePayment.create(invoice=invoice_id, payment=payment.id, method=shapes.method_id(code))
            first = made[0][1]
            created = Event.get((Event.payment == first.id) & (Event.sequence == 1))
            hooks = [h for h in self.registry.greenfield(self.store_id) if h.enabled]
            queued = self.projection.queue(invoice, [(shapes.CREATED, {}, created.id, first.id, 1)], hooks, now)
            return invoice, queued

        invoice, queued = self.payments.store_with([p for _, p in made], invoice_and_links)
        if queued:
            self.payments.outbox.written_one()
        return self.render(invoice, [p for _, p in made], now)

    def _payment(self, code, request, invoice_id, expires_at):
        body = {
            "currency": code,
            "metadata": {
                "greenfield": {"invoiceId": invoice_id, "storeId": self.store_id},
                **({"orderId": request["order_id"]} if request["order_id"] else {}),
                **({"description": request["description"]} if request["description"] else {}),
            },
            "expires_at": iso(expires_at),
            "underpayment_tolerance": request["tolerance"],
        }
        if request["confirmations"] is not None:
            body["confirmations"] = request["confirmations"]
        if request["redirect_url"]:
            body["redirect_url"] = request["redirect_url"]
        buyer = request["metadata"].get("buyerEmail") if isinstance(request["metadata"], dict) else None
        if buyer not in (None, ""):
            body["email"] = buyer  # the customer's e-mails (checked by the payment: a line break is refused)
        language = (request["checkout"] or {}).get("defaultLanguage")
        if isinstance(language, str) and language:
            body["metadata"]["language"] = language[:16]  # the e-mails' language
        if request["currency"] == code:
            body["amount"] = request["amount"]
        else:
            body["price"], body["price_currency"] = request["amount"], request["currency"]
        try:
            return self.payments.prepare(body)  # stored with the invoice, in one transaction
        except ValidationError as exc:
            raise shapes.FieldErrors([(PATHS.get(exc.field, exc.field or "body"), exc.message)]) from None

    def find(self, store_id, invoice_id):
        """The Invoice row ``invoice_id`` of the store, or raise Unknown."""
        self.check_store(store_id)
        invoice = Invoice.get_or_none((Invoice.id == str(invoice_id)) & (Invoice.store_id == self.store_id))
        if invoice is None:
            raise Unknown("invoice")
        return invoice

    def invoice_of(self, payment_id):
        """The id of the invoice that holds payment ``payment_id``, or None."""
        link = (
            InvoicePayment.select(InvoicePayment.invoice).where(InvoicePayment.payment == payment_id).tuples().first()
        )
        return link[0] if link else None

    def get(self, store_id, invoice_id):
        invoice = self.find(store_id, invoice_id)
        return self.render(invoice, payments_of([invoice.id])[invoice.id], self.clock())

    def list(self, store_id, params):
        """§3.7: a bare array, newest first, filtered by orderId/status/dates, paged by skip/take."""
        self.check_store(store_id)
        query = Invoice.select().where(Invoice.store_id == self.store_id)
        orders = params.get("orderId") or []
        if orders:
            query = query.where(Invoice.order_id.in_(orders))
        text = params.get("textSearch")
        if text:
            if len(text) > 200 or text_problem(text):
                raise shapes.FieldErrors([("textSearch", "must be text of at most 200 characters")])
            query = query.where((Invoice.id == text) | (Invoice.order_id == text) | Invoice.metadata.contains(text))
        if params.get("startDate") is not None:
            query = query.where(Invoice.created_at >= shapes.from_unix(params["startDate"], "startDate"))
        if params.get("endDate") is not None:
            query = query.where(Invoice.created_at <= shapes.from_unix(params["endDate"], "endDate"))
        statuses = set(params.get("status") or [])
        unknown = sorted(statuses - set(shapes.STATUSES))
        if unknown:
            raise shapes.FieldErrors(
                [("status", "unknown status %s (one of %s)" % (unknown[0], ", ".join(shapes.STATUSES)))]
            )
        skip = int_param(params.get("skip"), "skip", 0)
        take = int_param(params.get("take"), "take", MAX_TAKE, MAX_TAKE)
        now = self.clock()
        if statuses:
            query = query.where(_status_in(statuses, now))
        query = query.order_by(Invoice.created_at.desc(), Invoice.id.desc())
        rows = list(query.offset(skip).limit(take))  # filtered and paged in SQL
        payments = payments_of([i.id for i in rows])
        return [self.render(i, payments[i.id], now) for i in rows]

    def mark(self, store_id, invoice_id, body):
        """§3.9: mark the invoice Settled or Invalid; return it. The ledger is untouched."""
        if not isinstance(body, dict):
            raise shapes.FieldErrors([("status", "is required: Settled or Invalid")])
        wanted = body.get("status")
        if wanted not in shapes.MARKABLE:
            raise shapes.FieldErrors([("status", "must be Settled or Invalid")])
        invoice = self.find(store_id, invoice_id)
        now = self.clock()
        with write_transaction(self.db):
            invoice = Invoice.get(Invoice.id == invoice.id)
            payments = payments_of([invoice.id])[invoice.id]
            status, _ = state_of(invoice, payments, now)
            if status == wanted:
                raise Refused("invoice-invalid-state", "The invoice is already %s" % wanted)
            invoice.marked = invoice.status = wanted
            invoice.additional_status, invoice.updated_at = shapes.MARKED, now
            invoice.save(only=[Invoice.marked, Invoice.status, Invoice.additional_status, Invoice.updated_at])
            first = payments[0]
            event, seq = store_event(first.id, "greenfield.marked", {"invoice": invoice.id, "status": wanted}, now)
            kind = shapes.STATUS_EVENTS[wanted]
            extra = status_extra(wanted, shapes.MARKED, True, payments)
            hooks = [h for h in self.registry.greenfield(self.store_id) if h.enabled]
            queued = self.projection.queue(invoice, [(kind, extra, event, first.id, seq)], hooks, now)
        if queued:
            self.payments.outbox.written_one()
        return self.render(invoice, payments, now)

    def methods(self, store_id, invoice_id):
        """§3.8: one entry per payment method of the invoice, with its payments."""
        invoice = self.find(store_id, invoice_id)
        payments = payments_of([invoice.id])[invoice.id]
        links = {
            link.payment_id: link.method for link in InvoicePayment.select().where(InvoicePayment.invoice == invoice.id)
        }
        receipts = {}
        for r in Receipt.select().where(Receipt.payment.in_([p.id for p in payments])).order_by(Receipt.id):
            receipts.setdefault(r.payment_id, []).append(r)
        tips = {s.currency: s.cursor_height for s in ChainState.select()}
        return [self._method(invoice, p, links[p.id], receipts.get(p.id, []), tips.get(p.currency)) for p in payments]

    def _method(self, invoice, payment, method, receipts, tip):
        backend, _ = self.coins.get(payment.currency, (None, None))
        decimals = backend.decimals if backend else 8
        money = lambda units: format_amount(units, decimals)  # noqa: E731
        need = _need(payment)
        due = max(0, payment.amount - payment.amount_received) if payment.amount_received < need else 0
        entries = []
        for r in receipts:
            status = receipt_status(r.state)
            if r.state == Receipt.PENDING and receipt_confirmations(r, tip or 0) >= payment.confirmations_required:
                status = "Settled"
            entries.append(
                {
                    "id": "%s-%s" % (r.txid, r.output),
                    "receivedDate": shapes.unix(r.first_seen),
                    "value": money(r.amount),
                    "fee": "0",
                    "status": status,
                    "destination": r.address,
                }
            )
        return {
            "paymentMethodId": method,
            "paymentMethod": method,
            "cryptoCode": payment.currency,
            "currency": payment.currency,
            "destination": payment.address,
            "paymentLink": backend.payment_uri(payment.address, due or payment.amount) if backend else None,
            "rate": payment.rate or "1",
            "paymentMethodPaid": money(payment.amount_received),
            "totalPaid": money(payment.amount_received),
            "due": money(due),
            "amount": money(payment.amount),
            "paymentMethodFee": "0",
            "networkFee": "0",
            "activated": True,
            "additionalData": {},
            "payments": entries,
        }

    def page(self, invoice_id):
        """What the /i/{id} page shows: the invoice and, per method, its payment's id,
        coin, amount and status. Raises Unknown."""
        invoice = Invoice.get_or_none(Invoice.id == str(invoice_id))
        if invoice is None:
            raise Unknown("invoice")
        payments = payments_of([invoice.id])[invoice.id]
        rendered = self.render(invoice, payments, self.clock())
        choices = []
        for p in payments:
            backend, _ = self.coins.get(p.currency, (None, None))
            choices.append(
                {
                    "payment_id": str(p.id),
                    "currency": p.currency,
                    "amount": format_amount(p.amount, backend.decimals if backend else 8),
                    "status": p.status,
                }
            )
        return rendered, choices

    def render(self, invoice, payments, now):
        """The invoice object of §3.5, with the status the projection keeps (at ``now``)."""
        status, additional = shapes.status_now(invoice.status, invoice.additional_status, invoice.expires_at, now)
        checkout = json.loads(invoice.checkout)
        checkout["paymentMethods"] = [shapes.method_id(p.currency) for p in payments]
        return {
            "id": invoice.id,
            "storeId": invoice.store_id,
            "amount": invoice.amount,
            "currency": invoice.currency,
            "type": "Standard",
            "checkoutLink": "%s/i/%s" % (self.base_url, invoice.id),
            "status": status,
            "additionalStatus": additional,
            "createdTime": shapes.unix(invoice.created_at),
            "expirationTime": shapes.unix(invoice.expires_at),
            "monitoringExpiration": shapes.unix(invoice.monitoring_until),
            "monitoringTime": shapes.unix(invoice.monitoring_until),
            "archived": False,
            "availableStatusesForManualMarking": shapes.markable(status),
            "metadata": shapes.loads(invoice.metadata),
            "checkout": checkout,
            "receipt": {"enabled": True, "showQR": None, "showPayments": None},
        }


def _status_in(statuses, now):
    """The SQL condition of an invoice whose status at ``now`` is one of ``statuses``: the
    stored one, and New past ``expires_at`` read as Expired (shapes.status_now)."""
    live = Invoice.expires_at > now
    terms = []
    for status in statuses:
        if status == shapes.NEW:
            terms.append((Invoice.status == shapes.NEW) & live)
        elif status == shapes.EXPIRED:
            terms.append(
                (Invoice.status == shapes.EXPIRED) | ((Invoice.status == shapes.NEW) & (Invoice.expires_at <= now))
            )
        else:
            terms.append(Invoice.status == status)
    return functools.reduce(operator.or_, terms)


def _need(payment):
    return required_amount(payment.amount, payment.tolerance_bp)
