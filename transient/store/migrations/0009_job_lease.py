"""The cluster's job leases: one process at a time runs a named job (the address pool keeper)."""

from peewee import CharField, DateTimeField, Model


def up(migrator, db):
    class JobLease(Model):  # frozen copy of the model as it was at this migration
        name = CharField(max_length=64, primary_key=True)
        holder = CharField(max_length=128, null=True)
        expires_at = DateTimeField(null=True)

        class Meta:
            database = db
            legacy_table_names = False

    db.create_tables([JobLease])


def down(migrator, db):
    db.execute_sql('DROP TABLE IF EXISTS "job_lease"')
