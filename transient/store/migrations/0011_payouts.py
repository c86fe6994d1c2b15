"""Refunds and payouts: pull payments, payout batches and payouts; the outbox's events and
deliveries may belong to a payout instead of a payment."""

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
    UUIDField,
)
from playhouse.migrate import migrate


def up(migrator, db):
    # Frozen copies of the models as they were at this migration.
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Payment(Base):
        id = UUIDField(primary_key=True)

    class PullPayment(Base):
        id = CharField(max_length=32, primary_key=True)
        currency = CharField(max_length=10)
        amount = BigIntegerField()
        claimed = BigIntegerField(default=0)
        name = CharField(max_length=255, default="")
        description = TextField(default="")
        payment = ForeignKeyField(Payment, null=True, on_delete="RESTRICT")
        invoice_id = CharField(max_length=32, null=True)
        store_id = CharField(max_length=64, null=True)
        variant = CharField(max_length=16, default="Custom")
        price = TextField(null=True)
        price_currency = CharField(max_length=10, null=True)
        rate = TextField(null=True)
        auto_approve = BooleanField(default=False)
        archived = BooleanField(default=False)
        idempotency_key = CharField(max_length=255, null=True, unique=True)
        request_hash = CharField(max_length=64, null=True)
        created_at = DateTimeField()
        expires_at = DateTimeField(null=True)

        class Meta:
            indexes = ((("payment",), False), (("store_id", "created_at"), False))

    class PayoutBatch(Base):
        id = CharField(max_length=32, primary_key=True)
        currency = CharField(max_length=10)
        state = CharField(max_length=10, default="intent")
        txid = CharField(max_length=64, null=True)
        fee_rate = TextField(null=True)
        psbt = TextField(null=True)
        error = TextField(null=True)
        created_at = DateTimeField()
        sent_at = DateTimeField(null=True)

        class Meta:
            indexes = ((("currency", "state"), False),)

    class Payout(Base):
        id = CharField(max_length=32, primary_key=True)
        currency = CharField(max_length=10)
        amount = BigIntegerField()
        destination = CharField(max_length=128)
        state = CharField(max_length=20)
        revision = IntegerField(default=0)
        pull_payment = ForeignKeyField(PullPayment, null=True, on_delete="RESTRICT")
        payment = ForeignKeyField(Payment, null=True, on_delete="RESTRICT")
        batch = ForeignKeyField(PayoutBatch, null=True, on_delete="RESTRICT")
        txid = CharField(max_length=64, null=True)
        vout = IntegerField(null=True)
        block_hash = CharField(max_length=64, null=True)
        block_height = IntegerField(null=True)
        watched = BooleanField(default=False)
        paid_externally = BooleanField(default=False)
        metadata = TextField(default="{}")
        idempotency_key = CharField(max_length=255, null=True, unique=True)
        request_hash = CharField(max_length=64, null=True)
        event_seq = IntegerField(default=0)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        approved_at = DateTimeField(null=True)
        completed_at = DateTimeField(null=True)

        class Meta:
            indexes = (
                (("currency", "state", "created_at"), False),
                (("currency", "destination"), False),
                (("currency", "approved_at"), False),
                (("batch",), False),
                (("created_at", "id"), False),
            )

    db.create_tables([PullPayment, PayoutBatch, Payout])
    migrate(
        migrator.add_column("event", "payout_id", CharField(max_length=32, null=True)),
        migrator.drop_not_null("event", "payment_id"),
        migrator.add_index("event", ("payout_id", "sequence"), False),
        migrator.add_column("delivery", "payout_id", CharField(max_length=32, null=True)),
        migrator.drop_not_null("delivery", "payment_id"),
        migrator.add_index("delivery", ("payout_id", "state", "sequence"), False),
    )


def down(migrator, db):
    migrate(
        migrator.drop_index("delivery", "delivery_payout_id_state_sequence"),
        migrator.drop_column("delivery", "payout_id"),
        migrator.drop_index("event", "event_payout_id_sequence"),
        migrator.drop_column("event", "payout_id"),
    )
    for table in ("payout", "payout_batch", "pull_payment"):
        db.execute_sql('DROP TABLE IF EXISTS "%s"' % table)
