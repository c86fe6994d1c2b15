"""The migrations build exactly the schema the models describe. Written once, run on
SQLite in tests/unit/test_migrations.py and on PostgreSQL in
tests/integration/test_migrations_postgres.py."""

from peewee import ModelIndex

from transient.store import migrations
from transient.store.models import MODELS


def _columns(db, table):
    return {c.name: c.null for c in db.get_columns(table)}


def test_migrated_schema_matches_the_models(db):
    assert migrations.pending(db) == []
    for model in MODELS:
        table = model._meta.table_name
        assert db.table_exists(table), table
        want = {f.column_name: f.null for f in model._meta.sorted_fields}
        assert _columns(db, table) == want, table
        indexes = db.get_indexes(table)
        indexed = {tuple(i.columns) for i in indexes}
        for index in model._meta.indexes:
            if isinstance(index, ModelIndex):  # a named (partial) index, made by its migration
                assert index._name in {i.name for i in indexes}, (table, index._name)
                continue
            fields, _unique = index
            columns = tuple(model._meta.fields[f].column_name for f in fields)
            assert columns in indexed, (table, columns)


def test_the_webhook_migration_goes_down_and_up_again(db):
    runner = migrations.runner(db)
    runner.down("0002_webhooks")  # and every later migration first
    assert not db.table_exists("delivery") and "callback_url" not in _columns(db, "payment")
    assert not db.table_exists("pooled_address")
    later = [m.name for m in runner.status() if m.name >= "0002"]
    assert later[:2] == ["0002_webhooks", "0003_address_pool"] and "0006_watch_only" in later
    assert migrations.pending(db) == later
    assert migrations.apply(db) == later
    assert db.table_exists("delivery") and "redirect_url" in _columns(db, "payment")
    assert db.table_exists("pooled_address")


def test_the_watch_only_migration_goes_down_and_up_again(db):
    runner = migrations.runner(db)
    runner.down("0006_watch_only")
    assert not db.table_exists("watch_key") and "derivation_index" not in _columns(db, "payment")
    assert migrations.apply(db)[0] == "0006_watch_only"
    assert db.table_exists("watch_key") and "key_fingerprint" in _columns(db, "payment")


def test_the_greenfield_migrations_go_down_and_up_again(db):
    runner = migrations.runner(db)
    runner.down("0007_greenfield")
    assert not db.table_exists("invoice") and not db.table_exists("delivery_target")
    assert "target_id" not in _columns(db, "delivery")
    assert migrations.apply(db)[:2] == ["0007_greenfield", "0008_delivery_targets"]
    assert db.table_exists("invoice_payment") and "public_id" in _columns(db, "delivery")


def test_the_dashboard_preferences_migration_goes_down_and_up_again(db):
    migrations.runner(db).down("0015_dashboard_preferences")
    assert not {"language", "time_zone"} & set(_columns(db, "dashboard_user"))
    assert "0015_dashboard_preferences" in migrations.apply(db)
    assert _columns(db, "dashboard_user")["language"] and _columns(db, "dashboard_user")["time_zone"]  # nullable


def test_a_database_migrated_by_a_newer_version_is_refused_in_one_line(db):
    from transient.core.errors import NotMigrated, SchemaTooNew

    runner = migrations.runner(db)
    runner.History.create(name="9999_from_a_newer_version")
    try:
        for step in (migrations.apply, migrations.check):
            try:
                step(db)
            except SchemaTooNew as exc:
                assert isinstance(exc, NotMigrated) and "\n" not in exc.message
                assert "9999_from_a_newer_version" in exc.message and "newer than this Transient" in exc.message
            else:
                raise AssertionError("%s ran on a schema it does not know" % step.__name__)
        assert migrations.unknown(db) == ["9999_from_a_newer_version"]
    finally:
        runner.History.delete().where(runner.History.name == "9999_from_a_newer_version").execute()
    assert migrations.unknown(db) == [] and migrations.apply(db) == []
