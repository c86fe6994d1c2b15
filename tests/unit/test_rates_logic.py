"""The pure rules of a rate (transient/rates/logic.py): median, deviation, staleness,
cross rates, the spread and the rounding of a price to an amount, as property tests."""

import datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transient.core.errors import ValidationError
from transient.rates import logic
from transient.rates.logic import Quote

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0)
prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2)
rates = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1000000"), places=8).filter(lambda d: d > 0)


@given(prices, rates, st.sampled_from([0, 2, 8]))
def test_the_amount_covers_the_price_and_is_the_least_that_does(price, rate, decimals):
    amount = logic.amount_for(price, rate, decimals)
    value = lambda units: Fraction(units) * Fraction(rate) / 10**decimals  # noqa: E731
    assert value(amount) >= Fraction(price)
    assert value(amount - 1) < Fraction(price)


def test_the_amount_rounds_up_to_the_base_unit():
    # 19.99 USD at 0.3 USD/DOGE = 66.6333... DOGE: the customer pays 66.63333334.
    assert logic.amount_for(Decimal("19.99"), Decimal("0.3"), 8) == 6663333334
    assert logic.amount_for(Decimal("10"), Decimal("0.125"), 8) == 8000000000  # exact: no rounding


@given(st.lists(rates, min_size=1, max_size=9))
def test_the_median_is_the_middle_and_ignores_the_order(values):
    m = logic.median(values)
    ordered = sorted(values)
    assert ordered[0] <= m <= ordered[-1]
    assert logic.median(list(reversed(values))) == m
    if len(values) % 2:
        assert m == ordered[len(values) // 2]
    else:
        assert Fraction(m) == (Fraction(ordered[len(values) // 2 - 1]) + Fraction(ordered[len(values) // 2])) / 2


def _quote(name, rate, age=0, error=None):
    return Quote(
        name,
        "DOGE/USD",
        None if rate is None else Decimal(rate),
        None if age is None else NOW - datetime.timedelta(seconds=age),
        error,
    )


@given(
    st.lists(st.tuples(rates, st.integers(0, 1000)), min_size=0, max_size=7),
    st.integers(1, 4),
    st.sampled_from(["0", "1", "3", "10"]),
)
def test_an_agreed_rate_uses_only_fresh_quotes_near_the_median(items, min_sources, max_dev):
    quotes = [_quote("s%d" % i, r, age) for i, (r, age) in enumerate(items)]
    got = logic.agree("DOGE/USD", quotes, NOW, 300, max_dev, min_sources)
    fresh = [q for q in quotes if (NOW - q.at).total_seconds() <= 300]
    assert set(got.used) | set(got.dropped) == set(fresh)
    assert all(q not in got.used for q in got.stale)
    if got.rate is None:
        assert got.reason and "DOGE/USD" in got.reason
        assert len(got.used) < min_sources or not fresh
    else:
        assert len(got.used) >= min_sources
        center = logic.median([q.rate for q in fresh])
        assert all(logic.deviation(q.rate, center) <= Decimal(max_dev) for q in got.used)
        assert got.rate == logic.median([q.rate for q in got.used])


def test_old_quotes_are_never_used_and_the_reason_names_them():
    got = logic.agree("DOGE/USD", [_quote("kraken", "0.1", 301), _quote("coinbase", "0.1", 900)], NOW, 300, "3", 1)
    assert got.rate is None
    assert "kraken stale (301s old)" in got.reason and "coinbase stale (900s old)" in got.reason


def test_one_fresh_source_is_not_enough_when_two_are_required():
    got = logic.agree("DOGE/USD", [_quote("kraken", "0.1", 10), _quote("coinbase", "0.1", 400)], NOW, 300, "3", 2)
    assert got.rate is None and "1 of the 2" in got.reason and "coinbase stale" in got.reason


def test_a_quote_far_from_the_median_is_dropped():
    quotes = [_quote("a", "0.100"), _quote("b", "0.101"), _quote("c", "0.200")]
    got = logic.agree("DOGE/USD", quotes, NOW, 300, "3", 2)
    assert got.rate == Decimal("0.1005") and [q.source for q in got.dropped] == ["c"]


def test_two_sources_that_disagree_give_no_rate():
    got = logic.agree("DOGE/USD", [_quote("a", "0.10"), _quote("b", "0.12")], NOW, 300, "3", 2)
    assert got.rate is None and "disagree" in got.reason and "a 0.1" in got.reason


def test_failing_and_unfetched_sources_are_named():
    got = logic.agree(
        "DOGE/USD", [_quote("a", None, None, "no answer within 5 s"), _quote("b", None, None)], NOW, 300, "3", 1
    )
    assert "a failing (no answer within 5 s)" in got.reason and "b not fetched yet" in got.reason


@given(rates, rates)
def test_a_cross_rate_is_the_exact_product(first, second):
    assert Fraction(logic.cross(first, second)) == Fraction(first) * Fraction(second)


@given(rates, st.sampled_from(["0", "0.5", "1", "2.25", "10"]))
def test_the_spread_lowers_the_rate_exactly(rate, spread):
    got = logic.with_spread(rate, spread)
    assert Fraction(got) == Fraction(rate) * (100 - Fraction(Decimal(spread))) / 100


@pytest.mark.parametrize(
    "value, code, expected",
    [
        ("19.99", "USD", Decimal("19.99")),
        ("1000", "JPY", Decimal("1000")),
        (5, "EUR", Decimal("5")),
        (Decimal("0.5"), "GBP", Decimal("0.5")),
    ],
)
def test_prices_follow_iso_4217_minor_units(value, code, expected):
    assert logic.parse_price(value, code) == expected


@pytest.mark.parametrize(
    "value, code",
    [("19.999", "USD"), ("10.5", "JPY"), ("0", "USD"), ("-1", "EUR"), (1.5, "USD"), ("NaN", "USD"), ("1e3", "USD")],
)
def test_bad_prices_name_the_field(value, code):
    with pytest.raises(ValidationError) as err:
        logic.parse_price(value, code)
    assert err.value.field == "price"


@pytest.mark.parametrize("value", ["US", "USDT", "XYZ", 5, "", "U$D"])
def test_unknown_fiat_codes_name_the_field(value):
    with pytest.raises(ValidationError) as err:
        logic.fiat_code(value)
    assert err.value.field == "price_currency"


@pytest.mark.parametrize("value", ["abc", "", "-1", "0", "NaN", "Infinity", 0.5, True, None, [1], "1" * 31])
def test_exchange_prices_must_be_positive_exact_decimals(value):
    with pytest.raises(ValueError):
        logic.parse_rate(value)
