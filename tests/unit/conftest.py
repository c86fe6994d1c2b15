"""The unit layer: no litecoind, no PostgreSQL, no RabbitMQ, no subprocess. SQLite files
in tmp dirs, Falcon's in-process TestClient and the FakeBackend (tests/fakes.py) only.

Guarded twice: collection fails (a UsageError) when a test here asks for a fixture of a
node or service, and at run time those fixtures fail the test, as does starting any
process."""

import pathlib
import subprocess

import pytest

from transient.store import migrations
from transient.store.db import open_database

try:
    # CairoSVG (the QR tests) finds libcairo with ctypes.util.find_library, which runs
    # `ldconfig -p`: load it once here, before no_subprocess refuses every process.
    import cairosvg  # noqa: F401
except (ImportError, OSError):
    pass  # the tests that need it skip or fail with the reason (_qr_decode.py)

HERE = pathlib.Path(__file__).resolve().parent
FORBIDDEN = ("regtest", "pg_server_url", "start_daemon", "broker")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE not in item.path.resolve().parents:
            continue
        item.add_marker(pytest.mark.unit)
        used = sorted(set(getattr(item, "fixturenames", ())) & set(FORBIDDEN))
        if used:
            raise pytest.UsageError(
                "%s is in tests/unit but uses %s: a unit test needs no node and no "
                "service (move it to tests/integration, tests/regtest or tests/e2e)" % (item.nodeid, ", ".join(used))
            )


def _refuse(name):
    pytest.fail("a unit test asked for the %r fixture: tests/unit needs no node and no service" % name, pytrace=False)


@pytest.fixture(scope="session")
def regtest():
    _refuse("regtest")


@pytest.fixture(scope="session")
def pg_server_url():
    _refuse("pg_server_url")


@pytest.fixture
def start_daemon():
    _refuse("start_daemon")


@pytest.fixture(scope="session")
def broker():
    _refuse("broker")


@pytest.fixture
def db_url(tmp_path):
    """A migrated, empty SQLite file (tests/integration runs the same cases on PostgreSQL)."""
    url = "sqlite:///%s" % (tmp_path / "transient.db")
    database = open_database(url)
    migrations.apply(database)
    database.close()
    return url


@pytest.fixture(autouse=True)
def no_subprocess(monkeypatch):
    """A unit test starts no process (no transientd, no CLI, no litecoind, no pip)."""

    def refuse(self, args, *a, **kw):
        pytest.fail(
            "a unit test started a process: %r (tests/unit runs none; move it to tests/e2e)" % (args,), pytrace=False
        )

    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse)
