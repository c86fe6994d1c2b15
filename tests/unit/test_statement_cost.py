"""The database statements a sync and a create cost (issue 19), counted at the cursor:
a sync's cost must not grow by more than a fraction of a statement per payment it
touches (it rendered each one's event body with two queries of its own before: about two
per payment). Counts, not timings: they do not depend on the machine. bench/db_cost.py
prints the figures of every operation on SQLite and PostgreSQL."""

import uuid

import pytest
from fakes import FakeBackend

from transient.chain.sync import Syncer
from transient.core import status as S
from transient.core.clock import utcnow
from transient.delivery.outbox import Outbox
from transient.payments.rendering import Renderer
from transient.store import migrations
from transient.store.db import open_database
from transient.store.models import Payment

HOOK = "http://127.0.0.1:9/hook"


class Statements:
    """Counts what the code sends through ``db.cursor()`` (BEGIN/COMMIT aside)."""

    def __init__(self, db):
        self.count = 0
        cursor, counter = db.cursor, self

        class Counted:
            def __init__(self, inner):
                self._inner = inner

            def execute(self, sql, params=()):
                if not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")):
                    counter.count += 1
                return self._inner.execute(sql, params)

            def executemany(self, sql, rows):
                counter.count += 1
                return self._inner.executemany(sql, rows)

            def __getattr__(self, name):
                return getattr(self._inner, name)

        db.cursor = lambda *a, **kw: Counted(cursor(*a, **kw))

    def take(self):
        count, self.count = self.count, 0
        return count


@pytest.fixture
def shop(tmp_path):
    db = open_database("sqlite:///%s" % (tmp_path / "t.db"))
    migrations.apply(db)
    backend = FakeBackend("LTC", {})
    outbox = Outbox(Renderer({"LTC": (backend, {})}), HOOK)
    syncer = Syncer("LTC", backend, 1, db, outbox)
    syncer.run()
    yield db, backend, outbox, syncer
    db.close()


def _payments(backend, n):
    now = utcnow()
    return [
        Payment.create(
            id=uuid.uuid4(),
            currency="LTC",
            amount=1000,
            address=backend.new_address(),
            status=S.UNPAID,
            confirmations_required=1,
            created_at=now,
            updated_at=now,
        )
        for _ in range(n)
    ]


def _sync_cost(shop, n):
    db, backend, _, syncer = shop
    pays = _payments(backend, n)
    counter = Statements(db)
    backend.pay_many({p.address: 1000 for p in pays})
    syncer.run()
    mempool = counter.take()
    backend.mine(1)
    syncer.run()
    return mempool, counter.take()


def test_a_sync_costs_a_fraction_of_a_statement_per_payment(shop):
    small, large = _sync_cost(shop, 10), _sync_cost(shop, 50)
    for phase in (0, 1):  # mempool, block
        per_payment = (large[phase] - small[phase]) / 40
        assert per_payment < 0.5, (phase, small, large)
