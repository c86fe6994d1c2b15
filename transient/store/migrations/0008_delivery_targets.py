"""Delivery targets in the database (every process queues the same deliveries), and a
delivery's target and public id (Greenfield webhooks sign with their own secret)."""

from peewee import BigAutoField, BigIntegerField, BooleanField, CharField, DateTimeField, Model, TextField
from playhouse.migrate import migrate


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class DeliveryTarget(Base):
        id = BigAutoField()
        kind = CharField(max_length=16)
        url = TextField()
        public_id = CharField(max_length=32, null=True, unique=True)
        store_id = CharField(max_length=64, null=True)
        secret = TextField(null=True)
        enabled = BooleanField(default=True)
        automatic_redelivery = BooleanField(default=True)
        events = TextField(null=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        deleted_at = DateTimeField(null=True)

        class Meta:
            indexes = ((("kind", "deleted_at"), False),)

    db.create_tables([DeliveryTarget])
    # A plain integer column: SQLite cannot add a column with a foreign key constraint
    # to a table that has rows; the model declares the relation.
    migrate(
        migrator.add_column("delivery", "target_id", BigIntegerField(null=True)),
        migrator.add_column("delivery", "public_id", CharField(max_length=32, null=True)),
    )
    migrate(
        migrator.add_index("delivery", ("target_id", "id"), False),
        migrator.add_index("delivery", ("public_id",), False),
    )


def down(migrator, db):
    migrate(
        migrator.drop_index("delivery", "delivery_target_id_id"),
        migrator.drop_index("delivery", "delivery_public_id"),
        migrator.drop_column("delivery", "target_id"),
        migrator.drop_column("delivery", "public_id"),
    )
    db.execute_sql('DROP TABLE IF EXISTS "delivery_target"')
