"""Exact money: integer base units inside, decimal strings outside. No floats."""

import re
from decimal import Decimal, InvalidOperation
from typing import Final

from .errors import ValidationError

COIN: Final = 10**8
_PLAIN: Final = re.compile(r"[0-9]{1,40}(\.[0-9]{1,40})?")
_MAX_DIGITS: Final = 40  # digits before the point: far above any coin's supply, far below Decimal's limits


def parse_amount(
    value: object, field: str = "amount", max_money: int | None = None, decimals: int = 8, allow_zero: bool = False
) -> int:
    """Return ``value`` (int, Decimal or decimal string) as integer base units.

    Raises ValidationError naming ``field`` for floats, booleans, NaN/Infinity,
    negatives, zero (unless ``allow_zero``), more than ``decimals`` places and
    amounts above ``max_money`` (base units).
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise ValidationError("must be a decimal number or string, not %s" % type(value).__name__, field)
    if isinstance(value, str):
        text = value.strip()
        if not _PLAIN.fullmatch(text):
            raise ValidationError('must be a plain decimal number such as "10.5"', field)
        number = Decimal(text)
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    else:
        raise ValidationError("must be a decimal number or string", field)
    if not number.is_finite():
        raise ValidationError("must be a finite number", field)
    if number < 0:
        raise ValidationError("must not be negative", field)
    if number and number.adjusted() >= _MAX_DIGITS:
        raise ValidationError("is far above any coin's supply", field)
    if number and number.adjusted() < -_MAX_DIGITS:
        raise ValidationError("has more than %d decimal places" % decimals, field)
    try:
        scaled = number.scaleb(decimals)
        if scaled != scaled.to_integral_value():
            raise ValidationError("has more than %d decimal places" % decimals, field)
        units = int(scaled)
    except InvalidOperation:
        raise ValidationError("is not a valid amount", field) from None
    if units == 0 and not allow_zero:
        raise ValidationError("must be greater than zero", field)
    if max_money is not None and units > max_money:
        raise ValidationError("is above the coin's maximum of %s" % format_amount(max_money, decimals), field)
    return units


def from_node(value: Decimal | int | str, decimals: int = 8) -> int:
    """Convert a node's JSON amount (a Decimal parsed with parse_float=Decimal) to base units.

    Node amounts may be negative (send entries); anything not exact raises ValueError.
    """
    if isinstance(value, float):
        raise TypeError("node amounts must be parsed with parse_float=Decimal")
    units = Decimal(value).scaleb(decimals)
    if units != units.to_integral_value():
        raise ValueError("node amount %s has more than %d decimals" % (value, decimals))
    return int(units)


def format_amount(units: int, decimals: int = 8) -> str:
    """Return base units as the shortest exact decimal string: 1050000000 -> "10.5"."""
    sign = "-" if units < 0 else ""
    whole, frac = divmod(abs(int(units)), 10**decimals)
    if not frac:
        return "%s%d" % (sign, whole)
    return ("%s%d.%0*d" % (sign, whole, decimals, frac)).rstrip("0")


def to_decimal(units: int, decimals: int = 8) -> Decimal:
    """Return base units as an exact Decimal (for node RPC parameters)."""
    return Decimal(int(units)).scaleb(-decimals)
