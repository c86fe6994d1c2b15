"""The payments service: create, read and list payments. The API, the CLI and the AMQP
commands all call this; none of them holds payment logic of its own."""

import base64
import datetime
import json
import uuid
from decimal import Decimal

from peewee import IntegrityError

from ..core import events as event_types
from ..core import status as st
from ..core.clock import utcnow
from ..core.errors import Conflict, NodeError, NotFound, RateUnavailable, ValidationError
from ..core.ids import uuid4 as random_uuid
from ..core.money import format_amount
from ..core.text import text_problem
from ..rates.logic import amount_for
from ..rates.logic import text as rate_text
from ..store.db import insert, retry_once, select_where, write_transaction
from ..store.models import Invoice, InvoicePayment, Payment, Receipt
from . import validation
from .validation import int_value

LIST_LIMIT, LIST_MAX = 50, 500


class _PoolEmpty(Exception):
    """The pool of ``payment``'s coin had no address in store_with's transaction."""

    def __init__(self, payment):
        super().__init__(payment.currency)
        self.payment = payment


class PaymentService:
    """Payments of the ``coins`` (currency code -> ``(backend, options)``).

    ``outbox`` takes the events of each change; ``renderer`` (a
    :class:`~transient.payments.rendering.Renderer`) renders payments; ``pools``
    maps a currency to its :class:`~transient.payments.pool.AddressPool`;
    ``rates`` prices a payment given in fiat (``price_lock``: its default expiry, seconds).
    """

    def __init__(
        self,
        coins,
        outbox,
        renderer,
        db=None,
        pools=None,
        clock=utcnow,
        uuidgen=random_uuid,
        rates=None,
        price_lock=None,
        guard=None,
        group=None,
    ):
        self.coins = coins
        # A store.group.GroupCommit (SQLite): concurrent pooled creates share a transaction.
        self.group = group
        self.rates = rates  # rates(currency, fiat) -> Priced, or raises RateUnavailable (RateBook.price)
        self.price_lock = price_lock
        self.guard = guard  # refuses per-payment URLs that reach private networks (SSRF)
        self.outbox = outbox
        self.renderer = renderer
        self.db = db
        self.pools = pools or {}
        self.clock = clock
        self.uuidgen = uuidgen

    # -- create ---------------------------------------------------------------

    def create(self, body, idempotency_key=None):
        """Create a payment from a request body; return ``(payment, created)``.

        With an ``idempotency_key`` seen before, returns the payment it created
        (``created`` False) if the body is the same, else raises Conflict.
        Raises ValidationError/BadRequest for bad input, RateUnavailable when a
        priced payment has no usable rate (nothing is written, no address taken)
        and NodeError when the node cannot hand out an address.
        """
        now = self.clock()
        fields = validation.create_fields(body, self.coins, now, self.price_lock, self.guard)
        digest = None
        if validation.idempotency_key(idempotency_key) is not None:
            digest = validation.body_hash(body)
            replay = self._replay(idempotency_key, digest)
            if replay is not None:
                return replay, False
        payment = self._new(fields, now, idempotency_key=idempotency_key, request_hash=digest)
        try:
            pool = self.pools.get(payment.currency)
            events = None
            if pool is not None:
                # A pooled address, claimed in the insert's transaction: no node round trip.
                events = retry_once(self.db, self._insert_pooled, payment, pool, now)
                if events is None and pool.watch_only:
                    # Watch-only: the node has no address to give; derive and register a batch.
                    pool.refill(low_water=1)
                    events = retry_once(self.db, self._insert_pooled, payment, pool, now)
                    if events is None:
                        raise NodeError("%s: no watch-only address could be derived" % payment.currency)
            if events is None:
                # No pool, or it is empty: ask the node, outside any transaction.
                backend, _ = self.coins[payment.currency]
                payment.address = backend.new_address(payment.account)
                events = retry_once(self.db, self._insert_once, payment, now)
        except IntegrityError:
            # A concurrent request with the same key won the race.
            replay = idempotency_key and self._replay(idempotency_key, digest)
            if replay:
                return replay, False
            raise
        if isinstance(events, Payment):  # the first commit went through, only its answer was lost
            return events, True
        self.outbox.written(events)
        return payment, True

    def _new(self, fields, now, **extra):
        """The unsaved Payment of validated ``fields``, priced when it names a fiat price."""
        if fields["amount"] is None:
            fields.update(self._priced(fields["currency"], fields["price"], fields["price_currency"]))
        return Payment(
            id=self.uuidgen(), address=None, status=st.UNPAID, created_at=now, updated_at=now, **fields, **extra
        )

    # -- create several, with the caller's rows, in one transaction -------------

    def prepare(self, body):
        """Return a new payment of ``body``, validated and priced but not stored, with the
        node's address when its coin has no pool (asked here, outside any transaction).
        Raises as ``create`` does."""
        now = self.clock()
        payment = self._new(validation.create_fields(body, self.coins, now, self.price_lock, self.guard), now)
        if payment.currency not in self.pools:
            backend, _ = self.coins[payment.currency]
            payment.address = backend.new_address(payment.account)
        return payment

    def store_with(self, payments, then):
        """Store the prepared ``payments`` and run ``then()`` (the caller's rows) in one
        transaction; return what ``then`` returns. Pooled addresses are claimed in it; when a
        pool is empty the node's address (or a derived one) is fetched outside it and the
        transaction runs again. Raises NodeError when no address can be had."""
        for _ in range(3):
            events = self.outbox.batch(self.clock())
            try:
                with write_transaction(self.db):
                    for payment in payments:
                        if payment.address is None and not self._claim(payment, self.pools[payment.currency]):
                            raise _PoolEmpty(payment)  # rolls the transaction back
                        self._insert(payment, events)
                    result = then()
            except _PoolEmpty as empty:
                lacking = empty.payment
                self._address_of_empty_pool(lacking)
                continue
            self.outbox.written(events)
            return result
        raise NodeError("%s: no address could be had for the payment" % lacking.currency)

    def _claim(self, payment, pool):
        """Claim a pooled address for ``payment`` in the current transaction; False when empty."""
        claim = pool.claim(payment.account)
        if claim is None:
            return False
        payment.address, payment.derivation_index = claim
        payment.key_fingerprint = pool.fingerprint if claim[1] is not None else None
        return True

    def _address_of_empty_pool(self, payment):
        """An empty pool's way out: a watch-only one derives a batch, else the node's address."""
        pool = self.pools[payment.currency]
        if pool.watch_only:
            pool.refill(low_water=1)
        else:
            backend, _ = self.coins[payment.currency]
            payment.address = backend.new_address(payment.account)

    def _priced(self, currency, price, fiat):
        """Return the amount and rate fields of a payment priced ``price`` ``fiat``: the amount
        is rounded up to the base unit, so the customer never pays less than the price."""
        if self.rates is None:
            raise RateUnavailable("no rates are configured", "price_currency")
        priced = self.rates(currency, fiat)
        backend, _ = self.coins[currency]
        amount = amount_for(Decimal(price), priced.rate, backend.decimals)
        if amount > backend.max_money:
            raise ValidationError(
                "is above the coin's maximum of %s %s at %s %s per %s"
                % (
                    format_amount(backend.max_money, backend.decimals),
                    currency,
                    rate_text(priced.rate),
                    fiat,
                    currency,
                ),
                "price",
            )
        return {
            "amount": amount,
            "rate": rate_text(priced.rate),
            "rate_at": priced.at,
            "rate_sources": json.dumps(priced.sources, separators=(",", ":")),
        }

    def _insert_pooled(self, payment, pool, now):
        """The pooled path's transaction; returns its batch, or None when the pool is empty."""
        if self.group is not None:
            return self._insert_grouped(payment, pool, now)
        events = self.outbox.batch(now)  # a new batch each time: a retry starts from scratch
        try:
            with write_transaction(self.db):
                if not self._claim(payment, pool):
                    return None
                self._insert(payment, events)
        except IntegrityError:
            return self._committed_before(payment)
        return events

    def _insert_grouped(self, payment, pool, now):
        """The pooled path in a transaction shared with the other threads' creates: this
        one's batch once the commit holding it went through, or None when the pool is empty."""

        def work():
            events = self.outbox.batch(now)
            if not self._claim(payment, pool):
                return None
            self._insert(payment, events)
            return events

        try:
            return self.group.run(work)
        except IntegrityError:
            return self._committed_before(payment)

    def _insert_once(self, payment, now):
        events = self.outbox.batch(now)
        try:
            with write_transaction(self.db):
                self._insert(payment, events)
        except IntegrityError:
            return self._committed_before(payment)
        return events

    def _committed_before(self, payment):
        """After a retry's IntegrityError: the stored row when an earlier attempt's
        commit went through (the connection was lost before its answer), else raise."""
        found = select_where(Payment, '"id" = {p}', Payment.id.db_value(payment.id))
        if found:  # ids are random: a row with this one is ours
            return found[0]
        raise

    def _insert(self, payment, events):
        # The event first: the row is inserted with its sequence (no UPDATE after), and a
        # retried attempt numbers its event 1 again.
        payment.event_seq = 0
        events.add(payment, event_types.CREATED, {"status": st.UNPAID})
        insert(payment)
        events.write()

    def _replay(self, key, digest):
        existing = Payment.get_or_none(Payment.idempotency_key == key)
        if existing is None:
            return None
        if existing.request_hash != digest:
            raise Conflict("was used before with a different request body", "Idempotency-Key")
        return existing

    # -- read -----------------------------------------------------------------

    def get(self, payment_id):
        """Return the Payment with ``payment_id`` or raise NotFound."""
        pid = validation.payment_id(payment_id)
        found = select_where(Payment, '"id" = {p}', Payment.id.db_value(pid))
        if not found:
            raise NotFound("no payment with id %s" % pid, "id")
        return found[0]

    def list(self, status=None, currency=None, limit=None, cursor=None, since=None, until=None):
        """Return ``(payments, next_cursor)``, newest first; ``next_cursor`` is None on the last page.
        ``since`` and ``until`` (naive UTC) bound the creation time: since <= created_at < until."""
        query = Payment.select()
        if since is not None:
            query = query.where(Payment.created_at >= since)
        if until is not None:
            query = query.where(Payment.created_at < until)
        if status is not None:
            if status.upper() not in st.STATUSES:
                raise ValidationError("must be one of %s" % ", ".join(st.STATUSES), "status")
            query = query.where(Payment.status == status.upper())
        if currency is not None:
            # PostgreSQL refuses a NUL in a query parameter: refuse it here, naming the field.
            if len(currency) > 10 or text_problem(currency):
                raise ValidationError("must be a currency code such as LTC", "currency")
            query = query.where(Payment.currency == currency.upper())
        limit = LIST_LIMIT if limit is None else int_value(limit, "limit", 1, LIST_MAX)
        if cursor:
            at, pid = _decode_cursor(cursor)
            query = query.where((Payment.created_at < at) | ((Payment.created_at == at) & (Payment.id < pid)))
        rows = list(query.order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (_encode_cursor(rows[-1]) if more else None)

    def search(self, term, limit=LIST_LIMIT):
        """Return the payments (newest first, at most ``limit``) that ``term`` names exactly:
        the payment's id, its address, its account, the txid of one of its receipts, or
        the order id of its Greenfield invoice. Each is an indexed lookup."""
        term = (term or "").strip()
        if not term or len(term) > 255 or text_problem(term):
            return []
        ids = set()
        try:
            ids.add(uuid.UUID(term))
        except ValueError:
            pass
        for query in (
            Payment.select(Payment.id).where(Payment.address == term),
            Payment.select(Payment.id).where(Payment.account == term),
            Receipt.select(Receipt.payment).where(Receipt.txid == term.lower(), Receipt.payment.is_null(False)),
            InvoicePayment.select(InvoicePayment.payment).join(Invoice).where(Invoice.order_id == term),
        ):
            ids.update(row[0] for row in query.limit(limit).tuples())
        if not ids:
            return []
        query = Payment.select().where(Payment.id.in_(list(ids)))
        return list(query.order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit))


def _encode_cursor(payment):
    raw = "%s|%s" % (payment.created_at.isoformat(), payment.id)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, pid = raw.split("|")
        return datetime.datetime.fromisoformat(at), uuid.UUID(pid)
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("is not a cursor this API returned", "cursor") from None
