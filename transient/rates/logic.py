"""The rules of a rate, as pure functions: which quotes are fresh, which agree, their
median, a cross through one intermediate currency, the merchant's spread, and the
amount of a price (rounded up to the coin's base unit). Decimal and Fraction only."""

import math
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction

from ..core.errors import ValidationError
from ..core.money import parse_amount

# ISO 4217 minor units of the fiat codes priced in; other 3-letter codes are refused.
MINOR_UNITS = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CHF": 2,
    "JPY": 0,
    "CAD": 2,
    "AUD": 2,
    "NZD": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CZK": 2,
    "HUF": 2,
    "SGD": 2,
    "HKD": 2,
    "KRW": 0,
    "BRL": 2,
    "MXN": 2,
    "ZAR": 2,
    "TRY": 2,
    "INR": 2,
    "CNY": 2,
}
PRECISION = 60  # digits: products and means of two exchange quotes stay exact


def fiat_code(value, field_name="price_currency"):
    """Return ``value`` as an upper-case ISO 4217 code we price in, or raise naming the field."""
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
        raise ValidationError("must be a 3-letter ISO 4217 currency code such as USD", field_name)
    code = value.upper()
    if code not in MINOR_UNITS:
        raise ValidationError(
            "%s is not a supported fiat currency (%s)" % (code, ", ".join(sorted(MINOR_UNITS))), field_name
        )
    return code


def parse_price(value, code, field_name="price"):
    """Return a price as an exact Decimal with at most the code's ISO 4217 decimals."""
    digits = MINOR_UNITS[code]
    units = parse_amount(value, field_name, max_money=10**15 * 10**digits, decimals=digits)
    return Decimal(units).scaleb(-digits)


# A rate's magnitude: 1e-12 (a coin worth a trillionth of the other) to 1e12 per unit. A
# quote outside is an exchange's error, dropped where it is read: stored, its plain text
# grew to millions of digits (1e-20000000), and 1e30 could not be read back.
MIN_EXPONENT, MAX_EXPONENT = -12, 12
MAX_DIGITS = 30


def parse_rate(value):
    """Return an exchange's price text (or Decimal) as a positive finite Decimal of at
    most 30 significant digits between 1e-12 and 1e13; ValueError else (its message
    quotes at most the value's first characters).

    Floats are refused: the exchange's JSON is read with ``parse_float=Decimal``."""
    if isinstance(value, (bool, float)) or not isinstance(value, (str, Decimal, int)):
        raise ValueError("the price %s is not a decimal string" % shown(value))
    if isinstance(value, str) and len(value) > 100:
        raise ValueError("the price %s is not a number of at most 30 digits" % shown(value))
    try:
        rate = Decimal(value.strip() if isinstance(value, str) else value)
    except (ArithmeticError, ValueError):
        raise ValueError("the price %s is not a number" % shown(value)) from None
    if not rate.is_finite() or rate <= 0 or len(rate.as_tuple().digits) > MAX_DIGITS:
        raise ValueError("the price %s is not a positive number of at most 30 digits" % shown(value))
    if not MIN_EXPONENT <= rate.adjusted() <= MAX_EXPONENT:
        raise ValueError("the price %s is out of range (1e-12 to 1e13)" % shown(value))
    return rate


def shown(value, limit=32):
    """``repr(value)``, cut to ``limit`` characters: an error line never holds a whole answer."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def moved(rate, reference, factor):
    """True when ``rate`` is more than ``factor`` times above or below ``reference``."""
    return rate > reference * factor or rate * factor < reference


def text(rate):
    """Return a Decimal as its shortest plain string ("0.125", "61000")."""
    out = format(rate, "f")
    return out.rstrip("0").rstrip(".") if "." in out else out


@dataclass(frozen=True)
class Quote:
    """One source's price of ``pair`` ("DOGE/USD": USD per DOGE) fetched at ``at``."""

    source: str
    pair: str
    rate: Decimal | None
    at: object  # naive UTC datetime of the fetch (None: never fetched)
    error: str | None = None


@dataclass
class Agreement:
    """What the quotes of one pair amount to: ``rate`` (None: unusable, see ``reason``)."""

    pair: str
    rate: Decimal | None
    used: list = field(default_factory=list)
    dropped: list = field(default_factory=list)  # fresh, but too far from the median
    stale: list = field(default_factory=list)  # too old, never fetched, or failing
    reason: str | None = None


def median(values):
    """Return the exact median of a non-empty list of Decimals."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return (ordered[mid - 1] + ordered[mid]) / 2


def deviation(value, center):
    """Return how far ``value`` is from ``center``, in percent (a Decimal)."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return abs(value - center) * 100 / center


def is_fresh(quote, now, max_age):
    """A quote is usable when it has a rate fetched at most ``max_age`` seconds ago (not in the future)."""
    if quote.rate is None or quote.at is None:
        return False
    age = (now - quote.at).total_seconds()
    return 0 <= age <= max_age or -5 <= age < 0  # a few seconds of clock skew between hosts


def agree(pair, quotes, now, max_age, max_deviation, min_sources):
    """Return the Agreement of ``quotes`` of ``pair``: the median of the fresh quotes that lie
    within ``max_deviation`` percent of the median of all fresh ones, when at least
    ``min_sources`` of them do."""
    fresh = [q for q in quotes if is_fresh(q, now, max_age)]
    stale = [q for q in quotes if not is_fresh(q, now, max_age)]
    if not fresh:
        return Agreement(pair, None, stale=stale, reason="%s: %s" % (pair, _why_none(quotes, stale, now)))
    center = median([q.rate for q in fresh])
    limit = Decimal(max_deviation)
    used = [q for q in fresh if deviation(q.rate, center) <= limit]
    dropped = [q for q in fresh if q not in used]
    if len(used) < min_sources:
        why = "%d of the %d quote(s) needed" % (len(used), min_sources)
        if dropped:
            why += "; disagree with the median %s by more than %s %%: %s" % (
                text(center),
                max_deviation,
                ", ".join("%s %s" % (q.source, text(q.rate)) for q in dropped),
            )
        if stale:
            why += "; " + _why_none(stale, stale, now)
        return Agreement(pair, None, used, dropped, stale, "%s: %s" % (pair, why))
    return Agreement(pair, median([q.rate for q in used]), used, dropped, stale)


def _why_none(quotes, stale, now):
    if not quotes:
        return "no configured source quotes it"
    parts = []
    for q in stale:
        if q.error and (q.at is None or q.rate is None):
            parts.append("%s failing (%s)" % (q.source, q.error))
        elif q.at is None or q.rate is None:
            parts.append("%s not fetched yet" % q.source)
        else:
            parts.append(
                "%s stale (%ds old%s)" % (q.source, (now - q.at).total_seconds(), ", " + q.error if q.error else "")
            )
    return "no fresh quote: %s" % ", ".join(parts)


def cross(first, second):
    """Return the exact product of two legs' rates (DOGE/BTC × BTC/EUR = DOGE/EUR)."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return first * second


def with_spread(rate, spread):
    """Return ``rate`` lowered by ``spread`` percent (a string such as "1.5"): the customer
    pays that much more coin, the merchant's margin."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return rate * (100 - Decimal(spread)) / 100


def amount_for(price, rate, decimals):
    """Return the least amount in base units whose value at ``rate`` is at least ``price``:
    ceil(price / rate × 10^decimals)."""
    units = Fraction(price) * 10**decimals / Fraction(rate)
    return math.ceil(units)
