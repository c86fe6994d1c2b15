"""The business at a glance (the dashboard's overview): money received per local day and
coin, its fiat value at each payment's locked rate, and payments by status, over a recent
window. Each figure is one grouped statement over an indexed range; amounts stay integers
of the base unit and the fiat values exact decimals."""

import datetime
import functools
from decimal import Decimal

from peewee import PostgresqlDatabase, fn

from ..core import status as st
from ..store.models import Payment, Receipt

UTC = datetime.timezone.utc


def _hour(db, column):
    """The statement's text of ``column`` cut to its hour ("2026-12-07 21"): each database its own way."""
    if isinstance(getattr(db, "obj", db), PostgresqlDatabase):
        return fn.to_char(column, "YYYY-MM-DD HH24")
    return fn.strftime("%Y-%m-%d %H", column)


@functools.lru_cache(maxsize=4096)
def _local_day(hour_text, zone):
    """The local date of the UTC hour ``hour_text`` ("2026-12-07 21"); the same few hundred
    hours come back on every overview, so each is worked out once."""
    at = datetime.datetime.fromisoformat(hour_text + ":00").replace(tzinfo=UTC)
    return at.astimezone(zone).date()


def days(now, zone, count):
    """The ``count`` local days ending today (oldest first), and the UTC time the first begins."""
    today = now.replace(tzinfo=UTC).astimezone(zone).date()
    first = today - datetime.timedelta(days=count - 1)
    start = datetime.datetime.combine(first, datetime.time(), zone).astimezone(UTC).replace(tzinfo=None)
    return [first + datetime.timedelta(days=n) for n in range(count)], start


def _counted():
    """The receipts that count, as a condition no index serves: ``lower(state)``, so the
    planner walks the ``first_seen`` range (a few days) instead of every confirmed receipt
    through the (currency, state) index (measured on SQLite: it chose the latter)."""
    return fn.LOWER(Receipt.state).in_(Receipt.COUNTED)


def received(db, now, zone, decimals, count=14):
    """``{"days": [date], "coins": {code: [units a day]}, "fiat": {code: [Decimal a day]}}``:
    what reached the payments (receipts counted, by when first seen) in each local day."""
    dates, start = days(now, zone, count)
    index = {d: n for n, d in enumerate(dates)}
    hour = _hour(db, Receipt.first_seen)
    coins = {}
    query = (
        Receipt.select(Receipt.currency, hour, fn.SUM(Receipt.amount))
        .where(Receipt.first_seen >= start, Receipt.payment.is_null(False), _counted())
        .group_by(hour, Receipt.currency)  # hour first: no index on currency tempts the planner away from first_seen
        .tuples()
    )
    for currency, hour_text, units in query:
        n = index.get(_local_day(hour_text, zone))
        if n is not None:
            coins.setdefault(currency, [0] * count)[n] += int(units)
    return {"days": dates, "coins": coins, "fiat": _fiat(db, start, zone, index, count, decimals)}


def _fiat(db, start, zone, index, count, decimals):
    """The fiat value of each day's receipts, each at its payment's locked rate (payments
    given in coins have none). Summed per (hour, coin, fiat, rate): payments priced from
    the same quote share a rate, so few groups remain to multiply here."""
    hour = _hour(db, Receipt.first_seen)
    query = (
        Receipt.select(hour, Receipt.currency, Payment.price_currency, Payment.rate, fn.SUM(Receipt.amount))
        .join(Payment)
        .where(Receipt.first_seen >= start, _counted(), Payment.rate.is_null(False))
        .group_by(hour, Receipt.currency, Payment.price_currency, Payment.rate)
        .tuples()
    )
    fiat = {}
    for hour_text, currency, price_currency, rate, units in query:
        n = index.get(_local_day(hour_text, zone))
        if n is not None:
            value = Decimal(int(units)).scaleb(-decimals.get(currency, 8)) * Decimal(rate)
            fiat.setdefault(price_currency, [Decimal(0)] * count)[n] += value
    return {code: [v.quantize(Decimal("0.01")) for v in values] for code, values in fiat.items()}


def by_status(since):
    """``{status: count}`` of the payments created since ``since`` (every status listed)."""
    query = (
        Payment.select(Payment.status, fn.COUNT(Payment.id))
        .where(Payment.created_at >= since)
        .group_by(Payment.status)
        .tuples()
    )
    counts = dict.fromkeys(st.STATUSES, 0)
    counts.update({status: n for status, n in query})
    return counts


def needing_attention(since):
    """``{"underpaid": n, "late": n}``: payments that came short and are still open, and
    expired ones whose money came (some or all) after expiry, created since ``since``."""
    underpaid = Payment.select().where(Payment.status == st.UNDERPAID, Payment.created_at >= since).count()
    late = (
        Payment.select()
        .where(Payment.status == st.EXPIRED, Payment.created_at >= since, Payment.amount_received > 0)
        .count()
    )
    return {"underpaid": underpaid, "late": late}
