"""What an operator sees of a payment's life: one INFO line and the counters, per event.

The outbox calls :func:`committed` after the transaction that wrote the events
committed, in the one process that wrote them (the worker holding the coin's sync
lease, or the one that created the payment): each line is said once, never once per
worker, and never for a change that was rolled back.
"""

import collections
import logging

from ..core import events as ev
from ..core import status as st
from . import metrics

log = logging.getLogger("transient.payments")


def committed(items):
    """``items``: ``(payment_id, currency, type, data)`` of the events just committed.

    The counters are added once per label set of the batch (a block that pays thousands
    writes a few metric files' slots, not one per event); the lines are one per event."""
    counts = collections.Counter()
    for payment_id, currency, type, data in items:
        try:
            _one(str(payment_id), currency, type, data, counts)
        except Exception:  # noqa: BLE001 - a line or a counter must never undo a committed change
            log.debug("could not report event %s of %s", type, payment_id, exc_info=True)
    try:
        for (metric, labels), n in counts.items():
            metric.labels(*labels).inc(n)
    except Exception:  # noqa: BLE001 - likewise
        log.debug("could not count %d events", len(items), exc_info=True)


def _one(payment_id, currency, type, data, counts):
    base = {"event": type, "payment_id": payment_id, "currency": currency}
    if type == ev.CREATED:
        counts[metrics.PAYMENTS_CREATED, (currency,)] += 1
        counts[metrics.STATUS_CHANGES, (currency, data.get("status", st.UNPAID), "created")] += 1
        log.info("payment created", extra=dict(base, status=data.get("status", st.UNPAID)))
    elif type == ev.STATUS_CHANGED:
        to, cause = data.get("to"), data.get("cause") or "unknown"
        counts[metrics.STATUS_CHANGES, (currency, to, cause)] += 1
        log.info(_status_line(to, data.get("from")), extra=dict(base, status=to, cause=cause))
    elif type in (ev.RECEIVED, ev.CONFIRMED, ev.LATE, ev.REVERTED):
        output = dict(base, txid=data.get("txid"), vout=data.get("vout"), amount=data.get("amount"))
        if type == ev.RECEIVED:
            counts[metrics.RECEIVED_UNITS, (currency,)] += int(data.get("amount") or 0)
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
