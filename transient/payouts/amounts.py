"""How much a refund pays: BTCPay's refund dialog as pure functions of exact numbers.

Every result is whole base units, rounded in the merchant's favour (down) and never by a
whole unit or more: ``exact - 1 < result <= exact``. Fractions, not Decimals, carry the
arithmetic, so no division is ever rounded before the one floor at the end.
"""

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from ..core.errors import RateUnavailable, ValidationError

RATE_THEN, CURRENT_RATE, FIAT, OVERPAID, CUSTOM = "RateThen", "CurrentRate", "Fiat", "OverpaidAmount", "Custom"
VARIANTS = (RATE_THEN, CURRENT_RATE, FIAT, OVERPAID, CUSTOM)


@dataclass(frozen=True)
class Paid:
    """What a payment asked for and received: ``amount`` and ``received`` in base units;
    ``price`` (Decimal, in ``price_currency``) and ``rate`` (price_currency per coin, the
    rate it was priced at) when it was priced in fiat, else None."""

    amount: int
    received: int
    price: Decimal | None = None
    price_currency: str | None = None
    rate: Decimal | None = None


def exact_coins(fiat, rate, decimals=8):
    """Return the exact (Fraction) base units worth ``fiat`` at ``rate`` (fiat per coin)."""
    if rate is None or rate <= 0:
        raise RateUnavailable("no usable rate to convert the refund", "rate")
    return Fraction(fiat) / Fraction(rate) * 10**decimals


def coins_for(fiat, rate, decimals=8):
    """Return the base units worth ``fiat`` at ``rate`` (fiat per coin), rounded down."""
    return math.floor(exact_coins(fiat, rate, decimals))


def _percent(percent):
    percent = Fraction(percent)
    if not 0 <= percent <= 100:
        raise ValidationError("must be between 0 and 100", "subtractPercentage")
    return percent


def minus_percentage(units, percent):
    """Return ``units`` less ``percent`` % of it (0-100), rounded down."""
    return math.floor(units * (100 - _percent(percent)) / 100)


def refund_units(variant, paid, decimals=8, rate_now=None, custom=None, custom_fiat=False, percent=0):
    """Return the refund of ``paid`` (a :class:`Paid`) in base units.

    ``variant`` is one of VARIANTS: ``RateThen`` (the coins the price was worth when paid),
    ``CurrentRate`` (the price at ``rate_now``), ``Fiat`` (``custom`` fiat at ``rate_now``),
    ``OverpaidAmount`` (what came in above the amount), ``Custom`` (``custom`` coins, or
    fiat at ``rate_now`` when ``custom_fiat``). ``percent`` is then taken off, and the
    exact result rounded down once (two roundings could lose a whole unit).
    Raises ValidationError naming the field for a refund of nothing, RateUnavailable
    when the variant needs the current rate and there is none (fail closed).
    """
    if variant == RATE_THEN:
        exact = _at_rate(paid, paid.rate, decimals)
    elif variant == CURRENT_RATE:
        exact = _at_rate(paid, rate_now, decimals)
    elif variant == FIAT:
        if custom is None:
            raise ValidationError("is required for a Fiat refund", "customAmount")
        exact = exact_coins(custom, rate_now, decimals)
    elif variant == OVERPAID:
        exact = Fraction(paid.received - paid.amount)
        if exact <= 0:
            raise ValidationError("the payment was not overpaid: nothing to refund", "refundVariant")
    elif variant == CUSTOM:
        if custom is None:
            raise ValidationError("is required for a Custom refund", "customAmount")
        exact = exact_coins(custom, rate_now, decimals) if custom_fiat else Fraction(custom) * 10**decimals
    else:
        raise ValidationError("must be one of %s" % ", ".join(VARIANTS), "refundVariant")
    units = math.floor(exact * (100 - _percent(percent)) / 100)
    if units <= 0:
        raise ValidationError("leaves nothing to refund", "amount")
    return units


def _at_rate(paid, rate, decimals):
    """The price at ``rate`` (exact), never more than what came in; a payment given in
    coins refunds its coins (no rate needed)."""
    if paid.price is None:
        return Fraction(min(paid.received, paid.amount))
    if rate is None:
        raise RateUnavailable("no fresh %s rate: the refund cannot be priced now" % paid.price_currency, "rate")
    return min(exact_coins(paid.price, rate, decimals), Fraction(paid.received))
