"""The overview's totals kept by triggers (migration 0017) agree with the rows they sum,
through every way the ledger changes: creates, status changes written by a model's save
and by the sync's executemany, a receipt matched late, conflicted and back, removed, a
payment and a receipt deleted; windows beginning on and off the hour; on PostgreSQL with
the deltas folded and not. Written once, run on SQLite by tests/unit/test_rollup.py and
on PostgreSQL by tests/integration/test_rollup_postgres.py."""

import datetime
import time
import uuid
import zoneinfo
from decimal import Decimal

from transient.core import status as st
from transient.reports import rollup, summary
from transient.store.db import is_sqlite, save_fields
from transient.store.models import Payment, Receipt

NOW = datetime.datetime(2026, 12, 7, 21, 40, 0)
ZONES = [zoneinfo.ZoneInfo(z) for z in ("UTC", "Asia/Kolkata", "America/New_York")]
DECIMALS = {"LTC": 8, "DOGE": 8}


def _payment(n, status="UNPAID", received=0, priced=True, at=None):
    at = at or NOW - datetime.timedelta(hours=7 * n, minutes=13 * n)
    return Payment.create(
        id=uuid.uuid4(),
        currency="LTC" if n % 3 else "DOGE",
        amount=150_000_000,
        address="addr%d" % n,
        status=status,
        confirmations_required=1,
        amount_received=received,
        created_at=at,
        updated_at=at,
        price="94.76" if priced else None,
        price_currency=("EUR" if n % 2 else "USD") if priced else None,
        rate=("63.%02d" % n) if priced else None,
    )


def _receipt(n, payment, state="pending", amount=150_000_000):
    return Receipt.create(
        currency=payment.currency if payment else "LTC",
        txid="%064x" % n,
        output="0",
        address=payment.address if payment else "stray%d" % n,
        amount=amount,
        payment=payment,
        state=state,
        first_seen=(payment.created_at if payment else NOW) + datetime.timedelta(minutes=n % 50),
    )


def _truth(zone):
    """The overview's figures summed from the rows themselves (no index, no rollup)."""
    dates, start = summary.days(NOW, zone, 14)
    index = {d: n for n, d in enumerate(dates)}
    coins, fiat = {}, {}
    for r in Receipt.select().where(Receipt.first_seen >= start, Receipt.state.in_(Receipt.COUNTED)):
        if r.payment_id is None:
            continue
        n = index.get(summary._local_day(r.first_seen.strftime("%Y-%m-%d %H"), zone))
        if n is None:  # days are made of UTC hours: an hour that began the day before is not in the window
            continue
        p = Payment.get_by_id(r.payment_id)
        coins.setdefault(r.currency, [0] * 14)[n] += r.amount
        if p.rate:
            value = Decimal(r.amount).scaleb(-8) * Decimal(p.rate)
            fiat.setdefault(p.price_currency, [Decimal(0)] * 14)[n] += value
    fiat = {c: [v.quantize(Decimal("0.01")) for v in vs] for c, vs in fiat.items()}
    counts = dict.fromkeys(st.STATUSES, 0)
    underpaid = late = 0
    for p in Payment.select().where(Payment.created_at >= start):
        counts[p.status] += 1
        underpaid += p.status == st.UNDERPAID
        late += p.status == st.EXPIRED and p.amount_received > 0
    return {"days": dates, "coins": coins, "fiat": fiat}, counts, {"underpaid": underpaid, "late": late}


def _check(db):
    for zone in ZONES:
        _, since = summary.days(NOW, zone, 14)
        got = summary.received(db, NOW, zone, DECIMALS, 14), summary.by_status(since), summary.needing_attention(since)
        assert got == _truth(zone), zone


def _ledger():
    payments = [_payment(n, priced=n % 4 != 0) for n in range(50)]
    receipts = [_receipt(n, p) for n, p in enumerate(payments[:30])]
    stray = _receipt(99, None)
    # In Asia/Kolkata's window, the first half-hour (18:30 UTC) read from the rows themselves.
    edge = _payment(60, at=datetime.datetime(2026, 11, 24, 18, 40))
    receipts.append(_receipt(5, edge))
    return payments, receipts, stray


def test_the_totals_follow_every_change_of_the_ledger(db):
    payments, receipts, stray = _ledger()
    _check(db)
    for p in payments[:10]:  # a model's save
        p.status, p.amount_received = st.PAID, 150_000_000
        p.save()
    for p in payments[10:20]:  # the sync's executemany
        p.status, p.amount_received = (st.UNDERPAID, 50_000_000) if p.currency == "LTC" else (st.EXPIRED, 0)
    save_fields(Payment, [Payment.status, Payment.amount_received], payments[10:20])
    _check(db)
    late = [p for p in payments[10:20] if p.status == st.EXPIRED]
    for p in late:  # money after expiry: the status stays, the late count grows
        p.amount_received = 150_000_000
    save_fields(Payment, [Payment.amount_received], late)
    for r in receipts[:5]:
        r.state = Receipt.CONFIRMED
    save_fields(Receipt, [Receipt.state], receipts[:5])
    _check(db)
    receipts[5].state = Receipt.CONFLICTED
    receipts[5].save()
    receipts[6].state = Receipt.REMOVED
    receipts[6].save()
    _check(db)
    receipts[5].state = Receipt.PENDING  # back from a conflict
    receipts[5].save()
    stray.payment = payments[40]  # matched late
    stray.save()
    Payment.update(event_seq=Payment.event_seq + 1).execute()  # no column the totals read
    _check(db)
    receipts[7].delete_instance()
    Receipt.delete().where(Receipt.payment == payments[45]).execute()
    payments[45].delete_instance()
    _check(db)


def test_a_fold_keeps_the_totals_and_a_reader_sums_what_is_not_folded(db):
    payments, _, _ = _ledger()
    rollup.fold(db, at_least=1)  # PostgreSQL: the deltas into the totals; SQLite: nothing to fold
    _check(db)
    for p in payments[20:30]:
        p.status = st.EXPIRED
    save_fields(Payment, [Payment.status], payments[20:30])
    _check(db)  # folded totals and fresh deltas together
    assert rollup.fold(db, at_least=10**6) is False
    rollup.fold(db, at_least=1)
    _check(db)


def test_the_background_folder_folds_without_a_reader(db):
    _ledger()
    deltas = 'SELECT COUNT(*) FROM "payment_rollup_delta"'
    waiting = db.execute_sql(deltas).fetchone()[0]
    assert waiting == (0 if is_sqlite(db) else Payment.select().count())  # SQLite adds to its totals at once
    folder = rollup.Folder(db, interval=0.02, at_least=1)
    folder.start()
    try:
        deadline = time.monotonic() + 10
        while db.execute_sql(deltas).fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        folder.stop()
    assert db.execute_sql(deltas).fetchone()[0] == 0
    _check(db)
