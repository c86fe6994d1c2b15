"""Greenfield invoices (each a view over one payment per payment method) and the store id."""

from peewee import BigAutoField, CharField, DateTimeField, ForeignKeyField, Model, TextField, UUIDField


def up(migrator, db):
    # Frozen copies of the models as they were at this migration.
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Payment(Base):
        id = UUIDField(primary_key=True)

    class GreenfieldStore(Base):
        id = CharField(max_length=64, primary_key=True)
        created_at = DateTimeField()

    class Invoice(Base):
        id = CharField(max_length=32, primary_key=True)
        store_id = CharField(max_length=64)
        amount = TextField()
        currency = CharField(max_length=10)
        metadata = TextField(default="{}")
        order_id = CharField(max_length=255, null=True)
        checkout = TextField(default="{}")
        created_at = DateTimeField()
        expires_at = DateTimeField()
        monitoring_until = DateTimeField()
        status = CharField(max_length=16, default="New")
        additional_status = CharField(max_length=16, default="None")
        marked = CharField(max_length=16, null=True)
        updated_at = DateTimeField()

        class Meta:
            indexes = ((("store_id", "order_id"), False), (("store_id", "created_at"), False))

    class InvoicePayment(Base):
        id = BigAutoField()
        invoice = ForeignKeyField(Invoice, on_delete="RESTRICT")
        payment = ForeignKeyField(Payment, unique=True, on_delete="RESTRICT")
        method = CharField(max_length=24)

        class Meta:
            indexes = ((("invoice", "id"), False),)

    db.create_tables([GreenfieldStore, Invoice, InvoicePayment])


def down(migrator, db):
    for table in ("invoice_payment", "invoice", "greenfield_store"):
        db.execute_sql('DROP TABLE IF EXISTS "%s"' % table)
