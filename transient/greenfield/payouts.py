"""Greenfield's pull payments and payouts (§3.11-3.12) over Transient's payouts service: a
shop plugin's refund is a pull payment in the coin of the first payment method the store
has (methods it lacks, such as BTC_LN, are ignored), claimed by the customer on its
``viewLink`` page, approved by the merchant. Shapes as the PHP client reads them: money as
decimal strings, ``description`` "" not null, ``period`` 0, ``BOLT11Expiration`` 30."""

from decimal import Decimal

from ..core.errors import NotFound, ValidationError
from ..core.money import format_amount, parse_amount
from ..payouts import amounts, states
from ..store.models import Invoice, InvoicePayment, Payment
from ..store.payouts import PullPayment
from . import shapes
from .invoices import Unknown

PULL_FIELDS = (
    "name",
    "description",
    "amount",
    "currency",
    "period",
    "BOLT11Expiration",
    "autoApproveClaims",
    "startsAt",
    "expiresAt",
    "paymentMethods",
    "payoutMethods",
)
CLAIM_FIELDS = ("destination", "amount", "paymentMethod", "payoutMethodId")
REFUND_FIELDS = (
    "name",
    "description",
    "paymentMethod",
    "payoutMethodId",
    "refundVariant",
    "subtractPercentage",
    "customAmount",
    "customCurrency",
)


class GreenfieldPayouts:
    """``service`` a PayoutService, ``refunds`` its Refunds, ``store_id()`` the store's id,
    ``rates(coin, fiat, spread=False)`` the market rate (fails closed)."""

    def __init__(self, service, refunds, store_id, rates=None):
        self.service = service
        self.refunds = refunds
        self.store_id = store_id
        self.rates = rates

    def check_store(self, store_id):
        if store_id != self.store_id():
            raise Unknown("store")

    # -- pull payments --------------------------------------------------------------

    def create_pull(self, store_id, body, may_approve):
        """§3.11: return the new pull payment's shape. ``autoApproveClaims`` needs a key that
        may approve payouts (``may_approve``); the plugin's key may not, and sends false."""
        self.check_store(store_id)
        body = _object(body, PULL_FIELDS)
        methods = body.get("payoutMethods") or body.get("paymentMethods")
        currency = _text(body.get("currency"), "currency", 10).upper()
        if methods is None and currency in self.service.coins:
            methods = [currency]  # a pull payment in a coin, no methods named: that coin's
        code = self._coin_of(methods, "payoutMethods")
        backend, _ = self.service.coins[code]
        currency = currency or code
        auto = body.get("autoApproveClaims") or False
        if not isinstance(auto, bool):
            raise shapes.FieldErrors([("autoApproveClaims", "must be true or false")])
        if auto and not may_approve:
            raise shapes.FieldErrors([("autoApproveClaims", "this key may not approve payouts")])
        fields = {"store_id": store_id, "auto_approve": auto, "variant": amounts.CUSTOM}
        if currency == code:
            units = parse_amount(_decimal(body.get("amount")), "amount", backend.max_money, backend.decimals)
        else:
            price = _decimal(body.get("amount"))
            rate = self._rate(code, currency)
            units = amounts.coins_for(price, rate, backend.decimals)
            fields.update(price=str(price), price_currency=currency, rate=str(rate))
        if body.get("expiresAt") is not None:
            fields["expires_at"] = shapes.from_unix(body["expiresAt"], "expiresAt")
        fields["name"] = _text(body.get("name"), "name", 255)
        fields["description"] = _text(body.get("description"), "description", 2000)
        pull = self.service.create_pull(code, units, self.service.clock(), **fields)
        return self.pull_shape(pull)

    def refund_invoice(self, store_id, invoice_id, body, may_approve):
        """§3.12 refundInvoice: a pull payment of the invoice's payment in ``paymentMethod``."""
        self.check_store(store_id)
        body = _object(body, REFUND_FIELDS)
        invoice = Invoice.get_or_none((Invoice.id == str(invoice_id)[:32]) & (Invoice.store_id == store_id))
        if invoice is None:
            raise Unknown("invoice")
        code = self._coin_of([body.get("payoutMethodId") or body.get("paymentMethod") or "BTC"], "paymentMethod")
        link = (
            InvoicePayment.select(InvoicePayment, Payment)
            .join(Payment)
            .where((InvoicePayment.invoice == invoice.id) & (Payment.currency == code))
            .first()
        )
        if link is None:
            raise shapes.FieldErrors([("paymentMethod", "the invoice has no %s payment" % shapes.method_id(code))])
        variant = body.get("refundVariant") or amounts.CURRENT_RATE
        if variant not in amounts.VARIANTS:
            raise shapes.FieldErrors([("refundVariant", "must be one of %s" % ", ".join(amounts.VARIANTS))])
        percent = _percent(body.get("subtractPercentage"))
        custom = _decimal(body["customAmount"]) if body.get("customAmount") is not None else None
        custom_currency = body.get("customCurrency")
        if custom_currency is not None and not isinstance(custom_currency, str):
            raise shapes.FieldErrors([("customCurrency", "must be a currency code")])
        payment = link.payment
        units, rate = self.refunds.units(payment, variant, custom, custom_currency, percent)
        pull = self.service.create_pull(
            code,
            units,
            self.service.clock(),
            name=_text(body.get("name"), "name", 255) or "Refund of invoice %s" % invoice.id,
            description=_text(body.get("description"), "description", 2000),
            payment_id=payment.id,
            invoice_id=invoice.id,
            store_id=store_id,
            variant=variant,
            rate=str(rate) if rate is not None else None,
        )
        return self.pull_shape(pull)

    def pull(self, pull_id):
        try:
            return self.pull_shape(self.service.get_pull(pull_id))
        except NotFound as exc:
            raise Unknown("pullpayment") from exc

    def archive(self, store_id, pull_id):
        """Archive a pull payment: no more claims (its payouts stay)."""
        self.check_store(store_id)
        pull = self.service.get_pull(pull_id)
        if pull.store_id != store_id:
            raise Unknown("pullpayment")
        self.service.archive_pull(pull.id)
        return {}

    def store_pulls(self, store_id, include_archived=False):
        self.check_store(store_id)
        query = PullPayment.select().where(PullPayment.store_id == store_id)
        if not include_archived:
            query = query.where(PullPayment.archived == False)  # noqa: E712
        return [self.pull_shape(p) for p in query.order_by(PullPayment.created_at.desc())]

    def pull_shape(self, pull):
        decimals = self.service.decimals(pull.currency)
        return {
            "id": pull.id,
            "name": pull.name or "",
            "description": pull.description or "",
            "currency": pull.price_currency or pull.currency,
            "amount": pull.price if pull.price is not None else format_amount(pull.amount, decimals),
            "period": 0,
            "BOLT11Expiration": 30,
            "archived": bool(pull.archived),
            "autoApproveClaims": bool(pull.auto_approve),
            "startsAt": shapes.unix(pull.created_at),
            "expiresAt": shapes.unix(pull.expires_at) if pull.expires_at else None,
            "viewLink": self.service.view_link(pull),
        }

    # -- payouts ----------------------------------------------------------------------

    def claim(self, pull_id, body):
        """The public claim (createPayout): a payout of the pull payment to ``destination``."""
        body = _object(body, CLAIM_FIELDS)
        pull = self.service.get_pull(pull_id)
        method = body.get("payoutMethodId") or body.get("paymentMethod")
        if method is not None and self._coin_of([method], "payoutMethodId") != pull.currency:
            raise shapes.FieldErrors(
                [("payoutMethodId", "this pull payment pays %s" % shapes.method_id(pull.currency))]
            )
        amount = None if body.get("amount") in (None, "") else _decimal(body["amount"])
        try:
            payout = self.service.claim(pull.id, body.get("destination"), amount)
        except ValidationError as exc:
            raise shapes.FieldErrors([(exc.field or "amount", exc.message)]) from None
        return self.payout_shape(payout)

    def pull_payouts(self, pull_id, include_cancelled=False):
        pull = self.service.get_pull(pull_id)
        rows = self.service.list(pull_id=pull.id, limit=500, include_cancelled=include_cancelled)
        return [self.payout_shape(p) for p in rows]

    def pull_payout(self, pull_id, payout_id):
        payout = self.service.get(payout_id)
        if payout.pull_payment_id != pull_id:
            raise Unknown("payout")
        return self.payout_shape(payout)

    def store_payouts(self, store_id, include_cancelled=False):
        self.check_store(store_id)
        rows = self.service.list(limit=500, include_cancelled=include_cancelled)
        return [self.payout_shape(p) for p in rows]

    def approve(self, store_id, payout_id, body, by=None):
        self.check_store(store_id)
        body = _object(body, ("revision", "rateRule"))
        revision = body.get("revision")
        if revision is not None and (isinstance(revision, bool) or not isinstance(revision, int)):
            raise shapes.FieldErrors([("revision", "must be an integer")])
        return self.payout_shape(self.service.approve(payout_id, revision, by=by))

    def cancel(self, store_id, payout_id):
        self.check_store(store_id)
        self.service.cancel(payout_id)
        return {}

    def mark_paid(self, store_id, payout_id):
        self.check_store(store_id)
        self.service.mark_paid(payout_id)
        return {}

    def payout_shape(self, payout):
        decimals = self.service.decimals(payout.currency)
        amount = format_amount(payout.amount, decimals)
        return {
            "id": payout.id,
            "revision": payout.revision,
            "pullPaymentId": payout.pull_payment_id or "",
            "date": str(shapes.unix(payout.created_at)),
            "destination": payout.destination,
            "amount": amount,
            "paymentMethod": shapes.method_id(payout.currency),
            "payoutMethodId": shapes.method_id(payout.currency),
            "cryptoCode": payout.currency,
            "paymentMethodAmount": amount,
            "state": states.GREENFIELD[payout.state],
            "transactionId": payout.txid or "",
        }

    # -- reading ------------------------------------------------------------------------

    def _coin_of(self, methods, path):
        """The first coin of ``methods`` the store has; others (BTC_LN, another coin) ignored."""
        if methods is None:
            methods = [shapes.method_id(c) for c in sorted(self.service.coins)]
        if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
            raise shapes.FieldErrors([(path, "must be a list of payment method ids")])
        for method in methods:
            code = shapes.parse_method(method, self.service.coins)
            if code is not None:
                return code
        raise shapes.FieldErrors(
            [
                (
                    path,
                    "none of these methods is offered here (%s)"
                    % ", ".join(shapes.method_id(c) for c in sorted(self.service.coins)),
                )
            ]
        )

    def _rate(self, coin, fiat):
        if self.rates is None:
            raise shapes.FieldErrors([("currency", "no fiat rates are configured here: give the amount in %s" % coin)])
        return self.rates(coin, fiat, spread=False).rate


def _object(body, allowed):
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise shapes.FieldErrors([("body", "must be a JSON object")])
    return {k: v for k, v in body.items() if k in allowed}  # Greenfield ignores unknown fields


def _decimal(value):
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise shapes.FieldErrors([("amount", 'must be a decimal string such as "12.50"')])
    text = str(value).strip()
    try:
        number = Decimal(text)
    except ArithmeticError:
        raise shapes.FieldErrors([("amount", 'must be a decimal string such as "12.50"')]) from None
    if not number.is_finite() or number <= 0 or number.adjusted() > 18 or number.as_tuple().exponent < -18:
        raise shapes.FieldErrors([("amount", 'must be a positive decimal such as "12.50"')])
    return number


def _percent(value):
    if value is None:
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, (int, str, Decimal)):
        raise shapes.FieldErrors([("subtractPercentage", "must be a number from 0 to 100")])
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise shapes.FieldErrors([("subtractPercentage", "must be a number from 0 to 100")]) from None
    if not number.is_finite() or not 0 <= number <= 100:
        raise shapes.FieldErrors([("subtractPercentage", "must be a number from 0 to 100")])
    return number


def _text(value, path, limit):
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise shapes.FieldErrors([(path, "must be a string of at most %d characters" % limit)])
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise shapes.FieldErrors([(path, "must be valid Unicode text")]) from None
    return value
