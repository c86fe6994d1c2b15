"""Payout batches as the API and the CLI show them, and the upload of a watch-only batch's
signed PSBT to its coin's :class:`~transient.payouts.psbt.PsbtSender`."""

from ..core.clock import iso
from ..core.errors import NotFound, ValidationError
from ..store.payouts import Payout, PayoutBatch


class Batches:
    """``signers`` maps a watch-only coin to its PsbtSender."""

    def __init__(self, signers=None):
        self.signers = signers or {}

    def get(self, batch_id):
        found = PayoutBatch.get_or_none(PayoutBatch.id == str(batch_id)[:32])
        if found is None:
            raise NotFound("no payout batch with id %s" % batch_id, "id")
        return found

    def list(self, state=None):
        query = PayoutBatch.select()
        if state is not None:
            if state not in (PayoutBatch.INTENT, PayoutBatch.SENT, PayoutBatch.UNSIGNED, PayoutBatch.VOID):
                raise ValidationError("must be intent, sent, unsigned or void", "state")
            query = query.where(PayoutBatch.state == state)
        return list(query.order_by(PayoutBatch.created_at.desc()).limit(100))

    def submit(self, batch_id, psbt):
        batch = self.get(batch_id)
        signer = self.signers.get(batch.currency)
        if signer is None:
            raise ValidationError("%s is not a watch-only coin: its batches need no signature" % batch.currency, "id")
        return signer.submit(batch.id, psbt)

    def render(self, batch):
        return {
            "id": batch.id,
            "currency": batch.currency,
            "state": batch.state,
            "txid": batch.txid,
            "psbt": batch.psbt if batch.state == PayoutBatch.UNSIGNED else None,
            "payouts": [p.id for p in Payout.select(Payout.id).where(Payout.batch == batch.id).order_by(Payout.id)],
            "error": batch.error,
            "created_at": iso(batch.created_at),
            "sent_at": iso(batch.sent_at),
        }
