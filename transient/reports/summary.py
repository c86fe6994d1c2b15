"""The business at a glance (the dashboard's overview): money received per local day and
coin, its fiat value at each payment's locked rate, and payments by status, over a recent
window. The figures come from totals the database keeps per hour (reports.rollup), so an
overview costs the same at any size of the ledger; amounts stay integers of the base unit
and the fiat values exact decimals."""

import datetime
import functools
from decimal import Decimal

from peewee import Case, PostgresqlDatabase, fn

from ..core import status as st
from ..store.models import Payment, Receipt
from . import rollup

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


def _edge_receipts(db, start, end):
    """The counted receipts first seen in [start, end) (part of an hour), grouped as the
    rollup groups them."""
    hour = _hour(db, Receipt.first_seen).coerce(False)
    query = (
        Receipt.select(hour, Receipt.currency, Payment.price_currency, Payment.rate, fn.SUM(Receipt.amount))
        .join(Payment)
        .where(Receipt.first_seen >= start, Receipt.first_seen < end, Receipt.state.in_(Receipt.COUNTED))
        .group_by(hour, Receipt.currency, Payment.price_currency, Payment.rate)
        .tuples()
    )
    return [(h, coin, (fiat or "") if rate else "", rate or "", int(units)) for h, coin, fiat, rate, units in query]


def received(db, now, zone, decimals, count=14):
    """``{"days": [date], "coins": {code: [units a day]}, "fiat": {code: [Decimal a day]}}``:
    what reached the payments (receipts counted, by when first seen) in each local day; the
    fiat value of each at its payment's locked rate (payments given in coins have none).
    Whole hours come from the rollup (reports.rollup), a window's first part-hour (a zone
    off the hour) from the receipts themselves."""
    rollup.fold(db)
    dates, start = days(now, zone, count)
    index = {d: n for n, d in enumerate(dates)}
    full = rollup.next_hour(start)
    rows = rollup.receipts(db, full)
    if start < full:
        rows += _edge_receipts(db, start, full)
    coins, fiat = {}, {}
    for hour_text, currency, price_currency, rate, units in rows:
        n = index.get(_local_day(hour_text, zone))
        if n is None or not units:
            continue
        units = int(units)
        coins.setdefault(currency, [0] * count)[n] += units
        if rate:  # coin units times the rate, scaled to the coin once a day's sum is known
            key = (price_currency, currency)
            fiat.setdefault(key, [0] * count)[n] += units * _rate(rate)
    values = {}
    for (code, currency), sums in fiat.items():
        scaled = [Decimal(v).scaleb(-decimals.get(currency, 8)) for v in sums]
        values[code] = [a + b for a, b in zip(values.get(code, [Decimal(0)] * count), scaled)]
    return {
        "days": dates,
        "coins": coins,
        "fiat": {c: [v.quantize(Decimal("0.01")) for v in vs] for c, vs in values.items()},
    }


@functools.lru_cache(maxsize=65536)
def _rate(text):
    """A locked rate's exact value (rates repeat: each quote prices many payments)."""
    return Decimal(text)


def _payment_rows(since):
    """``[(status, received 0/1, count)]`` of the payments created since ``since``."""
    db = Payment._meta.database
    full = rollup.next_hour(since)
    rows = rollup.payments(db, full)
    if since < full:
        got = Case(None, [(Payment.amount_received > 0, 1)], 0)
        query = (
            Payment.select(Payment.status, got, fn.COUNT(Payment.id))
            .where(Payment.created_at >= since, Payment.created_at < full)
            .group_by(Payment.status, got)
            .tuples()
        )
        rows += list(query)
    return rows


def payment_figures(since):
    """``({status: count}, {"underpaid": n, "late": n})`` of the payments created since
    ``since``, from one read: every status listed; the payments that came short and are
    still open, and the expired ones whose money came (some or all) after expiry."""
    counts = dict.fromkeys(st.STATUSES, 0)
    attention = {"underpaid": 0, "late": 0}
    for status, got, n in _payment_rows(since):
        n = int(n)
        counts[status] = counts.get(status, 0) + n
        if status == st.UNDERPAID:
            attention["underpaid"] += n
        elif status == st.EXPIRED and int(got):
            attention["late"] += n
    return counts, attention


def by_status(since):
    """``{status: count}`` of the payments created since ``since`` (every status listed)."""
    return payment_figures(since)[0]


def needing_attention(since):
    """``{"underpaid": n, "late": n}`` of the payments created since ``since`` (see payment_figures)."""
    return payment_figures(since)[1]
