"""The reports' rows, read in keyset chunks: ``(created_at, id) > last`` ordered and
limited, one short statement per chunk. Memory stays at one chunk whatever the range,
on SQLite and PostgreSQL alike, and no transaction is held open while a slow client
reads (a server-side cursor would hold one for the whole download)."""

import json
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from peewee import JOIN, Tuple

from ..core import status as st
from ..core.money import format_amount
from ..core.text import clean
from ..store.models import ChainState, Payment, Receipt
from ..store.payouts import Payout
from . import columns

CHUNK = 2000  # rows per statement: large enough that a statement's cost is spread thin
CENT = Decimal("0.01")

PAYMENT_FIELDS = (
    Payment.id,
    Payment.metadata,
    Payment.currency,
    Payment.status,
    Payment.amount,
    Payment.amount_received,
    Payment.amount_pending,
    Payment.tolerance_bp,
    Payment.expires_at,
    Payment.confirmations_required,
    Payment.created_at,
    Payment.paid_at,
    Payment.updated_at,
    Payment.price,
    Payment.price_currency,
    Payment.rate,
    Payment.rate_at,
    Payment.rate_sources,
    Payment.account,
    Payment.address,
)
RECEIPT_FIELDS = (
    Receipt.id,
    Receipt.payment,
    Receipt.currency,
    Receipt.txid,
    Receipt.output,
    Receipt.address,
    Receipt.amount,
    Receipt.state,
    Receipt.block_height,
    Receipt.first_seen,
    Receipt.confirmed_at,
    Payment.metadata,
    Payment.price_currency,
    Payment.rate,
    Payment.rate_sources,
)


def walk(query, key, chunk=CHUNK):
    """Yield lists of at most ``chunk`` rows of ``query(after, limit)`` (a peewee query,
    run on the bare cursor: its rows as the driver gives them, without peewee's per-value
    conversion, which was a third of a report's time); ``key(row)`` is the keyset of a
    row, ``after`` the last chunk's last key (None at first)."""
    after = None
    while True:
        q = query(after, chunk)
        rows = q.model._meta.database.execute(q).fetchall()
        if rows:
            yield rows
        if len(rows) < chunk:
            return
        after = key(rows[-1])


def _after(time_field, id_field, after):
    """The rows after the keyset ``after``, given as the database stores it (a UUID is
    text on SQLite): one row-value comparison, which both databases walk by index."""
    return Tuple(time_field, id_field) > Tuple(time_field.db_value(after[0]), id_field.db_value(after[1]))


def _filtered(select, time_field, period, currency_field, currency, state_field, states):
    where = []
    if period.start is not None:
        where.append(time_field >= period.start)
    if period.end is not None:
        where.append(time_field < period.end)
    if currency:
        where.append(currency_field == currency)
    if states:
        where.append(state_field.in_(states))
    for clause in where:
        select = select.where(clause)
    return select


def payments(period, currency=None, statuses=(), decimals=None, chunk=CHUNK):
    """Yield chunks of payment rows (tuples in columns.PAYMENTS' order) made in ``period``."""
    select = Payment.select(*PAYMENT_FIELDS)
    base = _filtered(select, Payment.created_at, period, Payment.currency, currency, Payment.status, statuses)

    def query(after, limit):
        q = base if after is None else base.where(_after(Payment.created_at, Payment.id, after))
        return q.order_by(Payment.created_at, Payment.id).limit(limit)

    for rows in walk(query, lambda r: (r[10], r[0]), chunk):
        yield [_payment_row(r, period, (decimals or {}).get(r[2], 8)) for r in rows]


def _payment_row(r, period, decimals):
    (pid, metadata, currency, status, amount, received, pending, tolerance, expires, confs) = r[:10]
    created, paid, updated, price, price_currency, rate, rate_at, sources, account, address = r[10:]
    need = st.required_amount(amount, tolerance)
    due = max(0, amount - received) if received < need else 0
    money = lambda units: format_amount(units, decimals)  # noqa: E731
    order_id, invoice_id = _order(metadata)
    return (
        columns.VERSIONS["payments"],
        _uuid(pid),
        order_id,
        invoice_id,
        currency,
        status,
        money(amount),
        money(received),
        money(pending),
        money(due),
        money(max(0, received - amount)),
        status == st.EXPIRED and received >= need,
        confs,
        period.render(created),
        period.render(expires),
        period.render(paid),
        period.render(updated),
        price,
        price_currency,
        rate,
        period.render(rate_at),
        sources,  # the stored JSON text: CSV writes it as it is, JSON lines parse it
        clean(account),
        address,
    )


def receipts(period, currency=None, states=(), decimals=None, chunk=CHUNK):
    """Yield chunks of receipt rows (columns.RECEIPTS' order) first seen in ``period``."""
    tips = dict(ChainState.select(ChainState.currency, ChainState.cursor_height).tuples())
    select = Receipt.select(*RECEIPT_FIELDS).join(Payment, JOIN.LEFT_OUTER, on=(Receipt.payment == Payment.id))
    base = _filtered(select, Receipt.first_seen, period, Receipt.currency, currency, Receipt.state, states)

    def query(after, limit):
        q = base if after is None else base.where(_after(Receipt.first_seen, Receipt.id, after))
        return q.order_by(Receipt.first_seen, Receipt.id).limit(limit)

    for rows in walk(query, lambda r: (r[9], r[0]), chunk):
        yield [_receipt_row(r, period, tips, (decimals or {}).get(r[2], 8)) for r in rows]


def _receipt_row(r, period, tips, decimals):
    _, pid, currency, txid, output, address, amount, state, height, first_seen, confirmed_at = r[:11]
    metadata, price_currency, rate, sources = r[11:]
    order_id, invoice_id = _order(metadata) if metadata else (None, None)
    return (
        columns.VERSIONS["receipts"],
        _uuid(pid) if pid is not None else None,
        order_id,
        invoice_id,
        currency,
        txid,
        int(output) if output.isdigit() else output,
        address,
        format_amount(amount, decimals),
        state,
        state in Receipt.COUNTED,
        _confirmations(state, height, tips.get(currency) or 0),
        height,
        period.render(first_seen),
        period.render(confirmed_at),
        price_currency,
        fiat_value(amount, rate, decimals) if rate else None,
        rate,
        sources,  # the stored JSON text: CSV writes it as it is, JSON lines parse it
    )


PAYOUT_FIELDS = (
    Payout.id,
    Payout.pull_payment,
    Payout.payment_id,
    Payout.currency,
    Payout.destination,
    Payout.amount,
    Payout.state,
    Payout.batch,
    Payout.txid,
    Payout.vout,
    Payout.block_height,
    Payout.paid_externally,
    Payout.created_at,
    Payout.approved_at,
    Payout.completed_at,
    Payout.updated_at,
    Payout.fee,
    Payout.approved_by,
)


def payouts(period, currency=None, states=(), decimals=None, chunk=CHUNK):
    """Yield chunks of payout rows (columns.PAYOUTS' order) made in ``period``."""
    select = Payout.select(*PAYOUT_FIELDS)
    base = _filtered(select, Payout.created_at, period, Payout.currency, currency, Payout.state, states)

    def query(after, limit):
        q = base if after is None else base.where(_after(Payout.created_at, Payout.id, after))
        return q.order_by(Payout.created_at, Payout.id).limit(limit)

    for rows in walk(query, lambda r: (r[12], r[0]), chunk):
        yield [_payout_row(r, period, (decimals or {}).get(r[3], 8)) for r in rows]


def _payout_row(r, period, decimals):
    pid, pull, payment, currency, destination, amount, state, batch, txid, vout, height, external = r[:12]
    fee, approved_by = r[16:]
    return (
        columns.VERSIONS["payouts"],
        pid,
        pull,
        _uuid(payment) if payment is not None else None,
        currency,
        destination,
        format_amount(amount, decimals),
        state,
        batch,
        txid,
        vout,
        height,
        bool(external),
        *(period.render(t) for t in r[12:16]),
        None if fee is None else format_amount(fee, decimals),
        clean(approved_by) if approved_by is not None else None,
    )


def _uuid(raw):
    """A payment id as the API writes it: SQLite keeps 32 hex digits, psycopg2 gives text."""
    raw = str(raw)
    if len(raw) == 32:
        return "%s-%s-%s-%s-%s" % (raw[:8], raw[8:12], raw[12:16], raw[16:20], raw[20:])
    return raw


def _confirmations(state, height, tip):
    """store.models.confirmations of a receipt's raw state and height (no row built)."""
    if state == Receipt.CONFLICTED:
        return -1
    if height is None or state == Receipt.REMOVED:
        return 0
    return max(0, tip - height + 1)


def fiat_value(units, rate, decimals=8):
    """Return ``units`` of a coin at ``rate`` (fiat per coin, a decimal string) as a
    decimal string rounded half-even to the cent: exact arithmetic, no float."""
    with localcontext() as ctx:
        ctx.prec = 80  # far above any amount x rate: the product is exact before rounding
        value = Decimal(int(units)).scaleb(-decimals) * Decimal(rate)
        return str(value.quantize(CENT, rounding=ROUND_HALF_EVEN))


def _order(metadata):
    """The order id and Greenfield invoice id a payment's metadata holds."""
    try:
        data = json.loads(metadata)
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    order = data.get("order_id", data.get("orderId"))
    greenfield = data.get("greenfield")
    invoice = greenfield.get("invoiceId") if isinstance(greenfield, dict) else None
    return (clean(str(order)) if order is not None else None), invoice
