"""The delivery targets a process keeps in memory follow every change made by any
other process (migration 0019's version row, bumped by a trigger in the change's
transaction). Written once, run on SQLite in tests/unit/test_target_cache.py and on
PostgreSQL in tests/integration/test_target_cache_postgres.py. The other process is a
second connection of its own, writing plain SQL: it knows nothing of the registry."""

from playhouse.db_url import connect

from transient.delivery.registry import TargetRegistry

WHEN = "2026-01-01 00:00:00"


def _other(db_url):
    return connect(db_url)


def _insert(other, kind, url, public_id=None, store_id=None):
    fields = ("kind", "url", "public_id", "store_id", "enabled", "automatic_redelivery", "created_at", "updated_at")
    with other.atomic():
        other.execute_sql(
            'INSERT INTO "delivery_target" (%s) VALUES (%s)'
            % (", ".join('"%s"' % f for f in fields), ", ".join([other.param] * len(fields))),
            (kind, url, public_id, store_id, True, True, WHEN, WHEN),
        )


def test_a_target_added_or_retired_by_another_process_is_seen_by_the_next_batch(db, db_url):
    registry = TargetRegistry(db)
    assert registry.urls() == [] and registry.greenfield() == []
    other = _other(db_url)
    try:
        _insert(other, "webhook", "https://shop.example/hook")
        _insert(other, "greenfield", "https://btcpay.example/hook", public_id="hook1", store_id="store1")
        with db.atomic():  # as an event batch reads them: in its own transaction
            assert registry.urls() == ["https://shop.example/hook"]
            assert [h.public_id for h in registry.greenfield("store1")] == ["hook1"]
            assert registry.greenfield("store2") == []
        with other.atomic():
            other.execute_sql(
                'UPDATE "delivery_target" SET "deleted_at" = %s WHERE "kind" = %s' % (other.param, other.param),
                (WHEN, "webhook"),
            )
        assert registry.urls() == []
        assert [h.public_id for h in registry.greenfield()] == ["hook1"]
        with other.atomic():
            other.execute_sql('DELETE FROM "delivery_target"')
        assert registry.greenfield() == []
    finally:
        other.close()


def test_the_targets_are_read_again_only_when_they_changed(db, db_url):
    registry = TargetRegistry(db)
    registry.register_config(["https://shop.example/hook"])
    first = registry._current()
    assert registry._current() is first  # nothing changed: the kept targets, not a new read
    other = _other(db_url)
    try:
        _insert(other, "amqp", "amqp:events")
    finally:
        other.close()
    assert registry._current() is not first
    assert registry.urls() == ["https://shop.example/hook", "amqp:events"]


def test_a_rolled_back_change_leaves_the_version_and_the_targets(db, db_url):
    registry = TargetRegistry(db)
    before = registry._current()
    other = _other(db_url)
    try:
        try:
            with other.atomic():
                _insert(other, "webhook", "https://shop.example/hook")
                raise RuntimeError("the change fails")
        except RuntimeError:
            pass
    finally:
        other.close()
    assert registry._current() is before and registry.urls() == []
