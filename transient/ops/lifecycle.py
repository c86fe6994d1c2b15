"""What an operator sees of a payment's life: one INFO line and the counters, per event.

The outbox calls :func:`committed` after the transaction that wrote the events
committed, in the one process that wrote them (the worker holding the coin's sync
lease, or the one that created the payment): each line is said once, never once per
worker, and never for a change that was rolled back.
"""

import logging

from ..core import events as ev
from ..core import status as st
from . import metrics

log = logging.getLogger("transient.payments")


def committed(items):
    """``items``: ``(payment_id, currency, type, data)`` of the events just committed."""
    for payment_id, currency, type, data in items:
        try:
            _one(str(payment_id), currency, type, data)
        except Exception:  # noqa: BLE001 - a line or a counter must never undo a committed change
            log.debug("could not report event %s of %s", type, payment_id, exc_info=True)


def _one(payment_id, currency, type, data):
    base = {"event": type, "payment_id": payment_id, "currency": currency}
    if type == ev.CREATED:
        metrics.PAYMENTS_CREATED.labels(currency).inc()
        metrics.STATUS_CHANGES.labels(currency, data.get("status", st.UNPAID), "created").inc()
        log.info("payment created", extra=dict(base, status=data.get("status", st.UNPAID)))
    elif type == ev.STATUS_CHANGED:
        to, cause = data.get("to"), data.get("cause") or "unknown"
        metrics.STATUS_CHANGES.labels(currency, to, cause).inc()
        log.info(_status_line(to, data.get("from")), extra=dict(base, status=to, cause=cause))
    elif type in (ev.RECEIVED, ev.CONFIRMED, ev.LATE, ev.REVERTED):
        output = dict(base, txid=data.get("txid"), vout=data.get("vout"), amount=data.get("amount"))
        if type == ev.RECEIVED:
            metrics.RECEIVED_UNITS.labels(currency).inc(int(data.get("amount") or 0))
            log.info("payment received an output", extra=output)
        elif type == ev.CONFIRMED:
            log.info("payment output confirmed", extra=output)
        elif type == ev.LATE:
            log.info("late funds: an output arrived after the payment expired", extra=output)
        else:
            cause = data.get("cause") or "unknown"
            log.info("payment output reverted (%s)", cause, extra=dict(output, cause=cause))


def _status_line(to, before):
    if to in st.PAID_STATUSES:
        return "payment %s" % to
    if to == st.EXPIRED:
        return "payment expired"
    return "payment status %s -> %s" % (before, to)
