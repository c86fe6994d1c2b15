"""Refunds: a pull payment for a paid payment, its amount chosen like BTCPay's refund
dialog (payouts.amounts), claimable on its page or paid at once to a given address."""

import uuid
from decimal import Decimal

from peewee import IntegrityError

from ..core.errors import NotFound, RateUnavailable, ValidationError
from ..store.models import Payment
from ..store.payouts import PullPayment
from . import amounts, validation

REFUND_FIELDS = (
    "variant",
    "amount",
    "currency",
    "subtract_percentage",
    "destination",
    "name",
    "description",
    "auto_approve",
)


class Refunds:
    """Refunds over a :class:`~transient.payouts.service.PayoutService`; ``rates(coin,
    fiat, spread=False)`` gives the market rate (fails closed: RateUnavailable)."""

    def __init__(self, service, rates=None):
        self.service = service
        self.rates = rates

    def paid(self, payment):
        """The :class:`amounts.Paid` of a Payment row."""
        priced = payment.price is not None and payment.rate is not None
        return amounts.Paid(
            amount=payment.amount,
            received=payment.amount_received,
            price=Decimal(payment.price) if priced else None,
            price_currency=payment.price_currency if priced else None,
            rate=Decimal(payment.rate) if priced else None,
        )

    def units(self, payment, variant, custom=None, custom_currency=None, percent=0):
        """Return ``(units, rate used or None)`` of a refund of ``payment``."""
        paid = self.paid(payment)
        if paid.received <= 0:
            raise ValidationError("the payment received nothing: there is nothing to refund", "payment_id")
        fiat = _fiat_of(variant, paid, custom_currency, payment.currency)
        rate = self._rate(payment.currency, fiat) if fiat else None
        if variant == amounts.RATE_THEN:
            rate = paid.rate
        units = amounts.refund_units(
            variant,
            paid,
            self.service.decimals(payment.currency),
            rate_now=rate,
            custom=custom,
            custom_fiat=bool(fiat) and variant == amounts.CUSTOM,
            percent=percent,
        )
        return units, rate

    def _rate(self, coin, fiat):
        if self.rates is None:
            raise RateUnavailable("no rates are configured: this refund needs the current rate", "variant")
        return self.rates(coin, fiat, spread=False).rate

    def refund(self, payment_id, body, idempotency_key=None):
        """Create the refund of a payment from a request body; return ``(pull payment,
        payout or None, created)``. With a ``destination`` the whole refund is claimed at
        once to it (a payout awaiting approval, or approved under the coin's limits)."""
        body = validation.fields_of(body, REFUND_FIELDS)
        payment = _payment(payment_id)
        variant = validation.variant(body.get("variant"))
        custom = validation.decimal_text(body.get("amount"), "amount")
        percent = validation.percent(body.get("subtract_percentage"))
        custom_currency = body.get("currency")
        if custom_currency is not None and not isinstance(custom_currency, str):
            raise ValidationError("must be a currency code", "currency")
        name = validation.text(body, "name", 255)
        description = validation.text(body, "description", 2000)
        auto = body.get("auto_approve", False)
        if not isinstance(auto, bool):
            raise ValidationError("must be true or false", "auto_approve")
        digest = None
        if validation.idempotency_key(idempotency_key) is not None:
            digest = validation.body_hash({"payment": str(payment.id), **body})
            replay = self.service._replay(PullPayment, idempotency_key, digest)
            if replay is not None:
                return replay, None, False
        backend, _ = self.service.coins[payment.currency]
        if body.get("destination") is not None:
            validation.destination(body.get("destination"), backend)  # refused before anything is written
        units, rate = self.units(payment, variant, custom, custom_currency, percent)
        now = self.service.clock()
        try:
            pull = self.service.create_pull(
                payment.currency,
                units,
                now,
                name=name or "Refund of payment %s" % payment.id,
                description=description,
                payment_id=payment.id,
                variant=variant,
                price=payment.price,
                price_currency=payment.price_currency,
                rate=str(rate) if rate is not None else None,
                auto_approve=auto,
                idempotency_key=idempotency_key,
                request_hash=digest,
            )
        except IntegrityError:
            replay = idempotency_key and self.service._replay(PullPayment, idempotency_key, digest)
            if replay:
                return replay, None, False
            raise
        payout = None
        if body.get("destination") is not None:
            payout = self.service.claim(pull.id, body["destination"])
        return self.service.get_pull(pull.id), payout, True


def _payment(payment_id):
    try:
        pid = payment_id if isinstance(payment_id, uuid.UUID) else uuid.UUID(str(payment_id))
    except ValueError:
        raise NotFound("no payment with id %s" % payment_id, "id") from None
    found = Payment.get_or_none(Payment.id == pid)
    if found is None:
        raise NotFound("no payment with id %s" % pid, "id")
    return found


def _fiat_of(variant, paid, custom_currency, coin):
    """The fiat currency whose current rate the refund needs, or None."""
    if variant == amounts.CURRENT_RATE:
        return paid.price_currency  # None for a payment given in coins: no rate needed
    if variant == amounts.FIAT:
        fiat = (custom_currency or paid.price_currency or "").upper()
        if not fiat:
            raise ValidationError("is required for a Fiat refund of a payment given in coins", "currency")
        return fiat
    if variant == amounts.CUSTOM and custom_currency and custom_currency.upper() != coin:
        return custom_currency.upper()
    return None
