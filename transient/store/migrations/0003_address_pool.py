"""The address pool: fresh addresses fetched from the node ahead of payments."""

from peewee import BigAutoField, CharField, DateTimeField, Model


def up(migrator, db):
    # A frozen copy of the model as it was at this migration.
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class PooledAddress(Base):
        id = BigAutoField()
        currency = CharField(max_length=10)
        address = CharField(max_length=128)
        label = CharField(max_length=255, null=True)
        created_at = DateTimeField()
        claimed_at = DateTimeField(null=True)

        class Meta:
            indexes = ((("currency", "address"), True), (("currency", "claimed_at", "id"), False))

    db.create_tables([PooledAddress])


def down(migrator, db):
    db.execute_sql('DROP TABLE IF EXISTS "pooled_address"')
