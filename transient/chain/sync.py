"""The per-coin sync (docs/ARCHITECTURE.md, "The path of a txid"): lease, listsinceblock,
ledger, cursor."""

import logging
import os
import socket
import uuid

from ..core import faults
from ..core.clock import utcnow
from ..delivery.outbox import Outbox
from ..ops import memory
from ..store.db import chunks, retry_once, write_transaction
from ..store.leases import LeaseRow
from ..store.models import ChainState, Receipt
from .backend import ChainTip, Output
from .ledger import Ledger, expire_due

log = logging.getLogger("transient.sync")
REORG_WINDOW = 100  # blocks: coinbase maturity; no real reorg is deeper
LARGE_LISTING = 1000  # outputs: after a listing this size, hand freed memory back to the OS


def new_holder_id():
    """Return a lease holder id: host, pid and a random part (pids are reused)."""
    return "%s:%d:%s" % (socket.gethostname(), os.getpid(), uuid.uuid4().hex[:8])


COINS = LeaseRow(ChainState.currency, ChainState.lease_holder, ChainState.lease_expires)


class Lease:
    """A per-coin lease row: one conditional UPDATE decides who syncs a coin."""

    def __init__(self, currency, holder, seconds, clock=utcnow):
        self.currency = currency
        self.holder = holder
        self.seconds = seconds
        self.clock = clock

    def acquire(self):
        """Take (or renew) the lease; return True when this holder has it."""
        now = self.clock()
        if COINS.take(self.currency, self.holder, self.seconds, now):
            return True
        # A holder on this host whose process is gone (kill -9, crash) cannot
        # renew; take its lease now instead of waiting for it to expire.
        holder = ChainState.get_by_id(self.currency).lease_holder
        if holder and _dead_local_holder(holder):
            return COINS.take(self.currency, self.holder, self.seconds, now, free=ChainState.lease_holder == holder)
        return False

    def release(self):
        """Give the lease up; return False (keeping it) when a rerun was asked for meanwhile."""
        not_asked = ChainState.rerun == False  # noqa: E712 (SQL, not Python)
        if COINS.give_up(self.currency, self.holder, where=not_asked):
            return True
        mine = (ChainState.currency == self.currency) & (ChainState.lease_holder == self.holder)
        ChainState.update(rerun=False).where(mine).execute()
        return False

    def request_rerun(self):
        """Ask whoever holds the lease to sync once more before releasing it."""
        ChainState.update(rerun=True).where(ChainState.currency == self.currency).execute()


def _dead_local_holder(holder):
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        with open("/proc/%s/stat" % pid) as fh:
            # A killed process whose parent is gone too may linger as a zombie.
            return fh.read().rpartition(")")[2].split()[0] == "Z"
    except FileNotFoundError:
        return True
    except OSError:
        return False


class Syncer:
    """Syncs one coin: ``run()`` is what the scheduler and the notify pings call."""

    def __init__(self, currency, backend, confirmations, db, outbox=None, holder=None, lease_seconds=60, clock=utcnow):
        self.currency = currency
        self.outbox = outbox or Outbox()  # default: events without webhook targets
        self.backend = backend
        self.confirmations = confirmations
        self.db = db
        self.clock = clock
        self.lease = Lease(currency, holder or new_holder_id(), lease_seconds, clock)

    def run(self):
        """Sync until nothing more was asked for. Returns the number of syncs run
        (0 when another process holds the lease; it was asked to run again)."""
        if not self.lease.acquire():
            self.lease.request_rerun()
            # The holder may have released between our attempt and the mark.
            if not self.lease.acquire():
                return 0
        runs = 0
        try:
            while True:
                # A connection lost half-way loses the round's transaction whole; the
                # round runs again from the stored cursor (at most once here, then the
                # next poll), so nothing is applied twice or skipped.
                retry_once(self.db, self.sync_once)
                runs += 1
                if self.lease.release():
                    return runs
                self.lease.acquire()  # renew before the next round
        except BaseException:
            self.lease.release()
            raise

    def sync_once(self):
        """One round: list changes since the cursor, apply them and move the cursor
        in one transaction. Returns the ids of the payments that changed."""
        state = ChainState.get_by_id(self.currency)
        log.debug("%s: sync start pid=%d cursor=%s", self.currency, os.getpid(), state.cursor_height)
        faults.point("sync.before_listing")  # where a node that never answers would hold a sync
        note_tip = getattr(self.backend, "note_tip", None)  # optional (CoinBackend has a no-op)
        if state.cursor_hash and note_tip is not None:
            note_tip(ChainTip(state.cursor_hash, state.cursor_height))
        changes = self.backend.changes_since(state.cursor_hash)
        changes.removed += self._vanished(changes, state)
        if state.cursor_hash and not changes.cursor_known:
            log.warning(
                "%s: the node does not know cursor block %s; re-read the whole wallet", self.currency, state.cursor_hash
            )
        now = self.clock()
        with write_transaction(self.db):
            faults.point("sync.before_apply")
            events = self.outbox.batch(now, changes.tip.height)
            ledger = Ledger(self.currency, self.confirmations, changes.tip, now, events)
            ledger.apply(changes)
            faults.point("sync.after_apply")
            changed = ledger.settle()
            expired = expire_due(self.currency, changes.tip.height, now, events)
            changed += expired
            events.write()
            ChainState.update(
                cursor_hash=changes.tip.hash,
                cursor_height=changes.tip.height,
                last_sync_at=now,
                last_error=None,
                last_error_at=None,
            ).where(ChainState.currency == self.currency).execute()
            faults.point("sync.before_commit")
        self.outbox.written(events)
        log.debug(
            "%s: sync end pid=%d height=%d outputs=%d payments=%d",
            self.currency,
            os.getpid(),
            changes.tip.height,
            len(changes.outputs),
            len(changed),
        )
        # A burst's listing, or a sweep that expired as many payments (a start-up after a
        # long stop), would leave the worker tens of MB larger: what they held is let go
        # first, then the freed memory goes back to the OS.
        large = max(len(changes.outputs), len(expired)) >= LARGE_LISTING
        del changes, events, ledger, expired
        if large and not self.db.in_transaction() and self.db.database not in ("", ":memory:"):
            # The statements this connection prepared (the driver keeps the last 128) were
            # made while the sync's rows filled the allocator's arenas, and would pin them
            # (~3 MB after a sweep of 11 000 payments): the next sync opens a new one.
            self.db.close()
        memory.after_sync(large)
        return changed

    def _vanished(self, changes, state):
        """Return outputs for unconfirmed receipts the listing no longer shows.

        listsinceblock lists every unconfirmed wallet transaction, except a receive
        that lost to a double spend: it drops out instead of showing negative
        confirmations. Ask the node about those few, in one batch.
        """
        listed = {o.key for o in changes.outputs} | {o.key for o in changes.removed}
        suspect = (Receipt.state == Receipt.PENDING) & Receipt.block_height.is_null()
        if changes.stale_cursor and state.cursor_height is not None:
            # A reorg on a node without `removed`: a mined receive that lost to a
            # double spend in it is not listed again either. Blocks deeper than
            # REORG_WINDOW below the old tip are taken as final.
            suspect |= Receipt.state.in_(Receipt.COUNTED) & (Receipt.block_height > state.cursor_height - REORG_WINDOW)
        # Tuples first: during a burst thousands of unconfirmed receipts are all listed again.
        ids = [
            rid
            for rid, txid, output in Receipt.select(Receipt.id, Receipt.txid, Receipt.output)
            .where((Receipt.currency == self.currency) & suspect)
            .tuples()
            if (txid, output) not in listed
        ]
        if not ids:
            return []
        rows = [r for part in chunks(ids) for r in Receipt.select().where(Receipt.id.in_(part))]
        states = self.backend.recheck(sorted({r.txid for r in rows}))
        gone = []
        for r in rows:
            tx = states.get(r.txid)
            if tx is None or tx.confirmations < 0:
                gone.append(Output(r.txid, r.output, r.address, r.amount, tx.confirmations if tx else 0))
        return gone

    def record_error(self, message):
        ChainState.insert(currency=self.currency).on_conflict_ignore().execute()
        ChainState.update(last_error=message, last_error_at=self.clock()).where(
            ChainState.currency == self.currency
        ).execute()
