"""Watch-only payouts (no key on the host): a coin's approved payouts become one unsigned
PSBT (``walletcreatefundedpsbt`` on the watch-only wallet), which the merchant downloads,
signs elsewhere and uploads; the upload is checked (the very transaction offered: the
batch's outputs, change to the wallet's own addresses, nothing else) and broadcast.

The unsigned transaction's txid is the signed one's (the watch-only keys are segwit), so
it is kept with the batch: a batch whose transaction the wallet already knows (broadcast
by the merchant's own wallet, or by an upload whose record a crash lost) is recorded as
sent instead of waiting for an upload. One unsigned batch at a time per coin.
"""

from ..core.clock import utcnow
from ..core.errors import Conflict, NotFound, RPCError, ValidationError
from ..store.db import write_transaction
from ..store.payouts import Payout, PayoutBatch
from . import ledger, states
from .sender import batch_id, new_batch, record_sent


class PsbtSender:
    """Offers ``currency``'s approved payouts as PSBTs through ``backend`` (a watch-only
    wallet); ``change_address()`` gives a fresh address of the watched key for the change."""

    def __init__(
        self,
        currency,
        backend,
        db,
        outbox,
        fee_rate_cap,
        change_address,
        conf_target=6,
        batch_max=1000,
        clock=utcnow,
        idgen=batch_id,
    ):
        self.currency = currency
        self.backend = backend
        self.db = db
        self.outbox = outbox
        self.fee_rate_cap = fee_rate_cap
        self.change_address = change_address
        self.conf_target = conf_target
        self.batch_max = batch_max
        self.clock = clock
        self.idgen = idgen

    def run(self):
        """One round: record an unsigned batch that was broadcast, or offer a new one;
        return the batch offered or recorded, or None."""
        waiting = PayoutBatch.get_or_none(
            (PayoutBatch.currency == self.currency) & (PayoutBatch.state == PayoutBatch.UNSIGNED)
        )
        if waiting is not None:
            known = self.backend.tx_state(waiting.txid)
            if known is not None and known[0] >= 0:
                return record_sent(self, waiting, waiting.txid)
            return None
        batch = new_batch(self.db, self.currency, self.batch_max, self.clock, self.idgen)
        return self._offer(batch) if batch is not None else None

    def _offer(self, batch):
        payouts = list(Payout.select().where(Payout.batch == batch.id))
        outputs = {p.destination: p.amount for p in payouts}
        estimate = self.backend.fee_estimate(self.conf_target)
        rate = self.fee_rate_cap if estimate is None else min(estimate, self.fee_rate_cap)
        try:
            psbt = self.backend.fund_psbt(outputs, rate, self.change_address())
            txid = self.backend.psbt_txid(psbt)
        except RPCError as exc:  # no funds, a fee too low: nothing was made, the payouts wait
            with write_transaction(self.db):
                PayoutBatch.update(state=PayoutBatch.VOID, error=str(exc)[:2000]).where(
                    PayoutBatch.id == batch.id
                ).execute()
                Payout.update(batch=None).where(Payout.batch == batch.id).execute()
            return None
        now = self.clock()
        events = self.outbox.payout_batch(now)
        with write_transaction(self.db):
            PayoutBatch.update(state=PayoutBatch.UNSIGNED, psbt=psbt, txid=txid, fee_rate=str(rate)).where(
                PayoutBatch.id == batch.id
            ).execute()
            for payout in payouts:
                ledger.change(payout, states.AWAITING_SIGNATURE, events, now, self.backend.decimals)
            events.write()
        self.outbox.written(events)
        batch.state, batch.psbt, batch.txid = PayoutBatch.UNSIGNED, psbt, txid
        return batch

    def submit(self, batch_id, signed):
        """Check the signed PSBT of an unsigned batch and broadcast it; return the batch.
        Raises ValidationError (field ``psbt``) for a PSBT that is not the batch's
        transaction fully signed, Conflict when the batch is not waiting for one."""
        batch = PayoutBatch.get_or_none(
            (PayoutBatch.id == str(batch_id)[:32]) & (PayoutBatch.currency == self.currency)
        )
        if batch is None:
            raise NotFound("no payout batch with id %s" % batch_id, "id")
        if batch.state != PayoutBatch.UNSIGNED:
            raise Conflict("is %s: it takes no signed PSBT" % batch.state, "state")
        if not isinstance(signed, str) or not 0 < len(signed) < 2_000_000 or not signed.isascii():
            raise ValidationError("must be a base64 PSBT", "psbt")
        outputs = {p.destination: p.amount for p in Payout.select().where(Payout.batch == batch.id)}
        try:
            raw = self.backend.check_signed_psbt(batch.psbt, signed.strip(), outputs)
        except ValueError as exc:
            raise ValidationError(str(exc), "psbt") from None
        try:
            txid = self.backend.broadcast(raw)
        except RPCError as exc:
            raise Conflict("the node refused the transaction: %s" % exc.message, "psbt") from None
        return record_sent(self, batch, txid)
