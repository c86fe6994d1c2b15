"""Shared fixtures. The ``regtest`` node is started once per session."""
import itertools
import os
import uuid

import pytest

from _db_fixtures import db, db_url, pg_server_url  # noqa: F401  (database fixtures)
from _daemon import Daemon, coin_config
from transient.devnet.node import RegtestNode, litecoind_available

REQUIRE_SERVICES = os.environ.get("TRANSIENT_REQUIRE_SERVICES") == "1"


def _missing(reason):
    """Skip, or fail when TRANSIENT_REQUIRE_SERVICES=1 says every service must be there."""
    if REQUIRE_SERVICES:
        pytest.fail(reason + " (TRANSIENT_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


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
def wallet(regtest):
    """A fresh merchant wallet, so each test sees only its own transactions."""
    return regtest.create_wallet("m_" + uuid.uuid4().hex[:10])


@pytest.fixture
def start_daemon(tmp_path, db_url, regtest, wallet):
    daemons = []

    def start(**kw):
        coins = kw.pop("coins", None) or coin_config(regtest, wallet, poll=kw.pop("poll", 1),
                                                     confirmations=kw.pop("confirmations", 1))
        daemon = Daemon(str(tmp_path), db_url, coins, **kw).start()
        daemons.append(daemon)
        return daemon

    yield start
    for daemon in daemons:
        daemon.kill()
