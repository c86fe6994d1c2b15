"""Greenfield's names and shapes, pure: payment-method ids, speed policies, the invoice
status a client sees (from the statuses of the invoice's payments), permissions, unix
times, and reading an invoice request. Nothing here touches the database."""

import datetime
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ..core import status as st
from ..core.clock import unix  # noqa: F401  (Greenfield's times are unix seconds)
from ..core.errors import ValidationError
from ..core.exactjson import dumps, loads  # noqa: F401  (metadata's numbers echoed exactly)
from ..core.ids import new_id  # noqa: F401  (Greenfield's ids)

VERSION = "2.0.0"  # BTCPay-style: the plugin enables its features from 1.7.6 on
NEW, PROCESSING, SETTLED, EXPIRED, INVALID = "New", "Processing", "Settled", "Expired", "Invalid"
STATUSES = (NEW, PROCESSING, SETTLED, EXPIRED, INVALID)
NONE, PAID_PARTIAL, PAID_OVER, PAID_LATE, MARKED = "None", "PaidPartial", "PaidOver", "PaidLate", "Marked"
MARKABLE = (SETTLED, INVALID)

# Speed policy -> confirmations (BTCPay's: 0, 1, 2, 6).
SPEEDS = {"HighSpeed": 0, "MediumSpeed": 1, "LowMediumSpeed": 2, "LowSpeed": 6}

# Event types (the webhook's ``type``).
CREATED = "InvoiceCreated"
RECEIVED_PAYMENT = "InvoiceReceivedPayment"
PAYMENT_SETTLED = "InvoicePaymentSettled"
EV_PROCESSING = "InvoiceProcessing"
EV_SETTLED = "InvoiceSettled"
EV_EXPIRED = "InvoiceExpired"
EV_INVALID = "InvoiceInvalid"
PAYOUT_TYPES = ("PayoutCreated", "PayoutApproved", "PayoutUpdated")  # a payout's (greenfield.projection)
EVENT_TYPES = (
    CREATED,
    RECEIVED_PAYMENT,
    PAYMENT_SETTLED,
    EV_PROCESSING,
    EV_SETTLED,
    EV_EXPIRED,
    EV_INVALID,
    *PAYOUT_TYPES,
)
STATUS_EVENTS = {PROCESSING: EV_PROCESSING, SETTLED: EV_SETTLED, EXPIRED: EV_EXPIRED, INVALID: EV_INVALID}

# BTCPay permission -> the Transient scope that grants it. A key lists (api-keys/current)
# the permissions its scopes grant; btcpay.store.cancreatenonapprovedpullpayments is
# payouts:create (refunds that await the merchant's approval), which turns the plugin's
# refund button on.
VIEW_INVOICES = "btcpay.store.canviewinvoices"
CREATE_INVOICE = "btcpay.store.cancreateinvoice"
VIEW_STORE = "btcpay.store.canviewstoresettings"
MODIFY_INVOICES = "btcpay.store.canmodifyinvoices"
MODIFY_WEBHOOKS = "btcpay.store.webhooks.canmodifywebhooks"
PULL_PAYMENTS = "btcpay.store.cancreatenonapprovedpullpayments"
PERMISSIONS = {
    VIEW_INVOICES: "payments:read",
    CREATE_INVOICE: "payments:create",
    VIEW_STORE: "payments:read",
    MODIFY_INVOICES: "payments:mark",  # its own: a create-only key must not settle an invoice
    MODIFY_WEBHOOKS: "webhooks:manage",
    PULL_PAYMENTS: "payouts:create",
}
# What `transient keys create --greenfield` gives: the WooCommerce plugin's set, exactly.
PLUGIN_SCOPES = ("payments:read", "payments:create", "webhooks:manage", "payments:mark", "payouts:create")


class FieldErrors(ValidationError):
    """Request fields that failed validation: ``[(path, message)]`` (a 422 naming each)."""

    def __init__(self, errors):
        errors = list(errors)
        super().__init__("; ".join("%s: %s" % e for e in errors), errors[0][0] if errors else None)
        self.errors = errors


def from_unix(value, path):
    """A naive UTC datetime from unix seconds (an int or its digits), or FieldErrors."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not text.isascii() or int(text) > MAX_UNIX:
        raise FieldErrors([(path, "must be unix seconds up to %d (year 9999)" % MAX_UNIX)])
    return datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=int(text))


MAX_UNIX = 253402300799  # 9999-12-31T23:59:59Z: a later date overflows datetime (a 500 for 999999999999)
# A number as Greenfield's clients write it, in ASCII: Decimal() alone also took "1_000",
# Arabic-Indic "١" and fullwidth "１", which the native API refuses.
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def method_id(currency):
    """The payment-method id of a coin's on-chain payments: ``LTC-CHAIN``."""
    return "%s-CHAIN" % currency


def parse_method(value, coins):
    """Return the coin code a payment-method id names (``LTC-CHAIN``, ``LTC_CHAIN``,
    ``LTC``, ``LTC-OnChain``), or None when it names none of ``coins`` or another kind."""
    if not isinstance(value, str):
        return None
    text = value.strip().replace("_", "-")
    code, _, kind = text.partition("-")
    code = code.upper()
    if code not in coins or kind.upper() not in ("", "CHAIN", "ONCHAIN"):
        return None
    return code


def money_text(value):
    """An exact decimal as Greenfield writes money: a plain string, no exponent."""
    text = format(Decimal(value), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def decimal_of(value, path, positive=True):
    """A Decimal from a JSON string or number (never a float: bodies parse with Decimal)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise FieldErrors([(path, 'must be a decimal number, e.g. "1.5"')])
    text = str(value).strip()
    if not _NUMBER.fullmatch(text):
        raise FieldErrors([(path, 'must be a decimal number, e.g. "1.5"')])
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise FieldErrors([(path, 'must be a decimal number, e.g. "1.5"')]) from None
    if not number.is_finite() or (positive and number <= 0) or number < 0:
        raise FieldErrors([(path, "must be a positive number")])
    if number.as_tuple().exponent < -18 or number.adjusted() > 18:
        raise FieldErrors([(path, "is out of range")])
    return number


@dataclass(frozen=True)
class Paid:
    """What the status rule needs of one payment of an invoice (amounts in base units)."""

    status: str  # the payment's Transient status
    amount: int
    received: int
    pending: int  # part of received without the required confirmations
    need: int  # the least amount that counts as paid (after tolerance)
    conflicted: bool = False  # a transaction paying it lost to a double spend

    @property
    def confirmed(self):
        return self.received - self.pending


def invoice_status(payments, expires_at, now, marked=None):
    """Return ``(status, additionalStatus)`` of an invoice whose payments are ``payments``
    (Paid), expiring at ``expires_at`` (naive UTC), at ``now``.

    Whichever payment is paid settles the invoice; one whose only transaction was
    double-spent away makes it Invalid until something arrives. A payment a reorg reverts moves the
    invoice back (Settled -> Processing, or New): Greenfield has no such transition, and
    a client sees the status the ledger holds, with an InvoiceProcessing event when it is
    Processing again. A merchant's mark wins over the payments.
    """
    if marked:
        return marked, MARKED
    return _counted(payments) or _uncounted(payments, expires_at, now)


def _counted(payments):
    """The status when some payment counts as paid or is being confirmed, else None."""
    over = any(p.received > p.amount for p in payments if p.received >= p.need)
    if any(p.status in st.PAID_STATUSES for p in payments):
        return SETTLED, PAID_OVER if over else NONE
    late = [p for p in payments if p.status == st.EXPIRED and p.received >= p.need]
    if any(p.confirmed >= p.need for p in late):
        return SETTLED, PAID_LATE
    if any(p.status == st.PENDING for p in payments):
        return PROCESSING, PAID_OVER if over else NONE
    if late:
        return EXPIRED, PAID_LATE
    return None


def _uncounted(payments, expires_at, now):
    """The status when nothing counts: Invalid after a double spend, Expired, or New."""
    partial = any(p.received > 0 for p in payments)
    if not partial and any(p.conflicted for p in payments):
        # What was paid was double-spent away: the payment failed (it can still be paid again).
        return INVALID, NONE
    if now >= expires_at or (payments and all(p.status == st.EXPIRED for p in payments)):
        return EXPIRED, PAID_PARTIAL if partial else NONE
    return NEW, PAID_PARTIAL if partial else NONE


def status_now(status, additional, expires_at, now):
    """``(status, additionalStatus)`` at ``now`` of an invoice whose stored status (kept by
    the projection at each payment event) is ``(status, additional)``: the one change the
    clock makes alone is New -> Expired at ``expires_at`` (the rule of _uncounted)."""
    if status == NEW and now >= expires_at:
        return EXPIRED, additional
    return status, additional


def markable(status):
    """The statuses an invoice in ``status`` may be marked with."""
    return [s for s in MARKABLE if s != status]


def permissions_of(scopes, store_id):
    """The Greenfield permissions (``name:storeId``) the Transient ``scopes`` grant."""
    return ["%s:%s" % (name, store_id) for name, scope in PERMISSIONS.items() if scope in scopes]
