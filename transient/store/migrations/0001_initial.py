"""Payments, receipts, chain state and the event outbox."""

import datetime

from peewee import (
    BigAutoField,
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


def up(migrator, db):
    # Frozen copies of the models as they were at this migration.
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Payment(Base):
        id = UUIDField(primary_key=True)
        currency = CharField(max_length=10)
        amount = BigIntegerField()
        address = CharField(max_length=128)
        account = CharField(max_length=255, null=True)
        metadata = TextField(default="{}")
        status = CharField(max_length=16)
        confirmations_required = IntegerField()
        tolerance_bp = IntegerField(default=0)
        expires_at = DateTimeField(null=True)
        amount_received = BigIntegerField(default=0)
        amount_pending = BigIntegerField(default=0)
        paid_at = DateTimeField(null=True)
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        updated_at = DateTimeField(default=datetime.datetime.utcnow)
        idempotency_key = CharField(max_length=255, null=True, unique=True)
        request_hash = CharField(max_length=64, null=True)
        event_seq = IntegerField(default=0)

        class Meta:
            indexes = (
                (("currency", "address"), True),
                (("status", "created_at"), False),
                (("currency", "status", "expires_at"), False),
                (("created_at", "id"), False),
            )

    class Receipt(Base):
        id = BigAutoField()
        currency = CharField(max_length=10)
        txid = CharField(max_length=64)
        output = CharField(max_length=128)
        address = CharField(max_length=128)
        amount = BigIntegerField()
        payment = ForeignKeyField(Payment, null=True, on_delete="RESTRICT")
        state = CharField(max_length=12)
        block_hash = CharField(max_length=64, null=True)
        block_height = IntegerField(null=True)
        first_seen = DateTimeField()
        last_seen = DateTimeField()

        class Meta:
            indexes = ((("currency", "txid", "output"), True), (("currency", "state"), False))

    class ChainState(Base):
        currency = CharField(max_length=10, primary_key=True)
        cursor_hash = CharField(max_length=64, null=True)
        cursor_height = IntegerField(null=True)
        lease_holder = CharField(max_length=128, null=True)
        lease_expires = DateTimeField(null=True)
        rerun = BooleanField(default=False)
        last_sync_at = DateTimeField(null=True)
        last_error = TextField(null=True)
        last_error_at = DateTimeField(null=True)

    class Event(Base):
        id = BigAutoField()
        event_id = UUIDField(unique=True)
        payment = ForeignKeyField(Payment, on_delete="RESTRICT")
        sequence = IntegerField()
        type = CharField(max_length=40)
        data = TextField(default="{}")
        created_at = DateTimeField()

        class Meta:
            indexes = ((("payment", "sequence"), True),)

    db.create_tables([Payment, Receipt, ChainState, Event])


def down(migrator, db):
    for table in ("event", "receipt", "chain_state", "payment"):
        db.execute_sql('DROP TABLE IF EXISTS "%s"' % table)
