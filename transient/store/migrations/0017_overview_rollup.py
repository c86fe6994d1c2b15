"""The overview's totals, kept by the database: payments counted per UTC hour of creation,
status and whether money came (``payment_rollup``), and the counted receipts' amounts per
UTC hour first seen, coin and their payment's locked rate (``receipt_rollup``). Triggers
keep them in the transaction of every change of ``payment`` and ``receipt``, so no writer
can forget them; the migration fills them from the rows already stored.

On SQLite (one writer) a trigger adds to its total at once. On PostgreSQL a trigger only
appends a delta row (``*_rollup_delta``): concurrent writers then share no row to lock
(creates in the same hour would queue on one counter, and two transactions adding to
totals in a different order could deadlock); reports.rollup folds the deltas into the
totals now and then, under an advisory lock. A reader sums totals and deltas."""

from transient.store.db import is_sqlite

COUNTED = "('pending', 'confirmed')"
TABLES = (
    'CREATE TABLE IF NOT EXISTS "payment_rollup%s" ("hour" VARCHAR(13) NOT NULL, "status" VARCHAR(16) NOT NULL,'
    ' "received" SMALLINT NOT NULL, "n" BIGINT NOT NULL%s)',
    'CREATE TABLE IF NOT EXISTS "receipt_rollup%s" ("hour" VARCHAR(13) NOT NULL, "currency" VARCHAR(10) NOT NULL,'
    ' "price_currency" VARCHAR(3) NOT NULL, "rate" TEXT NOT NULL, "amount" %s NOT NULL%s)',
)
PAYMENT_KEY = ', PRIMARY KEY ("hour", "status", "received")'
RECEIPT_KEY = ', PRIMARY KEY ("hour", "currency", "price_currency", "rate")'


def hour(sqlite, column):
    """SQL of the UTC hour of a timestamp column as text, "2026-12-07 21"."""
    if sqlite:
        return "replace(substr(%s, 1, 13), 'T', ' ')" % column
    return "to_char(%s, 'YYYY-MM-DD HH24')" % column


def _tables(db):
    big = "INTEGER" if is_sqlite(db) else "NUMERIC(40)"
    db.execute_sql(TABLES[0] % ("", PAYMENT_KEY))
    db.execute_sql(TABLES[1] % ("", big, RECEIPT_KEY))
    db.execute_sql(TABLES[0] % ("_delta", ""))
    db.execute_sql(TABLES[1] % ("_delta", big, ""))


def _backfill(db):
    db.execute_sql(
        'INSERT INTO "payment_rollup" ("hour", "status", "received", "n")'
        ' SELECT %s, "status", CASE WHEN "amount_received" > 0 THEN 1 ELSE 0 END, COUNT(*) FROM "payment"'
        " GROUP BY 1, 2, 3" % hour(is_sqlite(db), '"created_at"')
    )
    db.execute_sql(
        'INSERT INTO "receipt_rollup" ("hour", "currency", "price_currency", "rate", "amount")'
        ' SELECT %s, r."currency", CASE WHEN p."rate" IS NULL THEN \'\' ELSE COALESCE(p."price_currency", \'\') END,'
        ' COALESCE(p."rate", \'\'), SUM(r."amount") FROM "receipt" r JOIN "payment" p ON p."id" = r."payment_id"'
        ' WHERE r."state" IN %s GROUP BY 1, 2, 3, 4' % (hour(is_sqlite(db), 'r."first_seen"'), COUNTED)
    )


def _sqlite_payment_add(row, sign):
    return (
        'INSERT INTO "payment_rollup" ("hour", "status", "received", "n") VALUES (%s, %s."status",'
        ' %s."amount_received" > 0, %d) ON CONFLICT ("hour", "status", "received")'
        ' DO UPDATE SET "n" = "n" + excluded."n";' % (hour(True, row + '."created_at"'), row, row, sign)
    )


def _sqlite_receipt_add(row, sign):
    return (
        'INSERT INTO "receipt_rollup" ("hour", "currency", "price_currency", "rate", "amount")'
        ' SELECT %s, %s."currency", CASE WHEN p."rate" IS NULL THEN \'\' ELSE COALESCE(p."price_currency", \'\') END,'
        ' COALESCE(p."rate", \'\'), %s%s."amount" FROM "payment" p WHERE p."id" = %s."payment_id" AND %s."state" IN %s'
        ' ON CONFLICT ("hour", "currency", "price_currency", "rate")'
        ' DO UPDATE SET "amount" = "amount" + excluded."amount";'
        % (hour(True, row + '."first_seen"'), row, "" if sign > 0 else "-", row, row, row, COUNTED)
    )


PAYMENT_CHANGED = (
    'OLD."status" IS NOT NEW."status" OR (OLD."amount_received" > 0) IS NOT (NEW."amount_received" > 0)'
    ' OR OLD."created_at" IS NOT NEW."created_at"'
)
RECEIPT_CHANGED = (
    'OLD."state" IS NOT NEW."state" OR OLD."payment_id" IS NOT NEW."payment_id" OR OLD."amount" IS NOT NEW."amount"'
    ' OR OLD."first_seen" IS NOT NEW."first_seen" OR OLD."currency" IS NOT NEW."currency"'
)
PAYMENT_COLUMNS = '"status", "amount_received", "created_at"'
RECEIPT_COLUMNS = '"state", "payment_id", "amount", "first_seen", "currency"'


def _sqlite_triggers(db):
    for table, add, changed, columns in (
        ("payment", _sqlite_payment_add, PAYMENT_CHANGED, PAYMENT_COLUMNS),
        ("receipt", _sqlite_receipt_add, RECEIPT_CHANGED, RECEIPT_COLUMNS),
    ):
        name = table + "_rollup"
        db.execute_sql('CREATE TRIGGER "%s_insert" AFTER INSERT ON "%s" BEGIN %s END' % (name, table, add("NEW", 1)))
        db.execute_sql(
            'CREATE TRIGGER "%s_update" AFTER UPDATE OF %s ON "%s" WHEN %s BEGIN %s %s END'
            % (name, columns, table, changed, add("OLD", -1), add("NEW", 1))
        )
        db.execute_sql('CREATE TRIGGER "%s_delete" AFTER DELETE ON "%s" BEGIN %s END' % (name, table, add("OLD", -1)))


PG_PAYMENT = """
CREATE OR REPLACE FUNCTION "payment_rollup"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    INSERT INTO "payment_rollup_delta" VALUES (to_char(OLD."created_at", 'YYYY-MM-DD HH24'), OLD."status",
      CASE WHEN OLD."amount_received" > 0 THEN 1 ELSE 0 END, -1);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO "payment_rollup_delta" VALUES (to_char(NEW."created_at", 'YYYY-MM-DD HH24'), NEW."status",
      CASE WHEN NEW."amount_received" > 0 THEN 1 ELSE 0 END, 1);
  END IF;
  RETURN NULL;
END $$"""

PG_RECEIPT = """
CREATE OR REPLACE FUNCTION "receipt_rollup"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND OLD."state" IN %(counted)s THEN
    INSERT INTO "receipt_rollup_delta" SELECT to_char(OLD."first_seen", 'YYYY-MM-DD HH24'), OLD."currency",
      CASE WHEN p."rate" IS NULL THEN '' ELSE COALESCE(p."price_currency", '') END, COALESCE(p."rate", ''),
      -OLD."amount" FROM "payment" p WHERE p."id" = OLD."payment_id";
  END IF;
  IF TG_OP <> 'DELETE' AND NEW."state" IN %(counted)s THEN
    INSERT INTO "receipt_rollup_delta" SELECT to_char(NEW."first_seen", 'YYYY-MM-DD HH24'), NEW."currency",
      CASE WHEN p."rate" IS NULL THEN '' ELSE COALESCE(p."price_currency", '') END, COALESCE(p."rate", ''),
      NEW."amount" FROM "payment" p WHERE p."id" = NEW."payment_id";
  END IF;
  RETURN NULL;
END $$""" % {"counted": COUNTED}


PG_EMPTIED = """
CREATE OR REPLACE FUNCTION "%(table)s_rollup_emptied"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM "%(table)s_rollup"; DELETE FROM "%(table)s_rollup_delta"; RETURN NULL;
END $$"""


def _pg_triggers(db):
    db.execute_sql(PG_PAYMENT)
    db.execute_sql(PG_RECEIPT)
    for table in ("payment", "receipt"):  # TRUNCATE fires no row trigger: it empties the totals itself
        db.execute_sql(PG_EMPTIED % {"table": table})
        db.execute_sql(
            'CREATE TRIGGER "%s_rollup_truncate" AFTER TRUNCATE ON "%s" FOR EACH STATEMENT EXECUTE PROCEDURE'
            ' "%s_rollup_emptied"()' % (table, table, table)
        )
    for table, changed, columns in (
        ("payment", PAYMENT_CHANGED, PAYMENT_COLUMNS),
        ("receipt", RECEIPT_CHANGED, RECEIPT_COLUMNS),
    ):
        name = table + "_rollup"
        changed = changed.replace(" IS NOT ", " IS DISTINCT FROM ")
        for op, when in (("INSERT", ""), ("UPDATE OF " + columns, " WHEN (%s)" % changed), ("DELETE", "")):
            db.execute_sql(
                'CREATE TRIGGER "%s_%s" AFTER %s ON "%s" FOR EACH ROW%s EXECUTE PROCEDURE "%s"()'
                % (name, op.split()[0].lower(), op, table, when, name)
            )


def up(migrator, db):
    _tables(db)
    _backfill(db)
    if is_sqlite(db):
        _sqlite_triggers(db)
    else:
        _pg_triggers(db)


def down(migrator, db):
    for table in ("payment", "receipt"):
        for op in ("insert", "update", "delete", "truncate"):
            if is_sqlite(db):
                db.execute_sql('DROP TRIGGER IF EXISTS "%s_rollup_%s"' % (table, op))
            else:
                db.execute_sql('DROP TRIGGER IF EXISTS "%s_rollup_%s" ON "%s"' % (table, op, table))
        if not is_sqlite(db):
            db.execute_sql('DROP FUNCTION IF EXISTS "%s_rollup"()' % table)
            db.execute_sql('DROP FUNCTION IF EXISTS "%s_rollup_emptied"()' % table)
        db.execute_sql('DROP TABLE IF EXISTS "%s_rollup_delta"' % table)
        db.execute_sql('DROP TABLE IF EXISTS "%s_rollup"' % table)
