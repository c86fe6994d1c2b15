"""Peewee models (docs/ARCHITECTURE.md, "Invariants"). Amounts are integers of the coin's base unit.

Times are naive datetimes in UTC; the API renders them as ISO 8601 with "Z".
"""

from peewee import (
    BigAutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
    UUIDField,
)

from ..core.clock import utcnow  # noqa: F401  (the models' default clock)
from .db import database
from .payouts import Payout, PayoutBatch, PullPayment
from .users import USER_MODELS


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class Payment(BaseModel):
    id = UUIDField(primary_key=True)
    currency = CharField(max_length=10)
    amount = BigIntegerField()
    address = CharField(max_length=128)
    account = CharField(max_length=255, null=True)
    metadata = TextField(default="{}")  # JSON text: portable across SQLite and PostgreSQL
    status = CharField(max_length=16)
    confirmations_required = IntegerField()
    tolerance_bp = IntegerField(default=0)  # underpayment tolerance, basis points of the amount
    expires_at = DateTimeField(null=True)
    # Cached sums of the payment's receipts (the ledger is the truth; these are
    # rewritten in the same transaction whenever a receipt changes).
    amount_received = BigIntegerField(default=0)
    amount_pending = BigIntegerField(default=0)
    paid_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    idempotency_key = CharField(max_length=255, null=True, unique=True)
    request_hash = CharField(max_length=64, null=True)
    event_seq = IntegerField(default=0)  # last outbox sequence number of this payment
    callback_url = TextField(null=True)  # this payment's own webhook target, besides the global one
    redirect_url = TextField(null=True)  # where the checkout page sends the customer once paid
    # What a priced payment was priced with (all null for a payment given in coins).
    price = TextField(null=True)  # exact decimal string in price_currency, e.g. "19.99"
    price_currency = CharField(max_length=3, null=True)
    rate = TextField(null=True)  # price_currency per coin, exact decimal string
    rate_sources = TextField(null=True)  # JSON list: each quote used (source, pair, rate, at)
    rate_at = DateTimeField(null=True)  # when the oldest quote used was fetched
    # Watch-only mode: the address's index on the key's receive chain, and the key's fingerprint.
    derivation_index = IntegerField(null=True)
    key_fingerprint = CharField(max_length=8, null=True)
    email = CharField(max_length=254, null=True)  # the customer's, for their receipts (0013)

    class Meta:
        indexes = (
            (("currency", "address"), True),
            (("status", "created_at"), False),
            (("currency", "status", "expires_at"), False),
            (("created_at", "id"), False),
            (("currency", "key_fingerprint", "derivation_index"), True),  # an index is handed out once
            # The dashboard's search and coin filter (0012).
            (("address",), False),
            (("account",), False),
            (("currency", "created_at", "id"), False),
        )


class Receipt(BaseModel):
    """One wallet output seen by the node. ``payment`` is null for outputs to
    wallet addresses that match no payment: they are kept, never dropped."""

    PENDING, CONFIRMED, CONFLICTED, REMOVED = "pending", "confirmed", "conflicted", "removed"
    COUNTED = (PENDING, CONFIRMED)

    id = BigAutoField()
    currency = CharField(max_length=10)
    txid = CharField(max_length=64)
    output = CharField(max_length=128)  # vout index, or "mweb:<id>"
    address = CharField(max_length=128)
    amount = BigIntegerField()
    payment = ForeignKeyField(Payment, null=True, backref="receipts", on_delete="RESTRICT")
    state = CharField(max_length=12)
    block_hash = CharField(max_length=64, null=True)
    block_height = IntegerField(null=True)
    first_seen = DateTimeField(default=utcnow)
    last_seen = DateTimeField(default=utcnow)
    confirmed_at = DateTimeField(null=True)  # when it reached its payment's confirmations (0013)

    class Meta:
        indexes = (
            (("currency", "txid", "output"), True),
            (("currency", "state"), False),
            (("first_seen", "id"), False),  # the receipts report's keyset walk
            (("txid",), False),  # the dashboard's search by txid (0012)
        )


def confirmations(receipt, tip_height):
    """Return the receipt's confirmations at ``tip_height`` (negative: conflicted)."""
    if receipt.state == Receipt.CONFLICTED:
        return -1
    if receipt.block_height is None or receipt.state == Receipt.REMOVED:
        return 0
    return max(0, tip_height - receipt.block_height + 1)


class ChainState(BaseModel):
    """Per coin: the sync cursor, the sync lease, and the last sync's outcome."""

    currency = CharField(max_length=10, primary_key=True)
    cursor_hash = CharField(max_length=64, null=True)
    cursor_height = IntegerField(null=True)
    lease_holder = CharField(max_length=128, null=True)
    lease_expires = DateTimeField(null=True)
    rerun = BooleanField(default=False)  # a trigger arrived while another process held the lease
    last_sync_at = DateTimeField(null=True)
    last_error = TextField(null=True)
    last_error_at = DateTimeField(null=True)


class Event(BaseModel):
    """The outbox: one row per thing that happened to a payment, written in the
    same transaction as the change it describes."""

    id = BigAutoField()
    event_id = UUIDField(unique=True)
    # A payment's event, or a payout's (payout_id set, payment null: migration 0011).
    payment = ForeignKeyField(Payment, backref="events", null=True, on_delete="RESTRICT")
    payout_id = CharField(max_length=32, null=True)
    sequence = IntegerField()
    type = CharField(max_length=40)
    data = TextField(default="{}")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("payment", "sequence"), True), (("payout_id", "sequence"), False))


class DeliveryTarget(BaseModel):
    """Where events go, kept in the database so that every process (the daemon, a bare
    CLI) queues the same deliveries: the daemon's configured webhook URL and AMQP exchange
    (kinds ``webhook`` and ``amqp``, registered at its start-up) and the Greenfield
    webhooks (kind ``greenfield``: their own secret, events and store)."""

    WEBHOOK, AMQP, GREENFIELD = "webhook", "amqp", "greenfield"

    id = BigAutoField()
    kind = CharField(max_length=16)
    url = TextField()
    public_id = CharField(max_length=32, null=True, unique=True)  # a Greenfield webhook's id
    store_id = CharField(max_length=64, null=True)
    secret = TextField(null=True)  # a Greenfield webhook's signing key (shown once, at creation)
    enabled = BooleanField(default=True)
    automatic_redelivery = BooleanField(default=True)
    events = TextField(null=True)  # JSON list of event types; null: every one
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    deleted_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("kind", "deleted_at"), False),)


class Delivery(BaseModel):
    """One event to send to one URL: a row of the outbox's delivery queue.

    Written in the transaction that writes its event, with the exact body to
    send; the dispatcher leases it, posts it and records the outcome.
    """

    PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

    id = BigAutoField()
    event = ForeignKeyField(Event, backref="deliveries", on_delete="RESTRICT")
    payment = ForeignKeyField(Payment, null=True, on_delete="RESTRICT")  # copies of the event's, for ordering
    payout_id = CharField(max_length=32, null=True)
    sequence = IntegerField()
    url = TextField()
    body = TextField()
    state = CharField(max_length=10, default=PENDING)
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=utcnow)
    lease_holder = CharField(max_length=128, null=True)
    lease_expires = DateTimeField(null=True)
    last_status = IntegerField(null=True)
    last_error = TextField(null=True)
    delivered_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    redelivery_of = ForeignKeyField("self", null=True, on_delete="RESTRICT")
    # A delivery to a registered target of its own signing rule (a Greenfield webhook):
    # the target, and the id its body carries (Greenfield's ``deliveryId``).
    target = ForeignKeyField(DeliveryTarget, null=True, on_delete="RESTRICT", lazy_load=False)
    public_id = CharField(max_length=32, null=True)

    class Meta:
        indexes = (
            (("state", "next_attempt_at"), False),
            (("payment", "state", "sequence"), False),
            (("payout_id", "state", "sequence"), False),
            (("target", "id"), False),
            (("public_id",), False),
        )


class DeliveryAttempt(BaseModel):
    """The log of a delivery: one row per attempt, with what the receiver said."""

    id = BigAutoField()
    delivery = ForeignKeyField(Delivery, backref="log", on_delete="CASCADE")
    number = IntegerField()
    started_at = DateTimeField()
    duration_ms = IntegerField()
    status_code = IntegerField(null=True)
    error = TextField(null=True)
    response = TextField(null=True)  # the start of the receiver's answer
    retry_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("delivery", "number"), False),)


class PooledAddress(BaseModel):
    """A fresh address fetched from the node ahead of time (the address pool).

    Creating a payment claims one (sets ``claimed_at``, and ``label`` when the
    payment has an account) in the transaction that inserts the payment; the pool
    keeper then gives the address its label in the node's wallet and deletes the row.
    """

    id = BigAutoField()
    currency = CharField(max_length=10)
    address = CharField(max_length=128)
    label = CharField(max_length=255, null=True)  # to set in the node's wallet once claimed
    created_at = DateTimeField(default=utcnow)
    claimed_at = DateTimeField(null=True)
    derivation_index = IntegerField(null=True)  # watch-only mode: the index on the key's receive chain

    class Meta:
        indexes = ((("currency", "address"), True), (("currency", "claimed_at", "id"), False))


# The claim's order (migration 0010): the unclaimed rows of a coin by id, whatever the pool's size.
PooledAddress.add_index(
    PooledAddress.index(PooledAddress.currency, PooledAddress.id, name="pooled_address_unclaimed").where(
        PooledAddress.claimed_at.is_null()
    )
)


class RateQuote(BaseModel):
    """One source's last quote of one pair ("DOGE/USD": USD per DOGE), kept with its
    fetch time; a failed fetch keeps the old rate and records the error."""

    id = BigAutoField()
    pair = CharField(max_length=24)
    source = CharField(max_length=64)
    rate = TextField(null=True)  # exact decimal string
    fetched_at = DateTimeField(null=True)
    error = TextField(null=True)
    error_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("pair", "source"), True),)


class RatePair(BaseModel):
    """Per pair: the refresh lease (one refresher for the whole cluster) and when it is due."""

    pair = CharField(max_length=24, primary_key=True)
    lease_holder = CharField(max_length=128, null=True)
    lease_expires = DateTimeField(null=True)
    due_at = DateTimeField(null=True)
    refreshed_at = DateTimeField(null=True)


class JobLease(BaseModel):
    """A named job that one process of the cluster runs at a time (the address pool
    keeper of a coin): who holds it and until when (store/leases.py)."""

    name = CharField(max_length=64, primary_key=True)
    holder = CharField(max_length=128, null=True)
    expires_at = DateTimeField(null=True)


class WatchKey(BaseModel):
    """A coin's watch-only key: the next index to derive and how far the node watches.

    ``next_index`` only grows (one conditional UPDATE hands a batch of indexes to one
    process), so an index is never handed out twice, across workers, hosts and restarts.
    """

    id = BigAutoField()
    currency = CharField(max_length=10)
    descriptor = TextField()  # the receive chain's descriptor, with its checksum
    fingerprint = CharField(max_length=8)
    next_index = IntegerField(default=0)
    registered_end = IntegerField(default=0)  # indexes below it are imported into the node's wallet
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("currency", "fingerprint"), True),)  # one counter per key


class ApiKey(BaseModel):
    """An API key made with ``transient keys create``: its public id, the SHA-256 of the
    whole key (the key itself is shown once and never stored) and its scopes."""

    id = BigAutoField()
    public_id = CharField(max_length=16, unique=True)
    digest = CharField(max_length=64)
    scopes = CharField(max_length=255)  # space-separated, e.g. "payments:read payments:create"
    label = CharField(max_length=255, null=True)
    created_at = DateTimeField(default=utcnow)
    revoked_at = DateTimeField(null=True)


class GreenfieldStore(BaseModel):
    """The store id Greenfield clients use, generated once when ``[greenfield] store_id`` is unset."""

    id = CharField(max_length=64, primary_key=True)
    created_at = DateTimeField(default=utcnow)


class Invoice(BaseModel):
    """A Greenfield invoice: a view over one Transient payment per payment method it
    offers (InvoicePayment); the ledger stays the payments'. ``status`` and
    ``additional_status`` are kept true by the projection (greenfield.projection, in the
    transaction of each payment event), save the clock's New -> Expired at ``expires_at``
    (greenfield.shapes.status_now); ``marked`` is a merchant's mark."""

    id = CharField(max_length=32, primary_key=True)
    store_id = CharField(max_length=64)
    amount = TextField()  # exact decimal string in ``currency``
    currency = CharField(max_length=10)
    metadata = TextField(default="{}")  # the caller's object, verbatim (JSON)
    order_id = CharField(max_length=255, null=True)  # metadata.orderId, indexed for ?orderId=
    checkout = TextField(default="{}")  # the checkout options as answered (JSON)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    monitoring_until = DateTimeField()
    status = CharField(max_length=16, default="New")
    additional_status = CharField(max_length=16, default="None")
    marked = CharField(max_length=16, null=True)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("store_id", "order_id"), False),
            (("store_id", "created_at"), False),
            (("order_id",), False),
            (("store_id", "status", "created_at"), False),  # lists filtered by status (0016)
        )


class InvoicePayment(BaseModel):
    """One payment method of an invoice: its Transient payment (own address, locked amount)."""

    id = BigAutoField()
    invoice = ForeignKeyField(Invoice, backref="links", on_delete="RESTRICT")
    payment = ForeignKeyField(Payment, unique=True, on_delete="RESTRICT")
    method = CharField(max_length=24)  # e.g. "LTC-CHAIN"

    class Meta:
        indexes = ((("invoice", "id"), False),)


MODELS = [
    Payment,
    Receipt,
    ChainState,
    Event,
    Delivery,
    DeliveryAttempt,
    PooledAddress,
    RateQuote,
    RatePair,
    WatchKey,
    ApiKey,
    DeliveryTarget,
    GreenfieldStore,
    Invoice,
    InvoicePayment,
    JobLease,
    PullPayment,
    PayoutBatch,
    Payout,
    *USER_MODELS,
]
