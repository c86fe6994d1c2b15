"""A coin backend for the unit layer: a real ``CoinBackend`` subclass that keeps a tiny
wallet and chain in memory instead of asking a node. Not a mock: the sync, the API and
the address pool call it through the same interface as the bitcoind-family backends,
and it answers as a node would (fresh bech32 regtest addresses, a tip that moves when
blocks are mined, listings since a cursor, rechecks of transactions it knows).

Registered through a pluggy plugin (``FakePlugin``) on a plugin manager of our own:

    pm = fake_plugin_manager()
    runtime = Runtime(settings.load(path), pm=pm)      # [coins.LTC] backend = "fake"
    fake = runtime.backends["LTC"]
    txid = fake.pay(address, 50_000_000); fake.mine(1); runtime.syncers["LTC"].run()

Tests may also queue exact ``Changes`` with ``script(...)``: the next listings are those,
in order, before the wallet's own listing resumes.
"""

import hashlib
import itertools
import threading

from embit.bech32 import decode as bech32_decode

from transient import hookimpl
from transient.chain.backend import ChainTip, Changes, CoinBackend, Output, TxState
from transient.core.clock import utcnow
from transient.core.errors import NodeUnreachable
from transient.runtime import plugins
from transient.store.models import PooledAddress

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values):
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((top >> i) & 1) else 0
    return chk


def _convertbits(data, frombits, tobits):
    acc, bits, ret, maxv = 0, 0, [], (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            ret.append((acc >> bits) & maxv)
    if bits:
        ret.append((acc << (tobits - bits)) & maxv)
    return ret


def segwit_address(hrp, program, version=0):
    """A BIP173 bech32 segwit address (what ``getnewaddress`` gives on a regtest node)."""
    data = [version] + _convertbits(program, 8, 5)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    polymod = _polymod(expanded + data + [0] * 6) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[d] for d in data + checksum)


class _Tx:
    def __init__(self, txid, outputs, seen_at):
        self.txid = txid
        self.outputs = outputs  # [(vout, address, amount)]
        self.seen_at = seen_at
        self.block_height = None  # None: in the mempool
        self.conflicted = False


class FakeBackend(CoinBackend):
    """An in-memory wallet and chain: ``pay``, ``mine``, ``script``, ``down``."""

    name = "fake"
    currency = "LTC"
    uri_scheme = "litecoin"
    max_money = 84_000_000 * 10**8
    decimals = 8
    hrp = "rltc"
    start_height = 200

    _instances = itertools.count(1)

    def __init__(self, currency, options):
        super().__init__(currency, options)
        self.lock = threading.RLock()
        self.seed = "%s-%d" % (currency, next(self._instances))
        self.counter = itertools.count(1)
        self.labels = {}  # address -> label ("" when unlabelled): the wallet's addresses
        self.blocks = [self._hash("block", h) for h in range(self.start_height + 1)]
        self.txs = {}  # txid -> _Tx
        self.scripted = []
        self.down = False  # True: every call fails as with a stopped node
        self.calls = []  # (method, argument) of every call, in order

    # -- the test's side: a payer and a miner ----------------------------------------

    def _hash(self, kind, n):
        return hashlib.sha256(("%s:%s:%s" % (self.seed, kind, n)).encode()).hexdigest()

    def pay(self, address, amount, seen_at=None):
        """Send ``amount`` base units to ``address`` (into the mempool); return the txid."""
        return self.pay_many({address: amount}, seen_at=seen_at)

    def pay_many(self, amounts, seen_at=None):
        """One transaction paying ``{address: amount}``; return the txid."""
        with self.lock:
            txid = self._hash("tx", len(self.txs))
            outputs = [(str(vout), address, amount) for vout, (address, amount) in enumerate(amounts.items())]
            self.txs[txid] = _Tx(txid, outputs, seen_at or utcnow().replace(microsecond=0))
            return txid

    def mine(self, count=1):
        """Mine ``count`` blocks; the mempool goes into the first."""
        with self.lock:
            for i in range(count):
                self.blocks.append(self._hash("block", "%d-%d" % (len(self.blocks), len(self.txs))))
                if i == 0:
                    for tx in self.txs.values():
                        if tx.block_height is None and not tx.conflicted:
                            tx.block_height = self.height

    def script(self, *changes):
        """Queue ``Changes`` to answer the next ``changes_since`` calls with, in order."""
        with self.lock:
            self.scripted.extend(changes)

    @property
    def height(self):
        return len(self.blocks) - 1

    def _check(self, method, arg=None):
        self.calls.append((method, arg))
        if self.down:
            raise NodeUnreachable("%s: the fake node is down" % self.currency)

    def _confirmations(self, tx):
        if tx.conflicted:
            return -1
        return 0 if tx.block_height is None else self.height - tx.block_height + 1

    def _output(self, tx, vout, address, amount):
        confs = self._confirmations(tx)
        mined = tx.block_height is not None and confs > 0
        return Output(
            txid=tx.txid,
            output=vout,
            address=address,
            amount=amount,
            confirmations=confs,
            block_hash=self.blocks[tx.block_height] if mined else None,
            block_height=tx.block_height if mined else None,
            label=self.labels.get(address) or None,
            seen_at=tx.seen_at,
        )

    # -- CoinBackend ------------------------------------------------------------------

    def network(self):
        self._check("network")
        return "regtest"

    def new_address(self, label=None):
        return self.new_addresses(1, label)[0]

    def new_addresses(self, count, label=None):
        self._check("new_addresses", count)
        with self.lock:
            out = []
            for _ in range(count):
                program = hashlib.sha256(("%s:address:%d" % (self.seed, next(self.counter))).encode()).digest()[:20]
                address = segwit_address(self.hrp, program)
                self.labels[address] = label or ""
                out.append(address)
            return out

    def set_labels(self, labels):
        self._check("set_labels", dict(labels))
        with self.lock:
            self.labels.update(labels)

    def owns(self, address):
        return address in self.labels

    def valid_address(self, address):
        """An address of this fake's network: bech32 with its hrp (what validateaddress says)."""
        version, program = bech32_decode(self.hrp, address)
        return program is not None

    def tip(self):
        self._check("tip")
        with self.lock:
            return ChainTip(self.blocks[-1], self.height)

    def changes_since(self, cursor):
        """Every wallet output in the mempool or in a block after ``cursor`` (all of them
        when the cursor is None or unknown), as listsinceblock lists them."""
        self._check("changes_since", cursor)
        with self.lock:
            if self.scripted:
                return self.scripted.pop(0)
            known = cursor is None or cursor in self.blocks
            since = self.blocks.index(cursor) if cursor in self.blocks else -1
            outputs = [
                self._output(tx, vout, address, amount)
                for tx in self.txs.values()
                for vout, address, amount in tx.outputs
                if address in self.labels and (tx.block_height is None or tx.block_height > since or tx.conflicted)
            ]
            return Changes(ChainTip(self.blocks[-1], self.height), outputs, cursor_known=known)

    def recheck(self, txids):
        self._check("recheck", list(txids))
        with self.lock:
            states = {}
            for txid in txids:
                tx = self.txs.get(txid)
                states[txid] = (
                    None
                    if tx is None
                    else TxState(
                        txid,
                        self._confirmations(tx),
                        self.blocks[tx.block_height] if tx.block_height is not None else None,
                        tx.block_height,
                    )
                )
            return states

    def ping(self):
        self._check("ping")
        with self.lock:
            return {
                "chain": "regtest",
                "blocks": self.height,
                "bestblockhash": self.blocks[-1],
                "version": 1,
                "subversion": "/fake:1/",
                "wallet": self.options.get("wallet"),
            }


class FakeWatchBackend(FakeBackend):
    """FakeBackend with a keyless wallet: it watches what ``register_watch`` gives it
    (``registered`` lists each (start, end) range and how many addresses were pooled then)."""

    name = "fake-watch"

    def __init__(self, currency, options):
        super().__init__(currency, options)
        self.registered = []
        self.pooled_when_registered = []

    def new_addresses(self, count, label=None):
        raise AssertionError("a watch-only coin never asks the node for an address")

    def create_watch_wallet(self, name):
        return {"walletname": name, "private_keys_enabled": False}

    def watch_only(self, addresses):
        return "a keyless wallet (fake)"

    def watch_import(self):
        return "ranged"

    def register_watch(self, watch, start, end, chain_name):
        self._check("register_watch", (start, end))
        self.pooled_when_registered.append(PooledAddress.select().count())
        with self.lock:
            for _, address, _ in watch.addresses(start, end - start, chain_name):
                self.labels.setdefault(address, "")
            self.registered.append((start, end))

    def verify_watch(self, watch, chain_name, count=3):
        return None


class FakePlugin:
    """The pluggy plugin that registers ``FakeBackend`` (``backend = "fake"``)."""

    @hookimpl
    def transient_register_backends(self):
        return [FakeBackend, FakeWatchBackend]


def fake_plugin_manager():
    """A plugin manager without entry points, with the built-in plugins and ``FakePlugin``."""
    pm = plugins.get_plugin_manager(autoload=False)
    pm.register(FakePlugin(), name="tests.fakes")
    return pm


def fake_coin_config(currency="LTC", confirmations=1, poll=1, extra=""):
    """A ``[coins.<CODE>]`` table for the fake backend (rpc_url is required by the settings,
    never used)."""
    return (
        '[coins.%s]\nbackend = "fake"\nrpc_url = "http://127.0.0.1:9/"\nwallet = "fake"\n'
        "confirmations = %d\npoll_interval = %d\n%s\n" % (currency, confirmations, poll, extra)
    )


def fake_runtime(tmp_path, extra="", coins=None, db_name="api.db"):
    """A Runtime on a migrated SQLite file with the fake backend for LTC; return
    (falcon TestClient, runtime). ``extra`` is more TOML (sections of its own)."""
    from falcon import testing

    from transient import settings
    from transient.runtime import Runtime
    from transient.store import migrations

    path = tmp_path / "config.toml"
    path.write_text(
        '[database]\nurl = "sqlite:///%s"\n%s\n%s' % (tmp_path / db_name, extra, coins or fake_coin_config())
    )
    runtime = Runtime(settings.load(str(path), environ={}), pm=fake_plugin_manager())
    migrations.apply(runtime.db)
    return testing.TestClient(runtime.app()), runtime
