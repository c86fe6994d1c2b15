"""Fiat rates: the stored quotes, the per-pair refresh lease, and a payment's price."""

from peewee import BigAutoField, CharField, DateTimeField, Model, TextField
from playhouse.migrate import migrate


def up(migrator, db):
    # Frozen copies of the models as they were at this migration.
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class RateQuote(Base):
        id = BigAutoField()
        pair = CharField(max_length=24)
        source = CharField(max_length=64)
        rate = TextField(null=True)
        fetched_at = DateTimeField(null=True)
        error = TextField(null=True)
        error_at = DateTimeField(null=True)

        class Meta:
            indexes = ((("pair", "source"), True),)

    class RatePair(Base):
        pair = CharField(max_length=24, primary_key=True)
        lease_holder = CharField(max_length=128, null=True)
        lease_expires = DateTimeField(null=True)
        due_at = DateTimeField(null=True)
        refreshed_at = DateTimeField(null=True)

    db.create_tables([RateQuote, RatePair])
    migrate(
        migrator.add_column("payment", "price", TextField(null=True)),
        migrator.add_column("payment", "price_currency", CharField(max_length=3, null=True)),
        migrator.add_column("payment", "rate", TextField(null=True)),
        migrator.add_column("payment", "rate_sources", TextField(null=True)),
        migrator.add_column("payment", "rate_at", DateTimeField(null=True)),
    )


def down(migrator, db):
    migrate(
        *(
            migrator.drop_column("payment", name)
            for name in ("price", "price_currency", "rate", "rate_sources", "rate_at")
        )
    )
    db.execute_sql('DROP TABLE IF EXISTS "rate_pair"')
    db.execute_sql('DROP TABLE IF EXISTS "rate_quote"')
