"""Shared fixtures of every layer (tests/unit, tests/integration, tests/regtest, tests/e2e).
The ``regtest`` node is started once per session (per xdist worker). The helpers next to
this file (_daemon.py, _db_fixtures.py, fakes.py...) are importable from every layer:
pyproject.toml puts tests/ on the path."""

import itertools
import uuid

import pytest
from _daemon import Daemon, coin_config, kill_all
from _db_fixtures import db, db_url, pg_server_url  # noqa: F401  (database fixtures)
from _services import REQUIRE_SERVICES, _missing  # noqa: F401  (kept importable from here)
from _watch import create_keyless_wallet, fresh_tpub

from transient.devnet.node import RegtestNode, litecoind_available


@pytest.fixture(scope="session", autouse=True)
def no_daemon_left():
    """At the end of the session, no transientd this process started is left running."""
    yield
    kill_all()


# -- coin node ----------------------------------------------------------------


@pytest.fixture(scope="session")
def regtest(tmp_path_factory):
    """A litecoind regtest node with a ``merchant`` and a funded ``payer`` wallet."""
    if not litecoind_available():
        _missing("litecoind is not installed")
    node = RegtestNode(tmp_path_factory.mktemp("regtest"))
    node.start()
    try:
        node.setup()
        yield node
    finally:
        node.stop()


_wallet_ids = itertools.count(1)


@pytest.fixture
def merchant_wallet(regtest):
    """The name of a fresh, empty wallet on the regtest node, so tests don't see each other's txs."""
    return regtest.create_wallet("merchant-%d" % next(_wallet_ids))


# -- daemon ---------------------------------------------------------------------


@pytest.fixture
def address_mode():
    """Where addresses come from: "node" (the node's wallet) or "watch" (derived from an
    xpub, watched by a keyless wallet). A test runs in both modes with
    ``@pytest.mark.parametrize("address_mode", ["node", "watch"])``."""
    return "node"


@pytest.fixture
def wallet(regtest, address_mode):
    """A fresh merchant wallet, so each test sees only its own transactions."""
    name = "m_" + uuid.uuid4().hex[:10]
    return create_keyless_wallet(regtest, name) if address_mode == "watch" else regtest.create_wallet(name)


@pytest.fixture
def start_daemon(tmp_path, db_url, regtest, wallet, address_mode):
    daemons = []
    xpub = 'xpub = "%s"\n' % fresh_tpub() if address_mode == "watch" else ""

    def start(**kw):
        coins = (
            kw.pop("coins", None)
            or coin_config(regtest, wallet, poll=kw.pop("poll", 1), confirmations=kw.pop("confirmations", 1)) + xpub
        )
        daemon = Daemon(str(tmp_path), db_url, coins, **kw)
        daemons.append(daemon)  # before start(): one that fails to answer is killed too
        return daemon.start()

    yield start
    for daemon in daemons:
        daemon.kill()


# -- markers ----------------------------------------------------------------------


def pytest_collection_modifyitems(config, items):
    """A test that uses the node is marked ``regtest``, one that uses PostgreSQL
    ``postgres`` (so ``-m "not regtest"`` works in every layer); each layer's own
    conftest.py adds the layer's marker."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if "regtest" in names:
            item.add_marker(pytest.mark.regtest)
        callspec = getattr(item, "callspec", None)
        if "pg_server_url" in names or (callspec is not None and callspec.params.get("db_url") == "postgres"):
            item.add_marker(pytest.mark.postgres)
