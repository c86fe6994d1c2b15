"""The ledger: applies what the node listed to receipts and payments.

Every function here runs inside the sync's write transaction; the caller
commits the ledger and the new cursor together.
"""

from ..core import status as st
from ..core.events import CONFIRMED, LATE, RECEIVED, REVERTED, STATUS_CHANGED
from ..core.status import Coin, Policy, receipt_state
from ..store.db import IN_CHUNK, chunks, save_fields
from ..store.models import Payment, Receipt, confirmations

# Outputs and payments per step of apply() and settle(), and values per IN (...) list:
# the database's limit. A module constant so that tests can make it small.
CHUNK = IN_CHUNK

EVENT_STATUS = STATUS_CHANGED
EVENT_RECEIVED = RECEIVED
EVENT_CONFIRMED = CONFIRMED
EVENT_REVERTED = REVERTED
EVENT_LATE = LATE


class Ledger:
    """Applies one listing of a coin's wallet changes at one tip."""

    def __init__(self, currency, default_confirmations, tip, now, events):
        self.currency = currency
        self.events = events  # the transaction's outbox.EventBatch
        self.default_confirmations = default_confirmations
        self.tip = tip
        self.now = now
        self.touched = {}  # payment id -> cause of the change
        self.receipt_events = []  # (payment id, event type, data)
        self._required_cache = {}  # payment id -> confirmations required

    def apply(self, changes):
        """Upsert listed outputs, apply removals and maturing confirmations.

        Returns the number of receipts written. Works CHUNK outputs at a time: a burst's
        listing holds thousands, and rows held all at once would set the worker's memory
        for as long as it runs.
        """
        listed = {o.key: o for o in changes.outputs}
        keys = list(listed)
        written = 0
        for part in chunks(keys, CHUNK):
            existing = self._existing(part)
            self._prefetch_required({r.payment_id for r in existing.values()})
            payments = self._payments({listed[k].address for k in part if k not in existing})
            new_rows, changed = [], []
            for key in part:
                out, row = listed[key], existing.get(key)
                if row is None:
                    new_rows.append(self._new_receipt(out, payments.get(out.address)))
                elif self._update_receipt(row, out):
                    changed.append(row)
            Receipt.bulk_create(new_rows)
            save_receipts(changed)
            written += len(new_rows) + len(changed)
        removed = [o for o in changes.removed if o.key not in listed]
        existing = self._existing([o.key for o in removed])
        self._prefetch_required({r.payment_id for r in existing.values()})
        changed = []
        for out in removed:
            row = existing.get(out.key)
            # The node reports a removed entry's current depth: negative when a
            # conflicting transaction is now in the chain (a double spend).
            state = Receipt.CONFLICTED if out.confirmations < 0 else Receipt.REMOVED
            if row is not None and row.state != state:
                self._transition(row, state, None, None)
                changed.append(row)
        save_receipts(changed)
        return written + len(changed) + self._mature(listed)

    def _existing(self, keys):
        found = {}
        txids = sorted({txid for txid, _ in keys})
        for part in chunks(txids, CHUNK):
            query = Receipt.select().where((Receipt.currency == self.currency) & Receipt.txid.in_(part))
            found.update({(r.txid, r.output): r for r in query})
        return found

    def _payments(self, addresses):
        found = {}
        addresses = sorted(addresses)
        for part in chunks(addresses, CHUNK):
            query = Payment.select(
                Payment.id, Payment.address, Payment.confirmations_required, Payment.expires_at
            ).where((Payment.currency == self.currency) & Payment.address.in_(part))
            found.update({p.address: p for p in query})
        return found

    def _prefetch_required(self, payment_ids):
        # One query per CHUNK payments instead of one per receipt: a sync during a burst
        # re-lists thousands of unconfirmed receipts.
        ids = sorted(pid for pid in payment_ids if pid is not None and pid not in self._required_cache)
        for part in chunks(ids, CHUNK):
            query = Payment.select(Payment.id, Payment.confirmations_required).where(Payment.id.in_(part)).tuples()
            self._required_cache.update(query)

    def _required(self, payment_id):
        if payment_id is None:
            return self.default_confirmations
        if payment_id not in self._required_cache:
            self._required_cache[payment_id] = (
                Payment.select(Payment.confirmations_required).where(Payment.id == payment_id).scalar()
            )
        return self._required_cache[payment_id]

    def _state_for(self, payment_id, out_confirmations, block_height):
        if out_confirmations < 0:
            return Receipt.CONFLICTED
        confs = 0 if block_height is None else self.tip.height - block_height + 1
        return receipt_state(confs, self._required(payment_id))

    def _new_receipt(self, out, payment):
        pid = payment.id if payment else None
        if payment is not None:
            self._required_cache[pid] = payment.confirmations_required
        height = out.block_height if out.confirmations > 0 else None
        state = self._state_for(pid, out.confirmations, height)
        # The node's time, not ours: a payment that reached the node in time was paid
        # in time even if Transient was down or behind then.
        first_seen = min(self.now, out.seen_at) if out.seen_at else self.now
        row = Receipt(
            currency=self.currency,
            txid=out.txid,
            output=out.output,
            address=out.address,
            amount=out.amount,
            payment=pid,
            state=state,
            block_hash=out.block_hash if height is not None else None,
            block_height=height,
            first_seen=first_seen,
            last_seen=self.now,
            confirmed_at=self.now if state == Receipt.CONFIRMED else None,
        )
        if pid is not None and state in Receipt.COUNTED:
            self._event(pid, EVENT_RECEIVED, row)
            if payment.expires_at is not None and first_seen >= payment.expires_at:
                # Funds after expiry: still credited; the merchant decides.
                self._event(pid, EVENT_LATE, row)
            if state == Receipt.CONFIRMED:
                self._event(pid, EVENT_CONFIRMED, row)
        return row

    def _update_receipt(self, row, out):
        height = out.block_height if out.confirmations > 0 else None
        block_hash = out.block_hash if height is not None else None
        state = self._state_for(row.payment_id, out.confirmations, height)
        row.last_seen = self.now
        if (state, height, block_hash) == (row.state, row.block_height, row.block_hash):
            return False
        self._transition(row, state, height, block_hash)
        return True

    def _transition(self, row, state, height, block_hash):
        before = row.state
        row.state, row.block_height, row.block_hash = state, height, block_hash
        if state != before:
            # The reports' "confirmed at": the last time it reached its confirmations.
            row.confirmed_at = self.now if state == Receipt.CONFIRMED else None
        pid = row.payment_id
        if pid is None or before == state:
            if pid is not None:
                self.touched.setdefault(pid, "block")
            return
        if state == Receipt.CONFIRMED:
            self._event(pid, EVENT_CONFIRMED, row)
        elif before not in Receipt.COUNTED and state in Receipt.COUNTED:
            self._event(pid, EVENT_RECEIVED, row)
        elif before == Receipt.CONFIRMED or state not in Receipt.COUNTED:
            cause = "double_spend" if state == Receipt.CONFLICTED else "reorg"
            self._event(pid, EVENT_REVERTED, row, cause=cause)

    def _mature(self, listed):
        """Move receipts in blocks that reached their confirmations; return how many."""
        rows = list(
            Receipt.select().where(
                (Receipt.currency == self.currency)
                & (Receipt.state == Receipt.PENDING)
                & Receipt.block_height.is_null(False)
            )
        )
        self._prefetch_required({r.payment_id for r in rows})
        changed = []
        for row in rows:
            if (row.txid, row.output) in listed:
                continue  # already brought up to date by this listing
            state = receipt_state(self.tip.height - row.block_height + 1, self._required(row.payment_id))
            if state != row.state:
                self._transition(row, state, row.block_height, row.block_hash)
                changed.append(row)
        save_receipts(changed)
        return len(changed)

    def _event(self, pid, type, row, cause=None):
        data = {"txid": row.txid, "vout": row.output, "amount": row.amount, "state": row.state}
        if cause:
            data["cause"] = cause
        self.receipt_events.append((pid, type, data))
        self.touched[pid] = cause or self.touched.get(pid) or type.split(".")[1]

    def settle(self):
        """Queue receipt events, recompute every touched payment; return their ids.

        CHUNK payments at a time: each chunk's payments reach their final state for this
        transaction here (the status takes the expiry into account), so their events are
        written at once and the rows let go, instead of all of a block's at the end.
        """
        events = {}
        for pid, type, data in self.receipt_events:
            events.setdefault(pid, []).append((type, data))
        ids = list(self.touched)
        # Two queries per CHUNK payments, not two per payment (a block may pay thousands).
        for part in chunks(ids, CHUNK):
            payments = {p.id: p for p in Payment.select().where(Payment.id.in_(part))}
            receipts = {}
            for r in Receipt.select().where(Receipt.payment.in_(part)):
                receipts.setdefault(r.payment_id, []).append(r)
            for pid in part:
                payment = payments[pid]
                for type, data in events.pop(pid, ()):
                    self.events.add(payment, type, data)
                refresh(
                    payment,
                    self.tip.height,
                    self.now,
                    self.touched[pid],
                    self.events,
                    receipts.get(pid, []),
                    save=False,
                )
            save_refreshed([payments[pid] for pid in part])
            self.events.write()
        return ids


def expire_due(currency, tip_height, now, events):
    """Recompute open payments of ``currency`` whose expiry has passed; return their ids.

    Runs inside the sync's transaction (under the coin's lease), so a payment
    expires on time even when no transaction arrives, and only once. CHUNK payments at
    a time, as ``Ledger.settle``: two queries per chunk, its rows stored and its events
    written at once and then let go. A start-up after a long stop may expire thousands,
    and a worker keeps the memory of its peak.
    """
    due = (
        (Payment.currency == currency)
        & Payment.status.in_((st.UNPAID, st.UNDERPAID))
        & Payment.expires_at.is_null(False)
        & (Payment.expires_at <= now)
    )
    expired, after = [], None
    while True:
        # Keyset pages: no list of every due id is held meanwhile.
        page = due if after is None else due & (Payment.id > after)
        payments = list(Payment.select().where(page).order_by(Payment.id).limit(CHUNK))
        if not payments:
            return expired
        after = payments[-1].id
        part = [p.id for p in payments]
        receipts = {}
        for r in Receipt.select().where(Receipt.payment.in_(part)):
            receipts.setdefault(r.payment_id, []).append(r)
        for payment in payments:
            summary = refresh(payment, tip_height, now, "expiry", events, receipts.get(payment.id, []), save=False)
            if summary.status == st.EXPIRED:
                expired.append(payment.id)
        save_refreshed(payments)
        events.write()


SAVED_RECEIPT = [Receipt.state, Receipt.block_height, Receipt.block_hash, Receipt.last_seen, Receipt.confirmed_at]
REFRESHED = [Payment.amount_received, Payment.amount_pending, Payment.status, Payment.paid_at, Payment.updated_at]


def save_receipts(receipts):
    """Store the fields a sync changes on existing receipts (SAVED_RECEIPT)."""
    save_fields(Receipt, SAVED_RECEIPT, receipts)


def save_refreshed(payments):
    """Store the REFRESHED fields of many payments."""
    save_fields(Payment, REFRESHED, payments)


def refresh(payment, tip_height, now, cause, events, receipts=None, save=True):
    """Recompute ``payment``'s amounts and status from its receipts (read here unless
    given) and store them (``save`` False: the caller stores the REFRESHED fields).

    Queues a status-change event in ``events`` (an outbox.EventBatch) when the
    status moves. Returns the Summary.
    """
    if receipts is None:
        receipts = list(Receipt.select().where(Receipt.payment == payment.id))
    summary = summarize(payment, receipts, tip_height, now)
    old = payment.status
    payment.amount_received = summary.received
    payment.amount_pending = summary.pending
    payment.status = summary.status
    if summary.paid and payment.paid_at is None:
        payment.paid_at = now
    elif not summary.paid and old in st.PAID_STATUSES:
        payment.paid_at = None
    payment.updated_at = now
    if save:
        payment.save(only=REFRESHED)
    if old != summary.status:
        events.add(payment, EVENT_STATUS, status_change(old, summary.status, cause))
    return summary


_CHANGES = {}  # (from, to, cause) -> the data of such a status change


def status_change(old, new, cause):
    """The data of a status change event, one dict per (from, to, cause): the batch keeps
    every event's data until the commit (ops.lifecycle's lines), and a sweep that expires
    thousands would hold thousands of equal dicts. Shared, so never changed: the outbox
    and the lifecycle only read it."""
    key = (old, new, cause)
    data = _CHANGES.get(key)
    if data is None:
        data = _CHANGES.setdefault(key, {"from": old, "to": new, "cause": cause})
    return data


def summarize(payment, receipts, tip_height, now):
    """Return the status Summary of ``payment`` given its receipts (pure)."""
    coins = [Coin(r.amount, confirmations(r, tip_height), r.first_seen, r.state != Receipt.REMOVED) for r in receipts]
    policy = Policy(payment.confirmations_required, payment.tolerance_bp, payment.expires_at)
    return st.evaluate(payment.amount, coins, policy, now)
