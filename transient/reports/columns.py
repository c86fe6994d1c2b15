"""The reports' columns: their names, order and meaning (docs/reference/reports.md).

A column is only ever added, at the end, and the schema version goes up by one when
one is: a spreadsheet or a script written against version N reads every later file.
Every row carries ``schema_version``, so a file says which version it holds.
"""

SCHEMA_VERSION = 1  # of the payments and receipts reports; each report's own number from its first added column
VERSIONS = {"payments": 1, "receipts": 1, "payouts": 2}  # payouts 2: fee and approved_by added

PAYMENTS = (
    ("schema_version", "the version of these columns (1)"),
    ("payment_id", "the payment's id"),
    ("order_id", "the merchant's order id: metadata order_id or orderId (Greenfield)"),
    ("invoice_id", "the Greenfield invoice the payment belongs to, if any"),
    ("currency", "the coin, e.g. LTC"),
    ("status", "UNPAID, UNDERPAID, PENDING, PAID, OVERPAID or EXPIRED"),
    ("amount", "the amount asked (due in full), in coins"),
    ("amount_received", "the sum of the credited receipts (pending and confirmed), in coins"),
    ("amount_pending", "the part of amount_received still short of its confirmations"),
    ("amount_due", "what the customer still has to send (0 once paid within the tolerance)"),
    ("amount_overpaid", "what arrived above the amount"),
    ("paid_late", "true when the amount arrived in full only after expiry"),
    ("confirmations_required", "confirmations a receipt needs to count as confirmed"),
    ("created_at", "when the payment was made"),
    ("expires_at", "when it expires (empty: never)"),
    ("paid_at", "when it became PAID or OVERPAID (empty: not paid)"),
    ("updated_at", "its last change"),
    ("price", "the fiat price of a priced payment (empty for one asked in coins)"),
    ("price_currency", "the price's fiat currency, e.g. EUR"),
    ("rate", "the locked rate: price_currency per coin"),
    ("rate_at", "when the oldest quote of the locked rate was fetched"),
    ("rate_sources", "the quotes the rate was made of (JSON: source, pair, rate, at)"),
    ("account", "the payment's account label"),
    ("address", "the address the customer paid to"),
)

RECEIPTS = (
    ("schema_version", "the version of these columns (1)"),
    ("payment_id", "the payment the output paid (empty: an output matching no payment)"),
    ("order_id", "the payment's order id"),
    ("invoice_id", "the payment's Greenfield invoice, if any"),
    ("currency", "the coin"),
    ("txid", "the transaction id"),
    ("vout", "the output's index in the transaction (mweb:<id> for a Litecoin MWEB output)"),
    ("address", "the address it paid"),
    ("amount", "the output's amount, in coins"),
    ("state", "pending, confirmed, conflicted (lost to a double spend) or removed (its block left the chain)"),
    ("credited", "true when it counts towards its payment (pending or confirmed), false when reversed"),
    ("confirmations", "its confirmations at the coin's last synced block (-1: conflicted)"),
    ("block_height", "the height of its block (empty: not in a block)"),
    ("first_seen", "when the node's wallet first saw it"),
    ("confirmed_at", "when it reached its payment's confirmations (empty: not confirmed)"),
    ("fiat_currency", "the payment's price currency (empty: not priced)"),
    ("fiat_value", "amount x the payment's locked rate, rounded half-even to the cent"),
    ("rate", "the payment's locked rate"),
    ("rate_sources", "the quotes of the payment's locked rate (JSON)"),
)

PAYOUTS = (
    ("schema_version", "the version of these columns (2; 1 had no fee and approved_by)"),
    ("payout_id", "the payout's id"),
    ("pull_payment_id", "the refund (pull payment) it was claimed from, if any"),
    ("payment_id", "the payment it refunds, if any"),
    ("currency", "the coin"),
    ("destination", "the address it pays"),
    ("amount", "the amount owed to the destination, in coins"),
    ("state", "awaiting_approval, approved, awaiting_signature, broadcast, completed, cancelled or failed"),
    ("batch_id", "the send (one transaction for many payouts) it went out in, if any"),
    ("txid", "the transaction that pays it (empty: not sent yet)"),
    ("vout", "the output of that transaction that pays it"),
    ("block_height", "the height of that transaction's block (empty: not in a block)"),
    ("paid_externally", "true when it was paid by a transaction Transient did not send"),
    ("created_at", "when it was made"),
    ("approved_at", "when it was approved (empty: not yet)"),
    ("completed_at", "when its transaction confirmed (empty: not yet)"),
    ("updated_at", "its last change"),
    # Version 2:
    (
        "fee",
        "its share of its transaction's fee, in coins, read from the node after the send: the fee split"
        " evenly among the payouts the transaction pays (the remainder's base units one each to the"
        " first by payout_id), so the column adds up to the fees paid (empty: not sent by Transient,"
        " or sent before version 2)",
    ),
    (
        "approved_by",
        "who approved it: api-key:<key id> (api-key:config for a key of the config file), dashboard:<user>,"
        " cli:<operating system user>, auto:limit (below auto_approve_below) or auto:pull-payment (a refund"
        " made with auto_approve); empty: not approved, or approved before version 2",
    ),
)

# Columns whose text comes from outside (a merchant's order id and account, a customer's
# choice through a shop plugin, a node's address): CSV writes them through
# formats.safe_cell. The others are written by Transient itself (amounts, times,
# statuses, ids) and hold no such text; booleans and lists are converted by name.
TEXT = frozenset(
    {"order_id", "invoice_id", "account", "address", "txid", "vout", "price", "rate", "destination", "approved_by"}
)
BOOLEAN = frozenset({"paid_late", "credited", "paid_externally"})
LISTS = frozenset({"rate_sources"})

KINDS = {"payments": PAYMENTS, "receipts": RECEIPTS, "payouts": PAYOUTS}


def names(kind):
    """Return the column names of the report ``kind``, in order."""
    return [name for name, _ in KINDS[kind]]
