"""Database fixtures: every storage and sync test runs on SQLite and on PostgreSQL."""

import os
import uuid

import peewee
import pytest
from _services import _missing

from transient.store import migrations
from transient.store.db import open_database
from transient.store.models import MODELS

PG_URL = os.environ.get("TRANSIENT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _pg_admin():
    from playhouse.db_url import connect

    return connect(PG_URL)


@pytest.fixture(scope="session")
def pg_server_url():
    """URL of a fresh PostgreSQL database for this test session (dropped at the end)."""
    try:
        admin = _pg_admin()
        admin.connect()
    except (peewee.OperationalError, ImportError) as exc:
        _missing("PostgreSQL not available at %s: %s" % (PG_URL, exc))
    name = "transient_test_%s" % uuid.uuid4().hex[:10]
    admin.execute_sql("CREATE DATABASE %s" % name)
    admin.close()
    yield PG_URL.rsplit("/", 1)[0] + "/" + name
    admin.connect()
    admin.execute_sql("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
    admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """A migrated, empty database URL: SQLite in a temp file, or the session's PostgreSQL database."""
    return migrated_url(request, tmp_path, request.param)


def migrated_url(request, tmp_path, kind):
    """The URL of a migrated, empty database of ``kind`` ("sqlite" or "postgres")."""
    if kind == "sqlite":
        url = "sqlite:///%s" % (tmp_path / "transient.db")
        db = open_database(url)
        migrations.apply(db)
        db.close()
        return url
    url = request.getfixturevalue("pg_server_url")
    db = open_database(url)
    migrations.apply(db)
    # Every table the models have (stored API keys and rates too): a key or a quote left by
    # an earlier test would change what the next one sees.
    tables = ", ".join('"%s"' % m._meta.table_name for m in MODELS)
    db.execute_sql("TRUNCATE %s RESTART IDENTITY CASCADE" % tables)
    db.close()
    return url


@pytest.fixture
def db(db_url):
    """An open, migrated, empty database bound to the models."""
    database = open_database(db_url)
    yield database
    database.close()
