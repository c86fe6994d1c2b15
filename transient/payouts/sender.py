"""Sending a coin's approved payouts: one transaction for many (``sendmany``), recorded
before it is sent and never sent twice, whatever crashes when.

A round, for one coin, in the one process holding the coin's payout lease:

1. A batch left in ``intent`` (this process or another died with it) is looked up in the
   node's wallet by its comment first: found, it is recorded as sent; not found, it was
   never sent, and it is sent now.
2. Otherwise the approved payouts not in a batch (at most ``batch_max``, one per
   destination: sendmany takes each address once) become a new batch, committed in
   ``intent`` before the node is asked anything.
3. The send: ``sendmany`` with the batch id as its comment and a fee rate that is the
   node's estimate for ``conf_target`` capped at ``fee_rate_cap`` (never above it).
   The node refusing it (an RPC error: no funds, a fee too low) voids the batch and its
   payouts wait, approved, for the next round; no answer (a timeout, a lost connection)
   leaves the batch in intent: the next round looks in the wallet before anything else.
4. The txid recorded: the batch ``sent``, each payout ``broadcast`` with its event.

Fault points (core/faults.py): ``payouts.before_send``, ``rpc.answered.sendmany`` (the
node has sent, the answer is not read), ``payouts.after_send`` (the txid is known, not
recorded).
"""

import calendar
import datetime
import logging
import secrets

from ..core import faults
from ..core.clock import utcnow
from ..core.errors import NodeError, RPCError
from ..store.db import write_transaction
from ..store.payouts import Payout, PayoutBatch
from . import ledger, states

log = logging.getLogger("transient.payouts")
COMMENT = "transient-payout-batch:%s"
SEARCH_MARGIN = 3600  # seconds before a batch's record that the wallet search still reads


def batch_id():
    return secrets.token_hex(12)


class PayoutSender:
    """Sends ``currency``'s approved payouts through ``backend`` (node-wallet mode)."""

    def __init__(
        self,
        currency,
        backend,
        db,
        outbox,
        fee_rate_cap,
        conf_target=6,
        batch_max=1000,
        clock=utcnow,
        idgen=batch_id,
        settle_seconds=30,
    ):
        self.currency = currency
        # After a send attempt with no answer (a timeout, a crash), the node may still hold
        # the request in its queue: the wallet is searched only this long after the attempt.
        self.settle_seconds = settle_seconds
        self.backend = backend
        self.db = db
        self.outbox = outbox
        self.fee_rate_cap = fee_rate_cap  # base units per vbyte (Decimal)
        self.conf_target = conf_target
        self.batch_max = batch_max
        self.clock = clock
        self.idgen = idgen

    def run(self):
        """One round; return the batch sent (or found sent) this round, or None."""
        pending = PayoutBatch.get_or_none(
            (PayoutBatch.currency == self.currency) & (PayoutBatch.state == PayoutBatch.INTENT)
        )
        if pending is not None:
            attempted = pending.sent_at  # an intent batch's sent_at: when its send was attempted
            if attempted is not None and self.clock() < attempted + datetime.timedelta(seconds=self.settle_seconds):
                return None  # a request the node may not have run yet: look later, never send now
            txid = self.backend.find_sent(COMMENT % pending.id, _unix(pending.created_at) - SEARCH_MARGIN)
            if txid is not None:
                log.warning("%s: batch %s was sent before a crash (%s): recorded now", self.currency, pending.id, txid)
                return self._record(pending, txid)
            return self._send(pending)
        batch = self._new_batch()
        return self._send(batch) if batch is not None else None

    def _new_batch(self):
        return new_batch(self.db, self.currency, self.batch_max, self.clock, self.idgen)

    def fee_rate(self):
        """The batch's fee rate: the node's estimate, never above the cap (the cap when
        the node has no estimate)."""
        estimate = self.backend.fee_estimate(self.conf_target)
        return self.fee_rate_cap if estimate is None else min(estimate, self.fee_rate_cap)

    def _send(self, batch):
        payouts = list(Payout.select().where(Payout.batch == batch.id))
        outputs = {p.destination: p.amount for p in payouts}
        rate = self.fee_rate()
        # Committed before the RPC: a later round or another process waits settle_seconds
        # after this attempt before searching the wallet for it.
        PayoutBatch.update(fee_rate=str(rate), sent_at=self.clock()).where(PayoutBatch.id == batch.id).execute()
        faults.point("payouts.before_send")
        try:
            txid = self.backend.send_many(outputs, COMMENT % batch.id, rate)
        except RPCError as exc:
            # The node refused it: nothing left the wallet (checked: a wallet that kept the
            # transaction and only failed to relay it is recorded as sent). The payouts wait.
            txid = self.backend.find_sent(COMMENT % batch.id, _unix(batch.created_at) - SEARCH_MARGIN)
            if txid is not None:
                return self._record(batch, txid)
            log.warning("%s: the node refused payout batch %s: %s", self.currency, batch.id, exc)
            self._void(batch, str(exc))
            return None
        except NodeError as exc:
            # No answer: maybe sent. The batch stays in intent; the next round looks first.
            log.warning(
                "%s: payout batch %s: no answer from the node (%s); looked up next round", self.currency, batch.id, exc
            )
            return None
        faults.point("payouts.after_send")
        return self._record(batch, txid)

    def _record(self, batch, txid):
        return record_sent(self, batch, txid)

    def _void(self, batch, error):
        with write_transaction(self.db):
            PayoutBatch.update(state=PayoutBatch.VOID, error=error[:2000]).where(PayoutBatch.id == batch.id).execute()
            Payout.update(batch=None).where(Payout.batch == batch.id).execute()


def new_batch(db, currency, batch_max, clock, idgen):
    """Put ``currency``'s approved payouts not in a batch into a new one (``intent``), at
    most ``batch_max`` and one per destination (sendmany takes each address once); return
    it, or None when nothing waits."""
    with write_transaction(db):
        waiting = list(
            Payout.select()
            .where((Payout.currency == currency) & (Payout.state == states.APPROVED) & Payout.batch.is_null())
            .order_by(Payout.approved_at, Payout.id)
            .limit(batch_max * 2)
        )
        chosen, seen = [], set()
        for payout in waiting:
            if payout.destination not in seen and len(chosen) < batch_max:
                seen.add(payout.destination)
                chosen.append(payout)
        if not chosen:
            return None
        batch = PayoutBatch.create(id=idgen(), currency=currency, created_at=clock())
        Payout.update(batch=batch.id).where(Payout.id.in_([p.id for p in chosen])).execute()
    return batch


def record_sent(sender, batch, txid):
    """Record a sent batch: the batch ``sent`` with ``txid``, each payout broadcast (its
    event). ``sender`` gives the backend, database, outbox and clock."""
    now = sender.clock()
    events = sender.outbox.payout_batch(now)
    with write_transaction(sender.db):
        PayoutBatch.update(state=PayoutBatch.SENT, txid=txid, sent_at=now).where(PayoutBatch.id == batch.id).execute()
        for payout in Payout.select().where(Payout.batch == batch.id):
            if payout.state in (states.APPROVED, states.AWAITING_SIGNATURE):
                ledger.change(payout, states.BROADCAST, events, now, sender.backend.decimals, txid=txid)
        events.write()
    sender.outbox.written(events)
    log.info("%s: payout batch %s sent: %s", sender.currency, batch.id, txid)
    batch.txid, batch.state = txid, PayoutBatch.SENT
    batch.fee = store_fee(sender.backend, sender.db, batch.id, txid)
    return batch


def shares(fee, count):
    """``fee`` split among ``count`` payouts: even parts, the remainder's units one each to
    the first, so the parts add up to ``fee`` exactly."""
    part, rest = divmod(fee, count)
    return [part + (1 if i < rest else 0) for i in range(count)]


def store_fee(backend, db, batch_id, txid):
    """Read the fee the transaction ``txid`` paid from the node's wallet and record it on
    the batch and, split (:func:`shares`), on its payouts by id; return it (None: the node
    could not tell now, and the tracker reads it again while the payouts are watched)."""
    try:
        fee = backend.tx_fee(txid)
    except (NodeError, RPCError) as exc:
        log.warning("payout batch %s: could not read the fee of %s (%s): read again later", batch_id, txid, exc)
        return None
    if fee is None:
        return None
    with write_transaction(db):
        ids = [p.id for p in Payout.select(Payout.id).where(Payout.batch == batch_id).order_by(Payout.id)]
        PayoutBatch.update(fee=fee).where(PayoutBatch.id == batch_id).execute()
        for payout_id, share in zip(ids, shares(fee, len(ids))):
            Payout.update(fee=share).where((Payout.id == payout_id) & (Payout.txid == txid)).execute()
    return fee


class Tracker:
    """Follows the transactions of a coin's sent batches: a payout is completed when its
    transaction confirms, back to broadcast when a reorg takes its block away, and failed
    then approved again (sent anew next round) when a double spend took it out of the chain.
    Completed payouts are watched until ``final`` confirmations."""

    def __init__(self, currency, backend, db, outbox, final=6, clock=utcnow):
        self.currency = currency
        self.backend = backend
        self.db = db
        self.outbox = outbox
        self.final = final
        self.clock = clock

    def run(self):
        """One round; return how many payouts changed."""
        recent = self.clock() - datetime.timedelta(days=1)
        watched = list(
            Payout.select().where(
                (Payout.currency == self.currency)
                & Payout.txid.is_null(False)
                & Payout.batch.is_null(False)
                & (
                    (Payout.state == states.BROADCAST)
                    | ((Payout.state == states.COMPLETED) & (Payout.completed_at >= recent))
                )
            )
        )
        if not watched:
            return 0  # nothing in flight: no RPC call at all
        tip = self.backend.tip().height
        watched = [p for p in watched if p.state == states.BROADCAST or p.block_height > tip - self.final + 1]
        found = {txid: self.backend.tx_state(txid) for txid in {p.txid for p in watched}}
        replaced = {}  # a conflicted txid -> the batch's replacement (a fee bump keeps the comment)
        for payout in watched:
            state = found[payout.txid]
            if (state is None or state[0] < 0) and payout.txid not in replaced:
                batch = PayoutBatch.get_by_id(payout.batch_id)
                since = _unix(batch.created_at) - SEARCH_MARGIN
                replaced[payout.txid] = self.backend.find_sent(COMMENT % batch.id, since, exclude=(payout.txid,))
        now = self.clock()
        events = self.outbox.payout_batch(now)
        changed = 0
        with write_transaction(self.db):
            for payout in watched:
                other = replaced.get(payout.txid)
                if other is not None:  # still paid, by the replacement: follow it
                    if payout.state == states.COMPLETED:
                        ledger.change(
                            payout,
                            states.BROADCAST,
                            events,
                            now,
                            self.backend.decimals,
                            txid=other,
                            fee=None,
                            block_hash=None,
                            block_height=None,
                        )
                    else:
                        Payout.update(txid=other, fee=None).where(Payout.id == payout.id).execute()
                    changed += 1
                    continue
                changed += self._apply(payout, found[payout.txid], events, now)
            events.write()
        self.outbox.written(events)
        self._fill_fees(watched, replaced)
        return changed

    def _fill_fees(self, watched, replaced):
        """Read the fee of each transaction that pays a watched payout and has none recorded
        (its send's read failed, or a replacement, a fee bump, took its place)."""
        todo = {}
        for payout in watched:
            txid = replaced.get(payout.txid) or (payout.txid if payout.fee is None else None)
            if txid is not None and payout.batch_id is not None:
                todo[(payout.batch_id, txid)] = True
        for batch_id, txid in todo:
            store_fee(self.backend, self.db, batch_id, txid)

    def _apply(self, payout, state, events, now):
        decimals = self.backend.decimals
        confs, block_hash, height = state if state is not None else (-1, None, None)
        if confs > 0 and payout.state == states.BROADCAST:
            ledger.change(payout, states.COMPLETED, events, now, decimals, block_hash=block_hash, block_height=height)
        elif confs == 0 and payout.state == states.COMPLETED:
            ledger.change(payout, states.BROADCAST, events, now, decimals, block_hash=None, block_height=None)
        elif confs < 0:
            # A conflict took the transaction: failed, then approved again: never lost, and
            # paid once (the conflicting transaction did not pay it: ours is gone).
            if payout.state == states.COMPLETED:
                ledger.change(payout, states.BROADCAST, events, now, decimals, block_hash=None, block_height=None)
            ledger.change(payout, states.FAILED, events, now, decimals)
            ledger.change(payout, states.APPROVED, events, now, decimals, batch=None, txid=None, fee=None)
        else:
            return 0
        return 1


def _unix(moment):
    return calendar.timegm(moment.utctimetuple())
