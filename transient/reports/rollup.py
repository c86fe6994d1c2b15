"""The overview's totals kept by the database (migration 0017): a reader sums the totals
of the whole UTC hours it asks for, plus on PostgreSQL the deltas not folded in yet, so
an overview reads a few hundred rows whatever the ledger holds. ``fold`` moves
PostgreSQL's deltas into the totals (one transaction, one folder at a time)."""

import datetime

from ..store.background import DatabaseJob
from ..store.db import is_sqlite

FOLD_AFTER = 2000  # deltas: a reader sums them until a fold, so a fold comes before they cost
FOLD_LOCK = 0x7472616E73  # the advisory lock that lets one folder run at a time

PAYMENTS = (  # unsummed: the caller adds up (a GROUP BY over the union cost SQLite a sort)
    'SELECT "status", "received", "n" FROM "payment_rollup" WHERE "hour" >= {p}'
    ' UNION ALL SELECT "status", "received", "n" FROM "payment_rollup_delta" WHERE "hour" >= {p}'
)
RECEIPTS = (
    'SELECT "hour", "currency", "price_currency", "rate", "amount" FROM "receipt_rollup" WHERE "hour" >= {p}'
    ' UNION ALL SELECT "hour", "currency", "price_currency", "rate", "amount" FROM "receipt_rollup_delta"'
    ' WHERE "hour" >= {p}'
)
FOLDS = (
    'WITH moved AS (DELETE FROM "payment_rollup_delta" RETURNING *) INSERT INTO "payment_rollup"'
    ' SELECT "hour", "status", "received", SUM("n") FROM moved GROUP BY 1, 2, 3 ORDER BY 1, 2, 3'
    ' ON CONFLICT ("hour", "status", "received") DO UPDATE SET "n" = "payment_rollup"."n" + excluded."n"',
    'WITH moved AS (DELETE FROM "receipt_rollup_delta" RETURNING *) INSERT INTO "receipt_rollup"'
    ' SELECT "hour", "currency", "price_currency", "rate", SUM("amount") FROM moved GROUP BY 1, 2, 3, 4'
    ' ORDER BY 1, 2, 3, 4 ON CONFLICT ("hour", "currency", "price_currency", "rate")'
    ' DO UPDATE SET "amount" = "receipt_rollup"."amount" + excluded."amount"',
)


def hour_text(at):
    """The rollup's key of the UTC hour holding ``at`` (naive UTC)."""
    return at.strftime("%Y-%m-%d %H")


def next_hour(at):
    """``at`` when it begins an hour, else the start of the next hour."""
    floor = at.replace(minute=0, second=0, microsecond=0)
    return floor if floor == at else floor + datetime.timedelta(hours=1)


def _rows(db, sql, at):
    return list(db.execute_sql(sql.format(p=db.param), (hour_text(at), hour_text(at))))


def payments(db, since):
    """``[(status, received 0/1, count)]`` of the payments created in the hours from ``since``
    (which begins an hour) on; a key may come more than once (its parts add up)."""
    return _rows(db, PAYMENTS, since)


def receipts(db, since):
    """``[(hour text, coin, fiat code or "", rate or "", units)]``: the counted receipts of
    payments first seen in the hours from ``since`` (which begins an hour) on; a key may
    come more than once (its parts add up)."""
    return _rows(db, RECEIPTS, since)


def fold(db, at_least=FOLD_AFTER):
    """On PostgreSQL, move the deltas into the totals once there are ``at_least`` of them
    (another process folding meanwhile: this one leaves it). Return whether it folded."""
    if is_sqlite(db):
        return False
    (waiting,) = db.execute_sql(
        'SELECT COUNT(*) FROM (SELECT 1 FROM "payment_rollup_delta" LIMIT %d) a' % at_least
    ).fetchone()
    (more,) = db.execute_sql(
        'SELECT COUNT(*) FROM (SELECT 1 FROM "receipt_rollup_delta" LIMIT %d) a' % at_least
    ).fetchone()
    if max(waiting, more) < at_least:
        return False
    with db.atomic():
        (locked,) = db.execute_sql("SELECT pg_try_advisory_xact_lock(%d)" % FOLD_LOCK).fetchone()
        if not locked:
            return False
        for sql in FOLDS:
            db.execute_sql(sql)
    return True


class Folder(DatabaseJob):
    """Folds PostgreSQL's deltas every ``interval`` seconds in the background, so they stay
    few even when no one opens the overview (a reader folds too). Each process runs one;
    the advisory lock lets one fold at a time."""

    name = "rollup-fold"
    what = "the overview's totals: folding the deltas"

    def __init__(self, db, interval=60, at_least=FOLD_AFTER):
        super().__init__(db, interval)
        self.at_least = at_least

    def run_round(self):
        fold(self.db, self.at_least)
