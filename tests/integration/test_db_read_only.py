"""A PostgreSQL that takes no writes (a fail-over onto a standby, or
``default_transaction_read_only``): an outage like a lost connection, answered 503 with
Retry-After and reported by /healthz, and over by itself when writes are taken again.
Set on this test's own scratch database only (ALTER DATABASE), never on the shared server."""

import psycopg2
import pytest
from _db_fixtures import PG_URL
from _pg_faults import terminate_backends
from fakes import fake_coin_config, fake_plugin_manager
from falcon import testing

from transient import settings
from transient.runtime import Runtime
from transient.store.models import Payment

pytestmark = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


def _set_read_only(db_url, on):
    name = db_url.rsplit("/", 1)[1]
    assert name.startswith("transient_test_"), name  # this test's scratch database alone
    conn = psycopg2.connect(PG_URL)
    conn.autocommit = True
    try:
        conn.cursor().execute(
            "ALTER DATABASE %s %s" % (name, "SET default_transaction_read_only = on" if on else "RESET ALL")
        )
    finally:
        conn.close()
    terminate_backends(db_url)  # the next connections start with the setting


@pytest.fixture
def api(tmp_path, db_url):
    path = tmp_path / "config.toml"
    path.write_text('[database]\nurl = "%s"\n%s' % (db_url, fake_coin_config()))
    runtime = Runtime(settings.load(str(path), environ={}), pm=fake_plugin_manager())
    client = testing.TestClient(runtime.app())
    yield client
    runtime.close()
    _set_read_only(db_url, False)


def _create(client):
    return client.simulate_post("/payments", json={"currency": "LTC", "amount": "0.1"})


def test_a_read_only_database_is_a_503_with_retry_after_and_healthz_says_so(api, db_url):
    assert _create(api).status_code == 201
    assert api.simulate_get("/healthz").json["database"] == "ok"
    _set_read_only(db_url, True)
    resp = _create(api)  # before: peewee.InternalError, a 500
    assert resp.status_code == 503, resp.text
    assert resp.headers["Retry-After"] and resp.json["error"]["code"] == "database_read_only"
    assert Payment.select().count() == 1  # reads still work; nothing was written
    health = api.simulate_get("/healthz")
    assert health.status_code == 503 and health.json["database"] == "read-only" and not health.json["ok"]
    _set_read_only(db_url, False)
    assert _create(api).status_code == 201
    health = api.simulate_get("/healthz")
    assert health.status_code == 200 and health.json["database"] == "ok"
