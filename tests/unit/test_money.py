from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transient.core.errors import ValidationError
from transient.core.money import format_amount, from_node, parse_amount, to_decimal

DOGE_MAX = 10**18


@pytest.mark.parametrize(
    "value, units",
    [
        ("10", 10 * 10**8),
        (10, 10 * 10**8),
        ("10.5", 1050000000),
        (Decimal("0.00000001"), 1),
        ("10000000000", DOGE_MAX),
        (Decimal("1E-8"), 1),
    ],
)
def test_parse_amount_exact(value, units):
    assert parse_amount(value, max_money=DOGE_MAX) == units


@pytest.mark.parametrize(
    "value, message",
    [
        ("0", "greater than zero"),
        (0, "greater than zero"),
        ("-1", "plain decimal"),
        (Decimal("-1"), "negative"),
        ("0.000000001", "more than 8 decimal"),
        ("10000000000.00000001", "maximum"),
        (Decimal("NaN"), "finite"),
        (Decimal("Infinity"), "finite"),
        (1.5, "not float"),
        (True, "not bool"),
        ("1e5", "plain decimal"),
        ("", "plain decimal"),
        (None, "decimal number"),
        ([1], "decimal number"),
        (" 1 2", "plain decimal"),
    ],
)
def test_parse_amount_rejects(value, message):
    with pytest.raises(ValidationError) as info:
        parse_amount(value, max_money=DOGE_MAX)
    assert info.value.field == "amount"
    assert message.split()[0] in info.value.message or message.split()[-1] in info.value.message


@given(st.integers(min_value=1, max_value=DOGE_MAX))
def test_format_parse_round_trip(units):
    text = format_amount(units)
    assert parse_amount(text, max_money=DOGE_MAX) == units
    assert from_node(Decimal(text)) == units
    assert to_decimal(units) == Decimal(text)


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e12"), max_value=Decimal("1e12")))
def test_parse_amount_never_rounds(value):
    try:
        units = parse_amount(value, max_money=DOGE_MAX)
    except ValidationError:
        assert value <= 0 or value.as_tuple().exponent < -8 or value * 10**8 > DOGE_MAX
    else:
        assert Decimal(units) / 10**8 == value


def test_from_node_rejects_floats_and_dust():
    with pytest.raises(TypeError):
        from_node(0.1)
    with pytest.raises(ValueError):
        from_node(Decimal("0.000000001"))
    assert from_node(Decimal("-0.5")) == -50000000
