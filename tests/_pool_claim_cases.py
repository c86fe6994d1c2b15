"""The address pool's claim takes the first unclaimed address of a coin in index order,
with no sort, whatever the pool's size (migration 0010's partial index). Written once,
run on SQLite in tests/unit/test_pool_claim_plan.py and on PostgreSQL in
tests/integration/test_pool_claim_plan_postgres.py."""

import datetime

from fakes import FakeBackend

from transient.payments.pool import AddressPool
from transient.store.db import is_sqlite
from transient.store.models import PooledAddress

ROWS = 6000  # enough that PostgreSQL's planner prefers an index to reading the table


def _fill(db):
    now = datetime.datetime(2026, 1, 1)
    rows = []
    for i in range(ROWS):
        # Most of the pool claimed, as after a day of payments: the old index then made the
        # claim sort every unclaimed row of the coin.
        claimed = now if i % 3 else None
        for currency in ("LTC", "BTC"):
            rows.append(
                {"currency": currency, "address": "%s%06d" % (currency, i), "created_at": now, "claimed_at": claimed}
            )
    with db.atomic():
        for start in range(0, len(rows), 500):
            PooledAddress.insert_many(rows[start : start + 500]).execute()
    if not is_sqlite(db):
        db.execute_sql("ANALYZE pooled_address")


def _plan(db, sql, params):
    if is_sqlite(db):
        return "\n".join(str(row[-1]) for row in db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall())
    return "\n".join(row[0] for row in db.execute_sql("EXPLAIN " + sql, params).fetchall())


def test_the_claim_reads_the_partial_index_in_order(db):
    _fill(db)
    pool = AddressPool("LTC", FakeBackend("LTC", {}), db, size=10)
    plan = _plan(db, pool._claim_sql, (datetime.datetime(2026, 1, 2), None, "LTC"))
    assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan
    if is_sqlite(db):
        # SQLite takes IS NULL as an equality: either index gives the order, it picks the covering one.
        assert "USING COVERING INDEX pooled_address_currency_claimed_at_id" in plan, plan
    else:
        assert "pooled_address_unclaimed" in plan, plan


def test_claims_take_the_unclaimed_addresses_in_order(db):
    _fill(db)
    pool = AddressPool("LTC", FakeBackend("LTC", {}), db, size=10)
    with db.atomic():
        taken = [pool.claim()[0] for _ in range(3)]
    assert taken == ["LTC000000", "LTC000003", "LTC000006"]


def test_a_refill_tops_up_what_payments_took_while_it_ran(db):
    backend = FakeBackend("LTC", {})
    pool = AddressPool("LTC", backend, db, size=30)
    pool.batch = 10
    made = backend.new_addresses

    taken = []

    def slow_node(count, label=None):  # payments claim addresses while the node works
        if len(taken) < 2:
            with db.atomic():
                taken.append(pool.claim())
        return made(count, label)

    backend.new_addresses = slow_node
    pool.refill()
    assert pool.available() == 30 and taken[1] is not None and pool.behind is None
