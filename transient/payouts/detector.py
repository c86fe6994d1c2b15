"""External payouts: a payout is completed when a transaction paying its destination its
exact amount confirms, whoever sent it (the merchant may pay from another wallet).

The node's wallet watches each open payout's destination (``watch_addresses``: no rescan),
so the coin's sync records the outputs to it as receipts that match no payment; each round
matches those receipts to the payouts not sent by Transient: in the mempool -> broadcast,
in a block -> completed, a reorg back to broadcast, a double spend failed then approved.
One receipt pays one payout (its txid and vout are the payout's).
"""

from ..core.clock import utcnow
from ..store.db import write_transaction
from ..store.models import Receipt
from ..store.payouts import Payout
from . import ledger, states

WATCH_BATCH = 200


class Detector:
    """Watches and matches ``currency``'s payouts that no batch of Transient's pays."""

    def __init__(self, currency, backend, db, outbox, clock=utcnow):
        self.currency = currency
        self.backend = backend
        self.db = db
        self.outbox = outbox
        self.clock = clock

    def run(self):
        """One round: watch new destinations, then match receipts; return payouts changed."""
        self.watch()
        return self.match()

    def watch(self):
        todo = list(
            Payout.select()
            .where(
                (Payout.currency == self.currency)
                & (Payout.watched == False)  # noqa: E712 - peewee's SQL comparison
                & Payout.state.in_(states.OPEN)
            )
            .limit(WATCH_BATCH)
        )
        if not todo:
            return 0
        taken = set(self.backend.watch_addresses(sorted({p.destination for p in todo})))
        if taken:
            Payout.update(watched=True).where(Payout.id.in_([p.id for p in todo if p.destination in taken])).execute()
        return len(taken)

    def match(self):
        open_ = list(
            Payout.select().where(
                (Payout.currency == self.currency)
                & Payout.batch.is_null()
                & (Payout.watched == True)  # noqa: E712
                & (Payout.state.in_(states.OPEN) | (Payout.state == states.COMPLETED) & (Payout.vout.is_null(False)))
            )
        )
        if not open_:
            return 0
        receipts = _receipts(self.currency, {p.destination for p in open_})
        used = {(p.txid, str(p.vout)) for p in open_ if p.txid is not None}
        now = self.clock()
        events = self.outbox.payout_batch(now)
        changed = 0
        with write_transaction(self.db):
            for payout in open_:
                changed += self._one(payout, receipts, used, events, now)
            events.write()
        self.outbox.written(events)
        return changed

    def _one(self, payout, receipts, used, events, now):
        decimals = self.backend.decimals
        if payout.txid is not None and payout.vout is not None:
            receipt = receipts.get((payout.txid, str(payout.vout)))
            if receipt is None:
                return 0
            return self._follow(payout, receipt, events, now, decimals)
        for key, receipt in receipts.items():
            if receipt.address == payout.destination and receipt.amount == payout.amount and key not in used:
                if receipt.state not in Receipt.COUNTED or not receipt.output.isdigit():
                    continue  # gone, or a Litecoin MWEB output (no vout)
                used.add(key)
                fields = {"txid": receipt.txid, "vout": int(receipt.output), "paid_externally": True}
                if payout.state in (states.APPROVED, states.AWAITING_APPROVAL, states.AWAITING_SIGNATURE):
                    ledger.change(payout, states.BROADCAST, events, now, decimals, **fields)
                return 1 + self._follow(payout, receipt, events, now, decimals)
        return 0

    def _follow(self, payout, receipt, events, now, decimals):
        """Move a matched payout with its receipt: mined, reorganised, double spent."""
        mined = receipt.state == Receipt.CONFIRMED and receipt.block_height is not None
        if mined and payout.state == states.BROADCAST:
            fields = {"block_hash": receipt.block_hash, "block_height": receipt.block_height}
            ledger.change(payout, states.COMPLETED, events, now, decimals, **fields)
            return 1
        if receipt.state in (Receipt.PENDING, Receipt.REMOVED) and payout.state == states.COMPLETED:
            # A reorg took the block away: the transaction may come back in another.
            ledger.change(payout, states.BROADCAST, events, now, decimals, block_hash=None, block_height=None)
            return 1
        if receipt.state == Receipt.CONFLICTED and payout.state in (states.BROADCAST, states.COMPLETED):
            # A double spend took it: failed, then approved again (to be paid once more).
            if payout.state == states.COMPLETED:
                ledger.change(payout, states.BROADCAST, events, now, decimals, block_hash=None, block_height=None)
            ledger.change(payout, states.FAILED, events, now, decimals)
            ledger.change(payout, states.APPROVED, events, now, decimals, txid=None, vout=None, paid_externally=False)
            return 1
        return 0


def _receipts(currency, addresses):
    """{(txid, output): Receipt} of the outputs to ``addresses`` that match no payment."""
    found = {}
    for address in sorted(addresses):
        for r in Receipt.select().where(
            (Receipt.currency == currency) & (Receipt.address == address) & Receipt.payment.is_null()
        ):
            found[(r.txid, r.output)] = r
    return found
