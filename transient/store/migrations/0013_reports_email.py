"""Reports and e-mail: when each receipt reached its confirmations, the index the
receipts report walks (first seen, id), and a payment's customer e-mail address."""

from peewee import CharField, DateTimeField
from playhouse.migrate import migrate


def up(migrator, db):
    migrate(
        # Receipts confirmed before this migration keep a null: their time was not kept,
        # and a made-up one would be worse in an accountant's file than none.
        migrator.add_column("receipt", "confirmed_at", DateTimeField(null=True)),
        migrator.add_column("payment", "email", CharField(max_length=254, null=True)),
    )
    migrate(migrator.add_index("receipt", ("first_seen", "id"), False))


def down(migrator, db):
    migrate(
        migrator.drop_index("receipt", "receipt_first_seen_id"),
        migrator.drop_column("receipt", "confirmed_at"),
        migrator.drop_column("payment", "email"),
    )
