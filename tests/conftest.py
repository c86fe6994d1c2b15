"""Shared fixtures of every layer (tests/unit, tests/integration, tests/regtest, tests/e2e).
The ``regtest`` node is started once per session (per xdist worker). The helpers next to
this file (_daemon.py, _db_fixtures.py, fakes.py...) are importable from every layer:
pyproject.toml puts tests/ on the path."""

import itertools
import uuid

import pytest
from _coins import COIN_SPECS, keyless_wallet
from _daemon import Daemon, coin_config, kill_all
from _db_fixtures import db, db_url, pg_server_url  # noqa: F401  (database fixtures)
from _services import REQUIRE_SERVICES, _missing  # noqa: F401  (kept importable from here)
from _watch import create_keyless_wallet, fresh_tpub

from transient.devnet.coins import KINDS, connect, node_binary, regtest_node
from transient.devnet.node import RegtestNode, find_free_port, litecoind_available


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    """argon2's cheapest parameters for the users made in the tests' own process (a hash
    there took 0.14 s of CPU: the dashboard's unit tests spent most of their time in it);
    the daemons the end-to-end tests start hash with the real ones."""
    from argon2 import PasswordHasher, profiles

    from transient.accounts import service

    real, service.default_hasher = service.default_hasher, lambda: PasswordHasher.from_parameters(profiles.CHEAPEST)
    yield
    service.default_hasher = real


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


# -- every coin's node (tests/_coins.py) ------------------------------------------


def start_node(kind, datadir, **kw):
    """Start and set up a regtest node of ``kind`` (LTC, BTC, BTC28, DOGE) with mature
    coins in its payer wallet; a missing program goes through ``_missing``."""
    if node_binary(kind) is None:
        cls, variable = KINDS[kind]
        _missing("%s regtest node: set %s or put %s on PATH" % (kind, variable, cls.DAEMON))
    node = regtest_node(kind, datadir, **kw).start()
    try:
        return node.setup()
    except BaseException:
        node.stop()
        raise


@pytest.fixture(scope="session")
def btc_node(tmp_path_factory):
    """A Bitcoin Core 30 regtest node (TRANSIENT_BITCOIND or bitcoind on PATH), with a
    ``merchant`` and a funded ``payer`` descriptor wallet."""
    node = start_node("BTC", tmp_path_factory.mktemp("bitcoind"))
    yield node
    node.stop()


@pytest.fixture(scope="session")
def btc28_node(tmp_path_factory):
    """A Bitcoin Core 28 regtest node (TRANSIENT_BITCOIND_28)."""
    node = start_node("BTC28", tmp_path_factory.mktemp("bitcoind28"))
    yield node
    node.stop()


@pytest.fixture(scope="module")
def doge_node(tmp_path_factory):
    """A Dogecoin Core 1.14 regtest node of this module's own: its one wallet is the
    payer and the merchant of every test in the module."""
    node = start_node("DOGE", tmp_path_factory.mktemp("dogecoind"))
    yield node
    node.stop()


_NODE_FIXTURES = {"LTC": "regtest", "BTC": "btc_node", "BTC28": "btc28_node", "DOGE": "doge_node"}


@pytest.fixture(scope="module")
def coin(request):
    """The :class:`_coins.Coin` a test runs on: parametrise it (indirect) over COINS."""
    return COIN_SPECS[getattr(request, "param", "LTC")]


@pytest.fixture(scope="module")
def coin_node(request, coin):
    """The coin's regtest node, shared by the module (LTC and BTC: by the session)."""
    return request.getfixturevalue(_NODE_FIXTURES[coin.kind])


@pytest.fixture
def coin_wallet(coin_node, address_mode):
    """A fresh wallet on the coin's node (keyless in watch mode); None on Dogecoin Core,
    whose one wallet every test of the module shares."""
    name = "m_" + uuid.uuid4().hex[:10]
    if address_mode == "watch":
        return keyless_wallet(coin_node, name)
    return coin_node.create_wallet(name)


@pytest.fixture
def coin_peer(tmp_path, coin, coin_node):
    """A second node of the coin, fresh for the test (so it never holds a block the
    first one marked invalid: Dogecoin Core asserts on such headers), connected to
    ``coin_node`` over P2P and synced; its mined blocks pay the coin node's payer."""
    peer = regtest_node(coin.kind, tmp_path / "peer", p2p_port=find_free_port())
    peer.start()
    try:
        connect(coin_node, peer)
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def start_coin_daemon(tmp_path, db_url, coin, coin_node, coin_wallet, address_mode):
    """Start transientd on the coin's node and wallet (``coins=`` for a config of one's own)."""
    daemons = []
    xpub = 'xpub = "%s"\n' % fresh_tpub() if address_mode == "watch" else ""

    def start(**kw):
        coins = (
            kw.pop("coins", None)
            or coin_config(
                coin_node,
                coin_wallet,
                currency=coin.currency,
                backend=coin.backend,
                poll=kw.pop("poll", 1),
                confirmations=kw.pop("confirmations", 1),
                # The default pool of 200 costs a node ~7 s of getnewaddress on this machine:
                # on Dogecoin Core's one wallet, which the module's daemons share, the
                # sync's calls queued behind it past their 10 s deadline.
                address_pool=kw.pop("address_pool", 10),
            )
            + xpub
        )
        healthy = kw.pop("healthy", True)
        daemon = Daemon(str(tmp_path), db_url, coins, **kw)
        daemons.append(daemon)
        return daemon.start(healthy=healthy)

    yield start
    for daemon in daemons:
        daemon.kill()


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
        if names & {"regtest", "coin_node", "btc_node", "btc28_node", "doge_node"}:
            item.add_marker(pytest.mark.regtest)
        callspec = getattr(item, "callspec", None)
        if "pg_server_url" in names or (callspec is not None and callspec.params.get("db_url") == "postgres"):
            item.add_marker(pytest.mark.postgres)
