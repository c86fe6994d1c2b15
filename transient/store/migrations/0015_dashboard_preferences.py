"""The dashboard: each user's own language and time zone (null: the browser's language,
the ``[dashboard] time_zone``)."""

from peewee import CharField
from playhouse.migrate import migrate


def up(migrator, db):
    migrate(
        migrator.add_column("dashboard_user", "language", CharField(max_length=8, null=True)),
        migrator.add_column("dashboard_user", "time_zone", CharField(max_length=64, null=True)),
    )


def down(migrator, db):
    migrate(migrator.drop_column("dashboard_user", "language"), migrator.drop_column("dashboard_user", "time_zone"))
