"""API keys made with ``transient keys create``: hashed, with scopes."""

from peewee import BigAutoField, CharField, DateTimeField, Model


def up(migrator, db):
    # A frozen copy of the model as it was at this migration.
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class ApiKey(Base):
        id = BigAutoField()
        public_id = CharField(max_length=16, unique=True)
        digest = CharField(max_length=64)
        scopes = CharField(max_length=255)
        label = CharField(max_length=255, null=True)
        created_at = DateTimeField()
        revoked_at = DateTimeField(null=True)

    db.create_tables([ApiKey])


def down(migrator, db):
    db.execute_sql('DROP TABLE IF EXISTS "api_key"')
