"""Watch-only wallets: each payment's derivation index and key, the pool's index, and
the per-key counter that hands indexes out."""

from peewee import BigAutoField, CharField, DateTimeField, IntegerField, Model, TextField
from playhouse.migrate import migrate


def up(migrator, db):
    # A frozen copy of the new model as it was at this migration; it refers to no
    # table of 0004 or 0005.
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class WatchKey(Base):
        id = BigAutoField()
        currency = CharField(max_length=10)
        descriptor = TextField()
        fingerprint = CharField(max_length=8)
        next_index = IntegerField(default=0)
        registered_end = IntegerField(default=0)
        created_at = DateTimeField()

        class Meta:
            indexes = ((("currency", "fingerprint"), True),)  # one counter per key

    db.create_tables([WatchKey])
    migrate(
        migrator.add_column("payment", "derivation_index", IntegerField(null=True)),
        migrator.add_column("payment", "key_fingerprint", CharField(max_length=8, null=True)),
        migrator.add_column("pooled_address", "derivation_index", IntegerField(null=True)),
    )
    # An index of a key is handed out once: the database refuses a second payment on it.
    migrate(migrator.add_index("payment", ("currency", "key_fingerprint", "derivation_index"), True))


def down(migrator, db):
    migrate(
        migrator.drop_index("payment", "payment_currency_key_fingerprint_derivation_index"),
        migrator.drop_column("payment", "derivation_index"),
        migrator.drop_column("payment", "key_fingerprint"),
        migrator.drop_column("pooled_address", "derivation_index"),
    )
    db.execute_sql('DROP TABLE IF EXISTS "watch_key"')
