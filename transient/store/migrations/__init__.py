"""Schema migrations, applied by ``transient migrate`` (peewee's migration runner)."""

import os

from ...core.errors import NotMigrated, SchemaTooNew

DIRECTORY = os.path.dirname(os.path.abspath(__file__))


def runner(db):
    # Here, not at import: a worker never migrates (the start-up check did), ~0.6 MB.
    from playhouse.migrations import Runner

    return Runner(db, DIRECTORY, table_name="transient_migrations")


def pending(db):
    """Return the names of the migrations not yet applied to ``db``."""
    return [m.name for m in runner(db).status() if m.path and not m.applied]


def unknown(db):
    """Return the names of the migrations applied to ``db`` that this version has no file of
    (a newer Transient migrated it)."""
    return [m.name for m in runner(db).status() if m.applied and not m.path]


def refuse_newer(db):
    """Raise SchemaTooNew when a newer Transient migrated ``db``: running on a schema this
    code does not know could write rows the newer one misreads, so it stops at start."""
    newer = unknown(db)
    if newer:
        raise SchemaTooNew(
            "the database's schema is newer than this Transient knows (migration(s) %s applied):"
            " run the version that migrated it, or restore a backup taken before the upgrade" % ", ".join(newer)
        )


def apply(db):
    """Apply every pending migration; return the names applied. Raises SchemaTooNew first
    when a newer version migrated ``db``."""
    refuse_newer(db)
    return runner(db).up()


def check(db):
    """Raise SchemaTooNew when a newer version migrated ``db``, NotMigrated when it lacks
    migrations."""
    refuse_newer(db)
    todo = pending(db)
    if todo:
        raise NotMigrated(
            "the database has %d pending migration(s) (%s): run `transient migrate`"
            " or set database.auto_migrate = true" % (len(todo), ", ".join(todo))
        )
