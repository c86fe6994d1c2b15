"""Greenfield invoice lists filtered by status in SQL: an index of ``(store_id, status,
created_at)``.

The status is the one the projection keeps (``invoice.status``: stored at create, moved
in the transaction of each payment event, set by a mark) since 0007, so there is nothing
to backfill from the payments; the one change the clock makes alone (New -> Expired at
``expires_at``) is read from ``expires_at`` beside it (greenfield.shapes.status_now)."""

NAME = "invoice_store_id_status_created_at"


def up(migrator, db):
    db.execute_sql('CREATE INDEX IF NOT EXISTS "%s" ON "invoice" ("store_id", "status", "created_at")' % NAME)


def down(migrator, db):
    db.execute_sql('DROP INDEX IF EXISTS "%s"' % NAME)
