"""Payouts and pull payments as the native API, the CLI and the outbox show them:
amounts as exact decimal strings, times in ISO 8601."""

import json

from ..core.clock import iso
from ..core.money import format_amount


def payout(row, decimals=8):
    """Return the JSON-ready dict of a Payout row."""
    return {
        "id": row.id,
        "currency": row.currency,
        "amount": format_amount(row.amount, decimals),
        "destination": row.destination,
        "state": row.state,
        "revision": row.revision,
        "pull_payment_id": row.pull_payment_id,
        "payment_id": str(row.payment_id) if row.payment_id else None,
        "batch_id": row.batch_id,
        "txid": row.txid,
        "paid_externally": bool(row.paid_externally),
        "metadata": json.loads(row.metadata or "{}"),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "approved_at": iso(row.approved_at),
        "completed_at": iso(row.completed_at),
        "approved_by": row.approved_by,
        "fee": None if row.fee is None else format_amount(row.fee, decimals),
    }


def pull_payment(row, decimals=8, view_link=None):
    """Return the JSON-ready dict of a PullPayment row."""
    return {
        "id": row.id,
        "currency": row.currency,
        "amount": format_amount(row.amount, decimals),
        "claimed": format_amount(row.claimed, decimals),
        "remaining": format_amount(row.amount - row.claimed, decimals),
        "name": row.name,
        "description": row.description,
        "payment_id": str(row.payment_id) if row.payment_id else None,
        "invoice_id": row.invoice_id,
        "variant": row.variant,
        "price": row.price,
        "price_currency": row.price_currency,
        "rate": row.rate,
        "archived": bool(row.archived),
        "view_link": view_link,
        "created_at": iso(row.created_at),
        "expires_at": iso(row.expires_at),
    }
