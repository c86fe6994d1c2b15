"""The address pool's claim in constant time: a partial index of the unclaimed rows.

The claim asks for ``currency = ? AND claimed_at IS NULL ORDER BY id LIMIT 1``.
PostgreSQL does not take ``IS NULL`` as an equality for the order of the
``(currency, claimed_at, id)`` index, so it sorted every unclaimed row of the coin on
each claim (2.6 ms at 12 000 addresses, 4.8 ms at 24 000). An index of ``(currency, id)``
holding only the unclaimed rows gives the order directly, on both databases."""

NAME = "pooled_address_unclaimed"


def up(migrator, db):
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "%s" ON "pooled_address" ("currency", "id") WHERE "claimed_at" IS NULL' % NAME
    )


def down(migrator, db):
    db.execute_sql('DROP INDEX IF EXISTS "%s"' % NAME)
