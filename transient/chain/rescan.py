"""Rescan: re-read a coin's wallet history from the node to rebuild or verify the ledger.

Everything goes through the normal sync (:meth:`Syncer.sync_once`): the ledger
writes receipts, payment amounts, statuses and outbox events exactly as it does
for new transactions. The rescan only chooses what the sync is fed:

1. Under the coin's lease (the daemon's syncs wait), a normal sync brings the
   cursor to the tip C.
2. One listing from the block below ``from_height`` (or of the whole wallet).
3. Its outputs in blocks up to C (and conflicted ones) are replayed in batches
   at tip C, oldest first, one transaction each. The cursor never moves back,
   receipts are upserted by (currency, txid, output), so an interrupted rescan
   leaves a consistent ledger and running it again finishes the job.
"""

import copy
import time
from dataclasses import dataclass, field

from ..core import faults
from ..core.errors import Conflict, ValidationError
from ..store.db import chunks
from ..store.models import ChainState, Payment, Receipt
from .backend import ChainTip, Changes


@dataclass
class Report:
    currency: str
    from_height: int
    to_height: int
    outputs: int = 0  # wallet outputs read from the node and replayed
    receipts_added: int = 0
    receipts_updated: int = 0
    payments: list = field(default_factory=list)  # [(id, before, after)] of changed payments

    @property
    def matched(self):
        """True when the ledger already held everything the node listed."""
        return not (self.receipts_added or self.receipts_updated or self.payments)


class _Replay:
    """A backend whose listing is one prepared batch; anything else goes to the node."""

    def __init__(self, backend, changes):
        self._backend = backend
        self._changes = changes

    def changes_since(self, cursor):
        return self._changes

    def __getattr__(self, name):
        return getattr(self._backend, name)


class Rescan:
    """Rescans the coin of ``syncer``; ``progress(done, total, height)`` is told of each batch."""

    def __init__(self, syncer, from_height=None, batch=500, progress=None, lease_wait=None):
        self.syncer = syncer
        self.currency = syncer.currency
        self.from_height = from_height or 0
        self.batch = batch
        self.progress = progress or (lambda done, total, height: None)
        self.lease_wait = lease_wait if lease_wait is not None else self.syncer.lease.seconds + 5

    def run(self):
        """Rescan and return a :class:`Report`. Raises Conflict when the lease
        cannot be had or is lost, ValidationError for a start above the tip, NodeError
        when the node fails."""
        self._acquire()
        try:
            before = _snapshot(self.currency)
            self.syncer.sync_once()  # to the tip first: the replay is applied at the cursor
            state = ChainState.get_by_id(self.currency)
            tip = ChainTip(state.cursor_hash, state.cursor_height)
            if self.from_height > tip.height:
                raise ValidationError("%d is above the chain tip (%d)" % (self.from_height, tip.height), "from_height")
            outputs = self._outputs(tip)
            report = Report(self.currency, self.from_height, tip.height, outputs=len(outputs))
            self.progress(0, len(outputs), self.from_height)
            done = 0
            # --batch: outputs per replayed transaction, the operator's choice (not the
            # database's parameter limit: the ledger chunks its own queries).
            for chunk in chunks(outputs, self.batch):
                done += len(chunk)
                self._renew()
                replay = copy.copy(self.syncer)
                replay.backend = _Replay(self.syncer.backend, Changes(tip, chunk))
                replay.sync_once()
                faults.point("rescan.after_batch")
                self.progress(done, len(outputs), chunk[-1].block_height or tip.height)
            _compare(before, _snapshot(self.currency), report)
            # Syncs asked for meanwhile (pings, polls) run now, as Syncer.run would.
            while not self.syncer.lease.release():
                self._renew()
                self.syncer.sync_once()
            return report
        except BaseException:
            # An interrupted batch rolled back. Give the lease up even if a rerun
            # was asked for: the daemon's next poll runs it.
            if not self.syncer.lease.release():
                self.syncer.lease.release()
            raise

    def _outputs(self, tip):
        """Return the outputs to replay: in blocks from ``from_height`` to the tip, and
        conflicted ones, oldest first. Unconfirmed outputs came with the sync to the tip."""
        changes = self.syncer.backend.changes_since(self._start_hash())
        keep = [
            o
            for o in changes.outputs
            if o.confirmations < 0 or (o.block_height is not None and self.from_height <= o.block_height <= tip.height)
        ]
        return sorted(keep, key=lambda o: (o.block_height is None, o.block_height or 0, o.txid, o.output))

    def _start_hash(self):
        """The block below ``from_height``, where the listing starts (None: the whole wallet)."""
        rpc = getattr(self.syncer.backend, "rpc", None)
        if self.from_height <= 0 or rpc is None:
            return None  # a backend without RPC access lists everything; _outputs filters
        return rpc.call("getblockhash", self.from_height - 1)

    def _acquire(self):
        deadline = time.monotonic() + self.lease_wait
        while not self.syncer.lease.acquire():
            if time.monotonic() >= deadline:
                holder = ChainState.get_by_id(self.currency).lease_holder
                raise Conflict(
                    "another process (%s) is syncing %s and did not finish within %ds;"
                    " try again" % (holder, self.currency, self.lease_wait)
                )
            time.sleep(0.2)

    def _renew(self):
        if not self.syncer.lease.acquire():
            raise Conflict("lost the %s sync lease to another process; run the rescan again" % self.currency)


def _snapshot(currency):
    receipts = {
        (r.txid, r.output): (r.state, r.block_hash, r.amount, r.payment_id)
        for r in Receipt.select().where(Receipt.currency == currency)
    }
    payments = {
        p.id: (p.amount_received, p.amount_pending, p.status)
        for p in Payment.select(Payment.id, Payment.amount_received, Payment.amount_pending, Payment.status).where(
            Payment.currency == currency
        )
    }
    return receipts, payments


def _compare(before, after, report):
    (receipts0, payments0), (receipts1, payments1) = before, after
    report.receipts_added = len(receipts1.keys() - receipts0.keys())
    report.receipts_updated = sum(1 for k, v in receipts1.items() if k in receipts0 and receipts0[k] != v)
    report.payments = [
        (pid, payments0.get(pid), now) for pid, now in sorted(payments1.items(), key=str) if payments0.get(pid) != now
    ]
