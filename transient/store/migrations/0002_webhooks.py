"""Webhook deliveries and their log; per-payment callback and redirect URLs."""

from peewee import BigAutoField, CharField, DateTimeField, ForeignKeyField, IntegerField, Model, TextField, UUIDField
from playhouse.migrate import migrate


def up(migrator, db):
    # Frozen copies: only the columns these tables refer to.
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Payment(Base):
        id = UUIDField(primary_key=True)

    class Event(Base):
        id = BigAutoField()

    class Delivery(Base):
        id = BigAutoField()
        event = ForeignKeyField(Event, on_delete="RESTRICT")
        payment = ForeignKeyField(Payment, on_delete="RESTRICT")
        sequence = IntegerField()
        url = TextField()
        body = TextField()
        state = CharField(max_length=10)
        attempts = IntegerField(default=0)
        next_attempt_at = DateTimeField()
        lease_holder = CharField(max_length=128, null=True)
        lease_expires = DateTimeField(null=True)
        last_status = IntegerField(null=True)
        last_error = TextField(null=True)
        delivered_at = DateTimeField(null=True)
        created_at = DateTimeField()
        redelivery_of = ForeignKeyField("self", null=True, on_delete="RESTRICT")

        class Meta:
            indexes = ((("state", "next_attempt_at"), False), (("payment", "state", "sequence"), False))

    class DeliveryAttempt(Base):
        id = BigAutoField()
        delivery = ForeignKeyField(Delivery, on_delete="CASCADE")
        number = IntegerField()
        started_at = DateTimeField()
        duration_ms = IntegerField()
        status_code = IntegerField(null=True)
        error = TextField(null=True)
        response = TextField(null=True)
        retry_at = DateTimeField(null=True)

        class Meta:
            indexes = ((("delivery", "number"), False),)

    migrate(
        migrator.add_column("payment", "callback_url", TextField(null=True)),
        migrator.add_column("payment", "redirect_url", TextField(null=True)),
    )
    db.create_tables([Delivery, DeliveryAttempt])


def down(migrator, db):
    for table in ("delivery_attempt", "delivery"):
        db.execute_sql('DROP TABLE IF EXISTS "%s"' % table)
    migrate(migrator.drop_column("payment", "callback_url"), migrator.drop_column("payment", "redirect_url"))
