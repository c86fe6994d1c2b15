"""Shared fixtures. The ``regtest`` node is started once per session."""
import itertools
import os

import pytest

from _db_fixtures import db, db_url, pg_server_url  # noqa: F401  (database fixtures)
from transient.devnet import RegtestNode, litecoind_available

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
