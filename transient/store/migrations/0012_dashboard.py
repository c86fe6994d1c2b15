"""The dashboard: its users, recovery codes, sessions, audit log and sign-in throttle; and
the indexes its payment search and filters read (an address, a txid or an order id found
without knowing the coin; one coin's payments newest first)."""

from peewee import (
    BigAutoField,
    BigIntegerField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)
from playhouse.migrate import migrate


def up(migrator, db):
    # Frozen copies of the models as they were at this migration.
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class DashboardUser(Base):
        id = BigAutoField()
        email = CharField(max_length=254, unique=True)
        role = CharField(max_length=8)
        password_hash = TextField()
        totp_secret = CharField(max_length=64, null=True)
        totp_step = BigIntegerField(default=0)
        created_at = DateTimeField()
        created_by = CharField(max_length=254, null=True)
        disabled_at = DateTimeField(null=True)
        last_login_at = DateTimeField(null=True)

    class RecoveryCode(Base):
        id = BigAutoField()
        user = ForeignKeyField(DashboardUser, on_delete="CASCADE")
        digest = CharField(max_length=64)
        used_at = DateTimeField(null=True)

        class Meta:
            indexes = ((("user", "digest"), True),)

    class DashboardSession(Base):
        id = CharField(max_length=64, primary_key=True)
        user = ForeignKeyField(DashboardUser, on_delete="CASCADE")
        stage = CharField(max_length=8)
        csrf = CharField(max_length=64)
        address = CharField(max_length=64)
        user_agent = CharField(max_length=255, default="")
        created_at = DateTimeField()
        last_seen_at = DateTimeField()
        expires_at = DateTimeField()
        revoked_at = DateTimeField(null=True)

    class AuditEntry(Base):
        id = BigAutoField()
        at = DateTimeField()
        user_email = CharField(max_length=254)
        action = CharField(max_length=48)
        target_kind = CharField(max_length=24)
        target_id = CharField(max_length=64)
        address = CharField(max_length=64)
        detail = TextField(default="{}")

        class Meta:
            indexes = ((("target_kind", "target_id", "at"), False), (("at",), False))

    class LoginThrottle(Base):
        key = CharField(max_length=300, primary_key=True)
        failures = IntegerField(default=0)
        last_failure_at = DateTimeField(null=True)
        locked_until = DateTimeField(null=True)

    db.create_tables([DashboardUser, RecoveryCode, DashboardSession, AuditEntry, LoginThrottle])
    migrate(
        migrator.add_index("payment", ("address",), False),
        migrator.add_index("payment", ("account",), False),
        migrator.add_index("payment", ("currency", "created_at", "id"), False),
        migrator.add_index("receipt", ("txid",), False),
        migrator.add_index("invoice", ("order_id",), False),
    )


def down(migrator, db):
    migrate(
        migrator.drop_index("invoice", "invoice_order_id"),
        migrator.drop_index("receipt", "receipt_txid"),
        migrator.drop_index("payment", "payment_currency_created_at_id"),
        migrator.drop_index("payment", "payment_account"),
        migrator.drop_index("payment", "payment_address"),
    )
    for table in ("login_throttle", "audit_entry", "dashboard_session", "recovery_code", "dashboard_user"):
        db.execute_sql('DROP TABLE IF EXISTS "%s"' % table)
