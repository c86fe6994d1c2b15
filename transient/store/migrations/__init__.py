"""Schema migrations, applied by ``transient migrate`` (peewee's migration runner)."""

import os

from playhouse.migrations import Runner

from ...core.errors import NotMigrated

DIRECTORY = os.path.dirname(os.path.abspath(__file__))


def runner(db):
    return Runner(db, DIRECTORY, table_name="transient_migrations")


def pending(db):
    """Return the names of the migrations not yet applied to ``db``."""
    return [m.name for m in runner(db).status() if m.path and not m.applied]


def apply(db):
    """Apply every pending migration; return the names applied."""
    return runner(db).up()


def check(db):
    """Raise NotMigrated when ``db`` lacks migrations."""
    todo = pending(db)
    if todo:
        raise NotMigrated(
            "the database has %d pending migration(s) (%s): run `transient migrate`"
            " or set database.auto_migrate = true" % (len(todo), ", ".join(todo))
        )
