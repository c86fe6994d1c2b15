"""The payouts service: payouts, refunds (pull payments) and claims, their approval and
cancellation. The API, the CLI and Greenfield call this; none of them holds payout logic.

Money leaves only through the sender (payouts.sender); here a payout is recorded, approved
(by a caller, or at once when it is below the coin's ``auto_approve_below`` and the day's
approvals stay within its ``daily_cap``) or cancelled, each change with its outbox event in
the change's transaction.
"""

import datetime
import getpass
import os
import secrets
from dataclasses import dataclass, field

from peewee import IntegrityError, fn

from ..core.clock import utcnow
from ..core.errors import Conflict, NotFound, ValidationError
from ..core.money import format_amount
from ..store.db import write_transaction
from ..store.payouts import Payout, PullPayment
from . import ledger, rendering, states, validation

LIST_LIMIT, LIST_MAX = 50, 500
PAYOUT_FIELDS = ("currency", "amount", "destination", "metadata")
# Who approved a payout (Payout.approved_by, the payouts report's approved_by column).
AUTO_LIMIT = "auto:limit"  # below its coin's [payouts] auto_approve_below, within the daily cap
AUTO_PULL = "auto:pull-payment"  # a claim of a refund made with auto_approve


def by_key(grant):
    """The approver of an API request: ``api-key:<public id>`` (``api-key:config`` for a
    key of the config file; ``api:open`` when no key is set up and loopback lets all in)."""
    key = getattr(grant, "key", None)
    return "api-key:%s" % key if key else "api:open"


def by_user(email):
    """The approver of a dashboard form: ``dashboard:<the signed-in user's e-mail>``."""
    return "dashboard:%s" % email


def by_cli():
    """The approver of ``transient payouts approve``: ``cli:<the operating system user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (a container's)
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return "cli:%s" % user


def new_id():
    """A public id: 24 letters and digits (Greenfield keeps only [A-Za-z0-9_-])."""
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    return "".join(secrets.choice(alphabet) for _ in range(24))


@dataclass
class Limits:
    """Per coin, in base units: approve at once below ``auto_approve_below``; approve at
    most ``daily_cap`` a UTC day (None: no limit)."""

    auto_approve_below: dict = field(default_factory=dict)
    daily_cap: dict = field(default_factory=dict)


class PayoutService:
    """Payouts of the ``coins`` (code -> ``(backend, options)``). ``outbox`` takes each
    change's events; ``wake(currency)`` is called after a payout was approved (the sender
    sends sooner); ``public_url`` makes the claim pages' links."""

    def __init__(self, coins, outbox, db=None, limits=None, clock=utcnow, idgen=new_id, public_url=None, wake=None):
        self.coins = coins
        self.outbox = outbox
        self.db = db
        self.limits = limits or Limits()
        self.clock = clock
        self.idgen = idgen
        self.public_url = (public_url or "").rstrip("/")
        self.wake = wake or (lambda currency: None)

    def decimals(self, currency):
        backend, _ = self.coins[currency]
        return backend.decimals

    # -- payouts ----------------------------------------------------------------

    def create(self, body, idempotency_key=None):
        """Record a payout from a request body; return ``(payout, created)``.

        An ``idempotency_key`` seen before returns its payout when the body is the same,
        else raises Conflict. Raises ValidationError naming the field (an address of
        another coin or network, an absurd amount) with nothing written.
        """
        body = validation.fields_of(body, PAYOUT_FIELDS)
        code = validation.currency(body.get("currency"), self.coins)
        backend, _ = self.coins[code]
        units = validation.amount(body.get("amount"), backend)
        metadata = validation.metadata(body.get("metadata"))
        digest = None
        if validation.idempotency_key(idempotency_key) is not None:
            digest = validation.body_hash(body)
            replay = self._replay(Payout, idempotency_key, digest)
            if replay is not None:
                return replay, False
        address = validation.destination(body.get("destination"), backend)
        now = self.clock()
        payout = Payout(
            id=self.idgen(),
            currency=code,
            amount=units,
            destination=address,
            state=states.AWAITING_APPROVAL,
            metadata=metadata,
            idempotency_key=idempotency_key,
            request_hash=digest,
            created_at=now,
            updated_at=now,
        )
        try:
            self._insert(payout, now)
        except IntegrityError:
            replay = idempotency_key and self._replay(Payout, idempotency_key, digest)
            if replay:
                return replay, False
            raise
        return self.get(payout.id), True

    def _insert(self, payout, now, pull=None):
        """Insert ``payout`` with its event, approving it at once when its coin's limits allow."""
        events = self.outbox.payout_batch(now)
        with write_transaction(self.db):
            if pull is not None:
                self._take(pull, payout.amount)
            ledger.created(payout, events, self.decimals(payout.currency))
            payout.save(force_insert=True)
            below = self.limits.auto_approve_below.get(payout.currency)
            automatic = (pull is not None and pull.auto_approve) or (below is not None and payout.amount < below)
            if automatic and self._within_cap(payout.currency, payout.amount, now):
                by = AUTO_PULL if pull is not None and pull.auto_approve else AUTO_LIMIT
                ledger.change(payout, states.APPROVED, events, now, self.decimals(payout.currency), approved_by=by)
            events.write()
        self.outbox.written(events)
        if payout.state == states.APPROVED:
            self.wake(payout.currency)

    def approve(self, payout_id, revision=None, by=None):
        """Approve a payout awaiting approval; return it. ``by`` is who approves it (see
        :func:`by_key`, :func:`by_user`, :func:`by_cli`), kept in ``approved_by``. Raises
        Conflict when it is in another state, ``revision`` is not its current one, or the
        coin's daily cap would be passed."""
        now = self.clock()
        events = self.outbox.payout_batch(now)
        with write_transaction(self.db):
            payout = self._locked(payout_id)
            if revision is not None and revision != payout.revision:
                raise Conflict("is %d now, not %d" % (payout.revision, revision), "revision")
            states.move(payout.state, states.APPROVED)
            if not self._within_cap(payout.currency, payout.amount, now):
                cap = self.limits.daily_cap[payout.currency]
                raise Conflict(
                    "would pass today's cap of %s %s: approve it tomorrow or raise [payouts] daily_cap"
                    % (format_amount(cap, self.decimals(payout.currency)), payout.currency),
                    "amount",
                )
            ledger.change(payout, states.APPROVED, events, now, self.decimals(payout.currency), approved_by=by)
            events.write()
        self.outbox.written(events)
        self.wake(payout.currency)
        return payout

    def cancel(self, payout_id):
        """Cancel a payout that is not being sent; its amount goes back to its pull payment."""
        now = self.clock()
        events = self.outbox.payout_batch(now)
        with write_transaction(self.db):
            payout = self._locked(payout_id)
            if payout.batch_id is not None and payout.state != states.AWAITING_APPROVAL:
                raise Conflict("is in batch %s being sent: it cannot be cancelled" % payout.batch_id, "state")
            ledger.change(payout, states.CANCELLED, events, now, self.decimals(payout.currency))
            if payout.pull_payment_id is not None:
                PullPayment.update(claimed=PullPayment.claimed - payout.amount).where(
                    PullPayment.id == payout.pull_payment_id
                ).execute()
            events.write()
        self.outbox.written(events)
        return payout

    def mark_paid(self, payout_id):
        """Mark a payout completed by hand (the merchant paid it from elsewhere)."""
        now = self.clock()
        events = self.outbox.payout_batch(now)
        with write_transaction(self.db):
            payout = self._locked(payout_id)
            if payout.batch_id is not None and payout.state == states.APPROVED:
                raise Conflict("is in batch %s being sent: it cannot be marked paid" % payout.batch_id, "state")
            fields = {"paid_externally": True}
            if payout.state == states.BROADCAST:
                fields = {}
            ledger.change(payout, states.COMPLETED, events, now, self.decimals(payout.currency), **fields)
            events.write()
        self.outbox.written(events)
        return payout

    def _within_cap(self, currency, units, now):
        """True when approving ``units`` more today keeps ``currency`` within its daily cap
        (takes the coin's approval lock: call inside the write transaction)."""
        cap = self.limits.daily_cap.get(currency)
        if cap is None:
            return True
        ledger.lock_coin(self.db, currency)
        day = datetime.datetime(now.year, now.month, now.day)
        approved = (
            Payout.select(fn.COALESCE(fn.SUM(Payout.amount), 0))
            .where((Payout.currency == currency) & (Payout.approved_at >= day) & (Payout.state != states.CANCELLED))
            .scalar()
        )
        return int(approved) + units <= cap

    # -- pull payments (refunds) and claims -------------------------------------

    def create_pull(self, currency, units, now, **fields):
        """Insert a pull payment of ``units`` of ``currency``; return it."""
        backend, _ = self.coins[currency]
        if not 0 < units <= backend.max_money:
            raise ValidationError("is not an amount this coin can pay", "amount")
        pull = PullPayment(id=self.idgen(), currency=currency, amount=units, created_at=now, **fields)
        with write_transaction(self.db):
            pull.save(force_insert=True)
        return pull

    def archive_pull(self, pull_id):
        """No more claims of the pull payment (its payouts go on)."""
        with write_transaction(self.db):
            PullPayment.update(archived=True).where(PullPayment.id == pull_id).execute()

    def claim(self, pull_id, destination, amount=None):
        """Claim ``amount`` (a decimal; None: all that remains) of a pull payment to
        ``destination``; return the new payout. Two claims racing for the last unit: one
        wins, the other raises Conflict with nothing written."""
        pull = self.get_pull(pull_id)
        if pull.archived:
            raise Conflict("is archived: it can no longer be claimed", "pullPaymentId")
        if pull.expires_at is not None and pull.expires_at <= self.clock():
            raise Conflict("has expired: it can no longer be claimed", "pullPaymentId")
        backend, _ = self.coins[pull.currency]
        remaining = pull.amount - pull.claimed
        units = remaining if amount is None else validation.amount(amount, backend)
        if units <= 0:
            raise Conflict("has nothing left to claim", "amount")
        if units > remaining:
            raise ValidationError(
                "is above what remains to claim (%s %s)" % (format_amount(remaining, backend.decimals), pull.currency),
                "amount",
            )
        address = validation.destination(destination, backend)
        now = self.clock()
        payout = Payout(
            id=self.idgen(),
            currency=pull.currency,
            amount=units,
            destination=address,
            state=states.AWAITING_APPROVAL,
            pull_payment=pull.id,
            payment_id=pull.payment_id,
            created_at=now,
            updated_at=now,
        )
        self._insert(payout, now, pull=pull)
        return self.get(payout.id)

    def _take(self, pull, units):
        """Count ``units`` against the pull payment in one conditional UPDATE, or raise Conflict."""
        taken = (
            PullPayment.update(claimed=PullPayment.claimed + units)
            .where((PullPayment.id == pull.id) & (PullPayment.claimed + units <= PullPayment.amount))
            .execute()
        )
        if taken != 1:
            raise Conflict("is above what remains to claim: another claim took it", "amount")

    # -- reading ------------------------------------------------------------------

    def get(self, payout_id):
        found = Payout.get_or_none(Payout.id == validation.public_id(payout_id, "payout"))
        if found is None:
            raise NotFound("no payout with id %s" % payout_id, "id")
        return found

    def get_pull(self, pull_id):
        found = PullPayment.get_or_none(PullPayment.id == validation.public_id(pull_id, "pull payment"))
        if found is None:
            raise NotFound("no pull payment with id %s" % pull_id, "id")
        return found

    def _locked(self, payout_id):
        """The payout, read again inside the caller's write transaction."""
        return self.get(payout_id)

    def list(self, state=None, currency=None, limit=None, pull_id=None, include_cancelled=True):
        """Return payouts, newest first (at most ``limit``)."""
        query = Payout.select()
        if state is not None:
            if state not in states.STATES:
                raise ValidationError("must be one of %s" % ", ".join(states.STATES), "state")
            query = query.where(Payout.state == state)
        if currency is not None:
            query = query.where(Payout.currency == validation.currency(currency, self.coins))
        if pull_id is not None:
            query = query.where(Payout.pull_payment == pull_id)
        if not include_cancelled:
            query = query.where(Payout.state != states.CANCELLED)
        limit = LIST_LIMIT if limit is None else _limit(limit)
        return list(query.order_by(Payout.created_at.desc(), Payout.id.desc()).limit(limit))

    def render(self, payout):
        """The payout's JSON, with its BIP21 ``uri`` (to pay it from any wallet: a coin
        Transient does not send from, such as Dogecoin Core 1.14 with no PSBT)."""
        backend, _ = self.coins[payout.currency]
        rendered = rendering.payout(payout, backend.decimals)
        rendered["uri"] = backend.payment_uri(payout.destination, payout.amount)
        return rendered

    def render_pull(self, pull):
        return rendering.pull_payment(pull, self.decimals(pull.currency), self.view_link(pull))

    def view_link(self, pull):
        return "%s/claim/%s" % (self.public_url, pull.id)

    def _replay(self, model, key, digest):
        existing = model.get_or_none(model.idempotency_key == key)
        if existing is None:
            return None
        if existing.request_hash != digest:
            raise Conflict("was used before with a different request body", "Idempotency-Key")
        return existing


def _limit(value):
    text = str(value)
    if not text.isdigit() or not 1 <= int(text) <= LIST_MAX:
        raise ValidationError("must be an integer from 1 to %d" % LIST_MAX, "limit")
    return int(text)
