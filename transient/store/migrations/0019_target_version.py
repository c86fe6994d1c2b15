"""The delivery targets' version: one row whose number grows in the transaction of
every change of ``delivery_target`` (a trigger, so no writer can forget it, whichever
process or tool it is). A process keeps the targets in memory and reads this one
integer per event batch instead of the targets themselves."""

from transient.store.db import is_sqlite

TABLE = "delivery_target_version"
TRIGGER = "delivery_target_changed"
BUMP = 'UPDATE "%s" SET "version" = "version" + 1 WHERE "id" = 1' % TABLE


def up(migrator, db):
    db.execute_sql('CREATE TABLE IF NOT EXISTS "%s" ("id" INTEGER PRIMARY KEY, "version" BIGINT NOT NULL)' % TABLE)
    db.execute_sql('INSERT INTO "%s" ("id", "version") VALUES (1, 0)' % TABLE)
    if is_sqlite(db):
        for op in ("INSERT", "UPDATE", "DELETE"):
            db.execute_sql(
                'CREATE TRIGGER IF NOT EXISTS "%s_%s" AFTER %s ON "delivery_target" BEGIN %s; END'
                % (TRIGGER, op.lower(), op, BUMP)
            )
    else:
        db.execute_sql(
            'CREATE OR REPLACE FUNCTION "%s"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN %s; RETURN NULL; END $$'
            % (TRIGGER, BUMP)
        )
        db.execute_sql(
            'CREATE TRIGGER "%s" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON "delivery_target"'
            ' FOR EACH STATEMENT EXECUTE PROCEDURE "%s"()' % (TRIGGER, TRIGGER)
        )


def down(migrator, db):
    if is_sqlite(db):
        for op in ("insert", "update", "delete"):
            db.execute_sql('DROP TRIGGER IF EXISTS "%s_%s"' % (TRIGGER, op))
    else:
        db.execute_sql('DROP TRIGGER IF EXISTS "%s" ON "delivery_target"' % TRIGGER)
        db.execute_sql('DROP FUNCTION IF EXISTS "%s"()' % TRIGGER)
    db.execute_sql('DROP TABLE IF EXISTS "%s"' % TABLE)
