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
import time

from peewee import fn

from ..chain.backend import CoinBackend
from ..core.clock import utcnow
from ..core.errors import ConfigError, NodeBusy, NodeError, NodeTimeout
from ..store.db import chunks, is_sqlite, write_transaction
from ..store.models import Payment, PooledAddress
from ..store.models import WatchKey as WatchKeyRow
from . import restore

log = logging.getLogger("transient.addresses")
BATCH = 500  # addresses per getnewaddress batch at most: about a second of an idle node's time
MIN_BATCH = 10

_CLAIM = """
UPDATE pooled_address SET claimed_at = {p}, label = {p}
WHERE id = (SELECT id FROM pooled_address WHERE currency = {p} AND claimed_at IS NULL
            ORDER BY id LIMIT 1{lock})
  AND claimed_at IS NULL
RETURNING address, derivation_index
"""


class AddressPool:
    """One coin's pool. ``take()`` runs in the API's request threads; ``refill()``
    and ``label_claimed()`` in the keeper's thread (or a test)."""

    def __init__(self, currency, backend, db, size, clock=utcnow, batch_seconds=2.5):
        self.currency = currency
        # A batch the node answers in about this long (a quarter of its RPC timeout): a
        # loaded node answered none of 500 within its timeout, and the pool never filled.
        self.batch_seconds = batch_seconds
        self.batch = BATCH
        self.behind = None  # why the last refill could not fill the pool (None: it did)
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

    watch_only = False  # addresses from the node's wallet
    fingerprint = None  # of the watch-only key

    def take(self, label=None):
        """Claim a pooled address for a payment; return it, or None when the pool is
        empty (or cannot carry ``label``). Call it inside the payment's write
        transaction, so that a failed insert gives the address back."""
        claim = self.claim(label)
        return claim[0] if claim else None

    def claim(self, label=None):
        """Like :meth:`take`, but return ``(address, derivation_index)`` (the index is
        None for node-wallet addresses), or None."""
        if label and not self.labels:
            return None
        # fetchall: SQLite finishes an UPDATE ... RETURNING only once its rows are read.
        rows = self.db.execute_sql(self._claim_sql, (self.clock(), label or None, self.currency)).fetchall()
        if self.wake is not None:
            self.wake()
        return tuple(rows[0]) if rows else None

    def available(self):
        """Return how many unclaimed addresses the pool holds."""
        return (
            PooledAddress.select()
            .where((PooledAddress.currency == self.currency) & PooledAddress.claimed_at.is_null())
            .count()
        )

    def refill(self, low_water=None):
        """Top the pool up to ``size`` when it holds fewer than ``low_water`` (default:
        half); return the number of addresses added. Raises NodeError."""
        have = self.available()
        # A refill cut short (the node timed out) goes on at the next round, from where it
        # stopped: waiting for half left a pool at 58 of 100 for good.
        if have >= (self.size // 2 if low_water is None else low_water) and self.behind is None:
            return 0
        added = 0
        # Payments may take addresses as fast as the node makes them: at most two pools'
        # worth a call, the rest at the next round (``behind`` says so meanwhile).
        while have < self.size and added < 2 * self.size:
            count = min(self.batch, self.size - have)
            rows = self._batch(count, have)
            now = self.clock()
            with write_transaction(self.db):
                PooledAddress.insert_many(
                    [{"currency": self.currency, "created_at": now, **row} for row in rows]
                ).on_conflict_ignore().execute()
            added += count
            # Counted again: payments take addresses while a slow node makes the next batch,
            # and a pool left at 90 of 100 waited for half before the next refill.
            have = self.available()
        self.behind = (
            None
            if have >= self.size
            else "%d of %d addresses; payments take them as fast as the node makes them" % (have, self.size)
        )
        return added

    def _batch(self, count, have):
        """``count`` new rows, the next batch's size adapted to how long this one took.
        Raises NodeError; when the node did not answer in time (or its queue was full),
        the next batch is half this one."""
        started = time.monotonic()
        try:
            rows = self.new_rows(count)
        except (NodeTimeout, NodeBusy) as exc:
            self.behind = "%d of %d addresses; the node did not answer a batch of %d in time (%s)" % (
                have,
                self.size,
                count,
                exc.__class__.__name__,  # its text lists every call of the batch
            )
            # The node still works through the abandoned batch: the next, smaller one is
            # asked at the keeper's next round, not queued behind it now.
            self.batch = max(MIN_BATCH, count // 2)
            raise
        took = max(time.monotonic() - started, 1e-3)
        # Aim at batch_seconds, growing at most twofold a batch (the node's load changes).
        self.batch = int(max(MIN_BATCH, min(BATCH, 2 * count, count * self.batch_seconds / took)))
        return rows

    def report(self):
        """What /healthz shows of the pool: its fill, the batch size and, when the last
        refill could not fill it (or it is empty), why."""
        have = self.available()
        behind = self.behind or ("empty: each payment asks the node for an address" if self.size and not have else None)
        return {"available": have, "size": self.size, "batch": self.batch, "behind": behind}

    def new_rows(self, count):
        """Return ``count`` fresh addresses as pool rows (``{"address": ...}``), from the node."""
        return [{"address": a} for a in self.backend.new_addresses(count)]

    def label_claimed(self):
        """Label the claimed addresses that have a label, then forget every claimed row;
        return the number labelled. Raises NodeError (the rows stay for a retry)."""
        rows = list(
            PooledAddress.select(PooledAddress.id, PooledAddress.address, PooledAddress.label).where(
                (PooledAddress.currency == self.currency) & PooledAddress.claimed_at.is_null(False)
            )
        )
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
        oldest = (
            PooledAddress.select(PooledAddress.address)
            .where((PooledAddress.currency == self.currency) & PooledAddress.claimed_at.is_null())
            .order_by(PooledAddress.id)
            .first()
        )
        if oldest is None or self.backend.owns(oldest.address) is not False:
            return 0
        return self.discard("the wallet does not own the pooled addresses (another node or wallet?)")

    def discard(self, why):
        """Drop every unclaimed pooled address (the keeper fetches new ones), logging ``why``;
        return how many. A claim running meanwhile either took its row first or finds none."""
        dropped = (
            PooledAddress.delete()
            .where((PooledAddress.currency == self.currency) & PooledAddress.claimed_at.is_null())
            .execute()
        )
        if dropped:
            log.warning("%s: %s: dropped %d pooled addresses and fetching new ones", self.currency, why, dropped)
        return dropped


_ALLOCATE = "UPDATE watch_key SET next_index = next_index + {p} WHERE id = {p} RETURNING next_index"
_REGISTERED = "UPDATE watch_key SET registered_end = {p} WHERE id = {p} AND registered_end < {p}"


class WatchPool(AddressPool):
    """Watch-only mode: addresses derived from the merchant's public key (``watch``, a
    :class:`~transient.chain.hdkeys.WatchKey`), never asked of the node.

    Indexes are handed out by one conditional UPDATE of the key's ``watch_key`` row
    (``next_index`` only grows), so no two workers or hosts, and no restart, ever get
    the same index; a batch lost to a crash leaves a gap, never a reuse. Each batch is
    registered with the node's watch-only wallet, ``lookahead`` indexes further,
    before its addresses enter the pool.
    """

    watch_only = True

    def __init__(self, currency, backend, db, size, watch, gap_limit=20, field=None, clock=utcnow, batch_seconds=2.5):
        super().__init__(currency, backend, db, max(size, 1), clock=clock, batch_seconds=batch_seconds)
        self.labels = True  # a payment with an account still takes a derived address
        self.watch = watch
        self.field = field or "coins.%s.xpub" % currency  # the setting that names the key
        self._chain = None
        self.gap_limit = gap_limit
        self.lookahead = gap_limit
        self._gap_warned = False
        self.fingerprint = watch.fingerprint
        self._allocate_sql = _ALLOCATE.replace("{p}", db.param)
        self._registered_sql = _REGISTERED.replace("{p}", db.param)

    @property
    def chain_name(self):
        """The node's chain (main, test, regtest), asked once; raises ConfigError naming
        the key when the key is of another network, NodeError when the node is away."""
        if self._chain is None:
            chain = self.backend.network()
            self.watch.check_network(chain, self.field)
            self._chain = chain
        return self._chain

    def check_network(self):
        """Return the node's chain; raise ConfigError when the key is of another network."""
        return self.chain_name

    def key_row(self):
        """Return the key's ``watch_key`` row (read fresh), made on first use."""
        where = (WatchKeyRow.currency == self.currency) & (WatchKeyRow.fingerprint == self.fingerprint)
        row = WatchKeyRow.get_or_none(where)
        if row is None:  # a concurrent first use: the unique key keeps one row
            WatchKeyRow.insert(
                currency=self.currency,
                fingerprint=self.fingerprint,
                descriptor=self.watch.descriptor(),
                created_at=self.clock(),
            ).on_conflict_ignore().execute()
            row = WatchKeyRow.get(where)
        return row

    def allocate(self, count):
        """Reserve ``count`` fresh indexes; return the first."""
        row = self.key_row()
        with write_transaction(self.db):
            end = self.db.execute_sql(self._allocate_sql, (count, row.id)).fetchall()[0][0]
        return end - count

    def register(self, end):
        """Make the node watch every index below ``end + lookahead``; return the new end
        (further when the node watches further: Bitcoin Core's stored range)."""
        row = self.key_row()
        want = end + self.lookahead
        if row.registered_end < want:
            watched = self.backend.register_watch(self.watch, row.registered_end, want, self.chain_name)
            want = max(want, watched or 0)
            with write_transaction(self.db):
                self.db.execute_sql(self._registered_sql, (want, row.id, want))
        return max(want, row.registered_end)

    def refill(self, low_water=None):
        """Derive, register and pool addresses up to ``size`` when fewer than ``low_water``
        (default: half) are left; return the number added. Raises NodeError."""
        added = super().refill(low_water)
        if added:
            self.warn_gap()
        return added

    def new_rows(self, count):
        """Register the next ``count`` receive addresses with the node, then reserve their
        indexes: each is watched before anyone can be given it, and an import the node
        refuses reserves nothing (no index lost, no gap made). Another keeper may have
        taken indexes in between: the reserved batch is then registered too (no RPC call
        when it already is)."""
        restore.check_marked(self)  # after a start that found the keeper's lease held
        self.register(self.key_row().next_index + count)
        start = self.allocate(count)
        self.register(start + count)
        rows = self.watch.addresses(start, count, self.chain_name)
        return [{"address": a, "derivation_index": i} for i, a, _ in rows]

    def skip_handed_out(self, why):
        """After a restore: move the next index past every index the node's wallet watches
        (the old host may have handed any out); return how many were skipped."""
        return restore.skip_handed_out(self, why)

    def warn_gap(self):
        """Log a warning (once, until it is fixed) when the gap is over the gap limit."""
        report = self.gap_report()
        if not report["gap_ok"] and not self._gap_warned:
            log.warning("%s: %s", self.currency, report["advice"])
        self._gap_warned = not report["gap_ok"]
        return report

    def check_wallet(self):
        """Drop the unclaimed addresses when they are not this key's (the key changed);
        raise ConfigError when the node derives other addresses than Transient."""
        problem = self.backend.verify_watch(self.watch, self.chain_name) if self.key_row().registered_end else None
        if problem:
            raise ConfigError(
                "coins.%s: the node and Transient disagree on the watch-only key: %s" % (self.currency, problem),
                "coins.%s.xpub" % self.currency,
            )
        unclaimed = (PooledAddress.currency == self.currency) & PooledAddress.claimed_at.is_null()
        oldest = PooledAddress.select().where(unclaimed).order_by(PooledAddress.id).first()
        if oldest is None or (
            oldest.derivation_index is not None
            and self.watch.address(oldest.derivation_index, self.chain_name) == oldest.address
        ):
            return 0
        return self.discard("the pooled addresses are not the configured key's")

    def check_watch_only(self):
        """Return the node's word that its wallet holds no key to this key's addresses
        (indexes 0, the last pooled and the last registered); raise ConfigError when it
        holds one, NodeError when the node is away."""
        row = self.key_row()
        indexes = sorted({0, max(row.next_index - 1, 0), max(row.registered_end - 1, 0)})
        return self.backend.watch_only([(i, self.watch.address(i, self.chain_name)) for i in indexes])

    def gap_report(self):
        """Return the key's fingerprint, next index, registered range and gap (see :func:`gap`)."""
        row = self.key_row()
        mine = (Payment.currency == self.currency) & (Payment.key_fingerprint == self.fingerprint)
        received = (Payment.amount_received > 0) | (Payment.amount_pending > 0)
        used = [
            r[0]
            for r in Payment.select(Payment.derivation_index)
            .where(mine & received)
            .order_by(Payment.derivation_index)
            .tuples()
        ]
        last = Payment.select(fn.MAX(Payment.derivation_index)).where(mine).scalar()
        report = {
            "fingerprint": self.fingerprint,
            "descriptor": self.watch.descriptor(),
            "next_index": row.next_index,
            "registered": [0, row.registered_end],
            "last_handed_out": last,
            "gap": gap(used, last),
            "gap_limit": self.gap_limit,
        }
        report["skipped"] = restore.skipped(self)  # at a restore: past what the old host may have handed out
        report["gap_ok"] = report["gap"] <= self.gap_limit
        if not report["gap_ok"]:
            report["advice"] = GAP_ADVICE % (report["gap"], self.gap_limit)
        return report


GAP_ADVICE = (
    "%d handed-out addresses in a row never received anything, more than the gap limit of %d: a wallet "
    "restored from this key may miss later payments. Raise the wallet's gap limit (and "
    "[coins.X] gap_limit) or shorten expiry; addresses are never reused to close the gap."
)


def gap(used, last):
    """Return the longest run of indexes up to ``last`` (the highest handed out) between
    the ``used`` ones (sorted: indexes that received something), as a wallet restoring
    the key counts it."""
    if last is None:
        return 0
    longest, previous = 0, -1
    for index in used:
        longest = max(longest, index - previous - 1)
        previous = index
    return max(longest, last - previous)


class PoolKeeper:
    """A thread that keeps every coin's pool filled and its claimed addresses labelled."""

    def __init__(self, pools, interval=5.0, min_gap=0.2, lease=None):
        self.pools = pools  # {currency: AddressPool}
        self.interval = interval  # seconds between rounds when nothing wakes it
        self.min_gap = min_gap  # at most five rounds a second under a stream of payments
        # One keeper per cluster (store/leases.py): the others stand by; None: always run.
        self.lease = lease
        self._event = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        self._failing = set()
        self._checked = set()
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
        if self.lease is not None:
            try:
                self.lease.release()  # another daemon's keeper takes over at its next round
            except Exception:  # noqa: BLE001 - the database may be gone; the lease expires then
                log.debug("could not release the address pool lease", exc_info=True)

    def _loop(self):
        while not self._stop.is_set():
            self.round()
            self._event.wait(self.interval)
            self._event.clear()
            self._stop.wait(self.min_gap)

    def round(self):
        """One round over every coin's pool, when this process keeps them; return True
        when it did."""
        if not self._my_turn():
            return False
        for code, pool in self.pools.items():
            # Coins whose pool the wallet was seen to own, since this start.
            if code not in self._checked and self._guard(pool, pool.check_wallet):
                self._checked.add(code)
            if code in self._checked:
                self._guard(pool, pool.label_claimed, pool.refill)
        return True

    def _my_turn(self):
        """True when this process keeps the pools now (it holds or took the lease)."""
        if self.lease is None:
            return True
        try:
            return self.lease.claim()
        except Exception:  # noqa: BLE001 - a database hiccup: try again next round
            log.debug("could not claim the address pool lease", exc_info=True)
            return False

    def _guard(self, pool, *steps):
        """Run ``steps``; return True when all of them succeeded."""
        try:
            for step in steps:
                step()
        except (NodeError, ConfigError) as exc:  # ConfigError: the node disagrees on the watch-only key
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
