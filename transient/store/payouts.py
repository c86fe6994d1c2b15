"""The outgoing side of the ledger: payouts (money Transient owes to an address), pull
payments (refunds a customer may claim) and payout batches (one send of many payouts).

Written by ``transient.payouts`` alone (its service, sender and watcher); amounts are
integers of the coin's base unit, as everywhere.
"""

from peewee import (
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

from ..core.clock import utcnow
from .db import database


class BaseModel(Model):  # models.BaseModel's twin: models.py imports this module for MODELS
    class Meta:
        database = database
        legacy_table_names = False


class PullPayment(BaseModel):
    """An amount a customer may claim (a refund): tied to a payment or a Greenfield
    invoice, or to neither (a Greenfield pull payment made by a shop plugin).

    ``amount`` is what may be claimed in total, in the coin's base units; ``claimed`` the
    sum of its payouts that are not cancelled (kept in the claim's transaction, so two
    claims racing for the last unit cannot both win).
    """

    id = CharField(max_length=32, primary_key=True)
    currency = CharField(max_length=10)
    amount = BigIntegerField()
    claimed = BigIntegerField(default=0)
    name = CharField(max_length=255, default="")
    description = TextField(default="")
    # The refunded payment (a foreign key to payment.id in the schema: migration 0011).
    payment_id = UUIDField(null=True)
    invoice_id = CharField(max_length=32, null=True)
    store_id = CharField(max_length=64, null=True)
    # What the amount was worked out from (the refund dialog's choice), for the record.
    variant = CharField(max_length=16, default="Custom")
    price = TextField(null=True)  # exact decimal string in price_currency (a fiat pull payment)
    price_currency = CharField(max_length=10, null=True)
    rate = TextField(null=True)  # price_currency per coin used for the amount
    auto_approve = BooleanField(default=False)
    archived = BooleanField(default=False)
    idempotency_key = CharField(max_length=255, null=True, unique=True)
    request_hash = CharField(max_length=64, null=True)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("payment_id",), False), (("store_id", "created_at"), False))


class PayoutBatch(BaseModel):
    """One send of a coin's approved payouts: recorded (``intent``) before the node is
    asked, so a crash at any point finds it again; its id is the wallet transaction's
    comment, which is how a batch is looked up in the wallet before anything is sent again.

    ``intent``: made, maybe sent (look in the wallet first); ``sent``: the node took it
    (``txid``); ``unsigned``: a PSBT waits for the merchant's signature; ``void``: not
    sent and never will be (its payouts went back to approved).
    """

    INTENT, SENT, UNSIGNED, VOID = "intent", "sent", "unsigned", "void"

    id = CharField(max_length=32, primary_key=True)
    currency = CharField(max_length=10)
    state = CharField(max_length=10, default=INTENT)
    txid = CharField(max_length=64, null=True)
    fee_rate = TextField(null=True)  # the fee rate asked for (coin per kvB, exact decimal string)
    psbt = TextField(null=True)  # watch-only: the unsigned PSBT offered for signing
    fee = BigIntegerField(null=True)  # the fee its transaction paid (base units), read after the send
    error = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    sent_at = DateTimeField(null=True)  # intent: when its send was last attempted; sent: recorded

    class Meta:
        indexes = ((("currency", "state"), False),)


class Payout(BaseModel):
    """Money owed to ``destination``: ``amount`` base units of ``currency``.

    States (payouts.states): awaiting_approval -> approved -> (awaiting_signature) ->
    broadcast -> completed; cancelled; failed (its transaction lost to a conflict) goes
    back to approved. ``revision`` grows at every change (Greenfield's approve names it).
    """

    id = CharField(max_length=32, primary_key=True)
    currency = CharField(max_length=10)
    amount = BigIntegerField()
    destination = CharField(max_length=128)
    state = CharField(max_length=20)
    revision = IntegerField(default=0)
    pull_payment = ForeignKeyField(PullPayment, null=True, backref="payouts", on_delete="RESTRICT", lazy_load=False)
    payment_id = UUIDField(null=True)  # the refunded payment (a foreign key in the schema)
    batch = ForeignKeyField(PayoutBatch, null=True, backref="payouts", on_delete="RESTRICT", lazy_load=False)
    txid = CharField(max_length=64, null=True)  # the transaction that pays it (ours or anyone's)
    vout = IntegerField(null=True)
    block_hash = CharField(max_length=64, null=True)
    block_height = IntegerField(null=True)
    watched = BooleanField(default=False)  # the node's wallet watches the destination
    paid_externally = BooleanField(default=False)  # marked paid, or paid by a transaction not ours
    metadata = TextField(default="{}")
    idempotency_key = CharField(max_length=255, null=True, unique=True)
    request_hash = CharField(max_length=64, null=True)
    event_seq = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    approved_at = DateTimeField(null=True)
    # Who approved it: api-key:<id>, dashboard:<user>, cli:<user>, auto:limit or auto:pull-payment.
    approved_by = CharField(max_length=160, null=True)
    # Its share of its transaction's fee (base units): the fee split evenly among the batch's
    # payouts, the remainder's units to the first by id, so the shares add up to the fee paid.
    fee = BigIntegerField(null=True)
    completed_at = DateTimeField(null=True)

    class Meta:
        indexes = (
            (("currency", "state", "created_at"), False),
            (("currency", "destination"), False),
            (("currency", "approved_at"), False),
            (("batch",), False),
            (("created_at", "id"), False),
        )


MODELS = [PullPayment, PayoutBatch, Payout]
