"""The status function: every transition in a table, and properties."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from transient.core import status as S
from transient.core.status import Coin, Policy, evaluate

T0 = datetime.datetime(2026, 1, 1, 12, 0, 0)
LATER = T0 + datetime.timedelta(hours=1)
EXP = T0 + datetime.timedelta(minutes=30)


def c(amount, confs, seen=T0, counted=True):
    return Coin(amount, confs, seen, counted)


@pytest.mark.parametrize(
    "name, coins, policy, now, expected",
    [
        ("nothing", [], Policy(1), T0, S.UNPAID),
        ("mempool full", [c(100, 0)], Policy(1), T0, S.PENDING),
        ("mempool full, zero conf policy", [c(100, 0)], Policy(0), T0, S.PAID),
        ("confirmed exact", [c(100, 1)], Policy(1), T0, S.PAID),
        ("one of six", [c(100, 1)], Policy(6), T0, S.PENDING),
        ("six of six", [c(100, 6)], Policy(6), T0, S.PAID),
        ("underpaid", [c(60, 3)], Policy(1), T0, S.UNDERPAID),
        ("underpaid mempool", [c(60, 0)], Policy(1), T0, S.UNDERPAID),
        ("two parts", [c(60, 1), c(40, 2)], Policy(1), T0, S.PAID),
        ("two parts, one unconfirmed", [c(60, 1), c(40, 0)], Policy(1), T0, S.PENDING),
        ("overpaid", [c(150, 1)], Policy(1), T0, S.OVERPAID),
        ("overpaid, surplus unconfirmed", [c(100, 1), c(50, 0)], Policy(1), T0, S.PAID),
        ("tolerance covers", [c(99, 1)], Policy(1, tolerance_bp=100), T0, S.PAID),
        ("tolerance short", [c(98, 1)], Policy(1, tolerance_bp=100), T0, S.UNDERPAID),
        ("conflicted not counted", [c(100, -1)], Policy(1), T0, S.UNPAID),
        ("removed not counted", [c(100, 3, counted=False)], Policy(1), T0, S.UNPAID),
        ("double spend of half", [c(50, 2), c(50, -1)], Policy(1), T0, S.UNDERPAID),
        ("expired unpaid", [], Policy(1, expires_at=EXP), LATER, S.EXPIRED),
        ("not yet expired", [], Policy(1, expires_at=EXP), T0, S.UNPAID),
        ("expired underpaid", [c(50, 1)], Policy(1, expires_at=EXP), LATER, S.EXPIRED),
        ("in mempool before expiry", [c(100, 0)], Policy(1, expires_at=EXP), LATER, S.PENDING),
        ("confirmed after expiry, seen before", [c(100, 1)], Policy(1, expires_at=EXP), LATER, S.PAID),
        ("paid after expiry", [c(100, 1, seen=LATER)], Policy(1, expires_at=EXP), LATER, S.EXPIRED),
    ],
)
def test_status_table(name, coins, policy, now, expected):
    assert evaluate(100, coins, policy, now).status == expected, name


def test_amounts_and_due():
    s = evaluate(100, [c(30, 2), c(20, 0), c(10, -1)], Policy(1), T0)
    assert (s.received, s.confirmed, s.pending, s.due) == (50, 30, 20, 50)
    assert evaluate(100, [c(100, 0)], Policy(1), T0).due == 0


def test_paid_late_flag():
    s = evaluate(100, [c(100, 1, seen=LATER)], Policy(1, expires_at=EXP), LATER)
    assert s.status == S.EXPIRED and s.paid_late
    assert not evaluate(100, [], Policy(1, expires_at=EXP), LATER).paid_late


def test_required_amount_rounds_up():
    assert S.required_amount(100, 0) == 100
    assert S.required_amount(101, 100) == 100  # 99.99 -> 100
    assert S.required_amount(10**18, 1) == 10**18 - 10**14


coins_st = st.lists(
    st.builds(Coin, st.integers(1, 10**12), st.integers(-2, 10), st.just(T0), st.booleans()), max_size=6
)


@given(st.integers(1, 10**12), coins_st, st.integers(0, 6), st.integers(0, 5000))
def test_status_consistent_with_amounts(amount, coins, confs, tol):
    s = evaluate(amount, coins, Policy(confs, tol), T0)
    assert s.received >= 0 and s.pending >= 0 and s.confirmed >= 0 and s.due >= 0
    assert s.received == s.pending + s.confirmed
    need = S.required_amount(amount, tol)
    assert (s.status == S.UNPAID) == (s.received == 0)
    assert (s.status in (S.PAID, S.OVERPAID)) == (s.confirmed >= need)
    assert (s.status == S.UNDERPAID) == (0 < s.received < need)
    if s.status == S.OVERPAID:
        assert s.confirmed > amount


@given(st.integers(1, 10**12), coins_st, st.integers(0, 6))
def test_reversal_is_symmetric(amount, coins, confs):
    """Taking coins away and giving them back returns the original status."""
    policy = Policy(confs)
    before = evaluate(amount, coins, policy, T0)
    taken = [Coin(x.amount, x.confirmations, x.first_seen, False) for x in coins]
    after = evaluate(amount, taken, policy, T0)
    assert after.status == S.UNPAID and after.received == 0
    assert evaluate(amount, coins, policy, T0) == before
