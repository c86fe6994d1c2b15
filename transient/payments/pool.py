"""The address pool: fresh addresses fetched from the node ahead of time, so that
creating a payment never waits on a node round trip.

Each coin keeps up to ``[coins.X] address_pool`` unused addresses in the
``pooled_address`` table (kept across restarts). Creating a payment claims one
with a single UPDATE in the transaction that inserts the payment: two workers
never get the same row, and a payment that fails to insert gives its address
back. A background keeper refills the pool in batches (``getnewaddress`` in one
JSON-RPC batch) when it falls to half, and labels claimed addresses.

Labels: pooled addresses are made without a label. A payment with an ``account``
still gets a pooled address; the keeper then labels it in the node's wallet
(``setlabel``, ``setaccount`` on Dogecoin), a moment after the payment is created
and before anyone can have paid to it in practice. Transient itself matches
outputs to payments by address, never by label.
"""
import logging
import threading

from ..chain.backend import CoinBackend
from ..store.db import chunks, is_sqlite, write_transaction
from ..core.errors import NodeError
from ..store.models import PooledAddress
from ..core.clock import utcnow

log = logging.getLogger("transient.addresses")
BATCH = 500  # addresses per getnewaddress batch: about a second of the node's time

_CLAIM = """
UPDATE pooled_address SET claimed_at = {p}, label = {p}
WHERE id = (SELECT id FROM pooled_address WHERE currency = {p} AND claimed_at IS NULL
            ORDER BY id LIMIT 1{lock})
  AND claimed_at IS NULL
RETURNING address
"""


class AddressPool:
    """One coin's pool. ``take()`` runs in the API's request threads; ``refill()``
    and ``label_claimed()`` in the keeper's thread (or a test)."""

    def __init__(self, currency, backend, db, size, clock=utcnow):
        self.currency = currency
        self.backend = backend
        self.db = db
        self.size = size
        self.clock = clock
        # Whether payments with an account can take pooled addresses (labelled later).
        self.labels = type(backend).set_labels is not CoinBackend.set_labels
        # PostgreSQL: concurrent claimers skip a row another one is taking instead of
        # waiting for it and finding it gone. SQLite runs one writer at a time.
        lock = "" if is_sqlite(db) else " FOR UPDATE SKIP LOCKED"
        self._claim_sql = _CLAIM.replace("{lock}", lock).replace("{p}", db.param)
        self.wake = None  # set by the keeper: called after each claim

    def take(self, label=None):
        """Claim a pooled address for a payment; return it, or None when the pool is
        empty (or cannot carry ``label``). Call it inside the payment's write
        transaction, so that a failed insert gives the address back."""
        if label and not self.labels:
            return None
        # fetchall: SQLite finishes an UPDATE ... RETURNING only once its rows are read.
        rows = self.db.execute_sql(self._claim_sql, (self.clock(), label or None, self.currency)).fetchall()
        if self.wake is not None:
            self.wake()
        return rows[0][0] if rows else None

    def available(self):
        """Return how many unclaimed addresses the pool holds."""
        return (PooledAddress.select().where((PooledAddress.currency == self.currency)
                                             & PooledAddress.claimed_at.is_null()).count())

    def refill(self, low_water=None):
        """Top the pool up to ``size`` when it holds fewer than ``low_water`` (default:
        half); return the number of addresses added. Raises NodeError."""
        have = self.available()
        if have >= (self.size // 2 if low_water is None else low_water):
            return 0
        added = 0
        while have + added < self.size:
            count = min(BATCH, self.size - have - added)
            addresses = self.backend.new_addresses(count)
            now = self.clock()
            with write_transaction(self.db):
                PooledAddress.insert_many(
                    [{"currency": self.currency, "address": a, "created_at": now} for a in addresses]
                ).on_conflict_ignore().execute()
            added += count
        return added

    def label_claimed(self):
        """Label the claimed addresses that have a label, then forget every claimed row;
        return the number labelled. Raises NodeError (the rows stay for a retry)."""
        rows = list(PooledAddress.select(PooledAddress.id, PooledAddress.address, PooledAddress.label).where(
            (PooledAddress.currency == self.currency) & PooledAddress.claimed_at.is_null(False)))
        if not rows:
            return 0
        labels = {r.address: r.label for r in rows if r.label}
        if labels:
            self.backend.set_labels(labels)
        ids = [r.id for r in rows]
        for part in chunks(ids):
            PooledAddress.delete().where(PooledAddress.id.in_(part)).execute()
        return len(labels)

    def check_wallet(self):
        """Drop the unclaimed addresses when the node's wallet does not own them (the
        config now points at another node or wallet); return the number dropped."""
        oldest = (PooledAddress.select(PooledAddress.address)
                  .where((PooledAddress.currency == self.currency) & PooledAddress.claimed_at.is_null())
                  .order_by(PooledAddress.id).first())
        if oldest is None or self.backend.owns(oldest.address) is not False:
            return 0
        dropped = PooledAddress.delete().where((PooledAddress.currency == self.currency)
                                               & PooledAddress.claimed_at.is_null()).execute()
        log.warning("%s: the wallet does not own the pooled addresses (another node or wallet?): "
                    "dropped %d and fetching new ones", self.currency, dropped)
        return dropped


class PoolKeeper:
    """A thread that keeps every coin's pool filled and its claimed addresses labelled."""

    def __init__(self, pools, interval=5.0, min_gap=0.2):
        self.pools = pools  # {currency: AddressPool}
        self.interval = interval  # seconds between rounds when nothing wakes it
        self.min_gap = min_gap  # at most five rounds a second under a stream of payments
        self._event = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self._failing = set()
        for pool in pools.values():
            pool.wake = self._event.set

    def start(self):
        self._thread = threading.Thread(target=self._loop, name="address-pool", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._event.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

    def _loop(self):
        checked = set()  # coins whose pool the wallet was seen to own, since this start
        while not self._stop.is_set():
            for code, pool in self.pools.items():
                if code not in checked and self._guard(pool, pool.check_wallet):
                    checked.add(code)
                if code in checked:
                    self._guard(pool, pool.label_claimed, pool.refill)
            self._event.wait(self.interval)
            self._event.clear()
            self._stop.wait(self.min_gap)

    def _guard(self, pool, *steps):
        """Run ``steps``; return True when all of them succeeded."""
        try:
            for step in steps:
                step()
        except NodeError as exc:
            if pool.currency not in self._failing:  # once per outage, not every round
                log.warning("%s: address pool: %s (retrying)", pool.currency, exc)
            self._failing.add(pool.currency)
            return False
        except Exception:  # noqa: BLE001 - a database hiccup must not kill the thread
            log.exception("%s: address pool round failed", pool.currency)
            return False
        if pool.currency in self._failing:
            log.info("%s: address pool: the node answers again", pool.currency)
            self._failing.discard(pool.currency)
        return True
