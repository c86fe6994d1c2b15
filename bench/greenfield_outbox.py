"""What Greenfield costs the outbox: writing the events of a block that pays N payments.

Every event batch now also reads the registered delivery targets and asks the Greenfield
projection whether the payments belong to invoices. Timed in the same run on one database:

* baseline: the outbox as before (one webhook URL from the config, no registry, no projection);
* registry + projection, none of the payments in an invoice (a shop not using Greenfield);
* registry + projection, every payment an invoice's with one Greenfield webhook (each event
  also derives the invoice's status and queues its Greenfield delivery).

Each write runs in a transaction that is rolled back, so every variant sees the same rows.

    python bench/greenfield_outbox.py            # 2000 payments, 5 rounds
    python bench/greenfield_outbox.py --smoke    # CI: 200 payments, 1 round
"""

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from _harness import print_table, write_json  # noqa: E402

from transient.core import status as S  # noqa: E402
from transient.core.clock import utcnow  # noqa: E402
from transient.delivery.outbox import Outbox  # noqa: E402
from transient.delivery.registry import TargetRegistry  # noqa: E402
from transient.greenfield.projection import Projection  # noqa: E402
from transient.payments.rendering import Renderer  # noqa: E402
from transient.store import migrations  # noqa: E402
from transient.store.db import open_database, write_transaction  # noqa: E402
from transient.store.models import DeliveryTarget, Invoice, InvoicePayment, Payment  # noqa: E402


def seed(db, n, in_invoices):
    """``n`` PENDING payments (and, with ``in_invoices``, an invoice for each)."""
    now = utcnow()
    payments = []
    with write_transaction(db):
        for i in range(n):
            p = Payment.create(
                id=uuid.uuid4(),
                currency="LTC",
                amount=100000,
                address="addr-%s-%d" % (in_invoices, i),
                status=S.PENDING,
                confirmations_required=1,
                amount_received=100000,
                amount_pending=100000,
                created_at=now,
                updated_at=now,
            )
            payments.append(p)
            if in_invoices:
                inv = Invoice.create(
                    id="inv%d" % i,
                    store_id="S",
                    amount="0.001",
                    currency="LTC",
                    created_at=now,
                    expires_at=now + datetime.timedelta(hours=1),
                    monitoring_until=now + datetime.timedelta(hours=2),
                    status="Processing",
                    updated_at=now,
                )
                InvoicePayment.create(invoice=inv.id, payment=p.id, method="LTC-CHAIN")
    return payments


def block_write(db, outbox, payments):
    """Seconds to queue a block's events for ``payments`` (confirmed, status PAID), rolled back."""
    now = utcnow()
    with db.atomic() as txn:
        batch = outbox.batch(now)
        started = time.perf_counter()
        for p in payments:
            p.status = S.PAID
            p.amount_pending = 0
            Payment.update(status=S.PAID, amount_pending=0).where(Payment.id == p.id).execute()
            batch.add(p, "payment.confirmed", {"txid": "ab" * 32, "vout": "0", "amount": 100000, "state": "confirmed"})
            batch.add(p, "payment.status_changed", {"from": S.PENDING, "to": S.PAID, "cause": "confirmed"})
        batch.write()
        took = time.perf_counter() - started
        txn.rollback()
    for p in payments:
        p.status, p.amount_pending, p.event_seq = S.PENDING, 100000, 0
    return took, batch.deliveries


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="payments in the block")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="a quick run (CI)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.rounds = 200, 1
    db = open_database("sqlite:///%s" % os.path.join(tempfile.mkdtemp(), "bench.db"))
    migrations.apply(db)
    plain, invoiced = seed(db, args.n, False), seed(db, args.n, True)
    registry = TargetRegistry(db)
    registry.register_config(["http://127.0.0.1:9/hook"])
    now = utcnow()
    DeliveryTarget.create(
        kind=DeliveryTarget.GREENFIELD, url="http://127.0.0.1:9/gf", public_id="W", store_id="S", secret="s",
        created_at=now, updated_at=now,
    )  # fmt: skip
    renderer = Renderer({})
    baseline = Outbox(renderer, "http://127.0.0.1:9/hook")
    greenfield = Outbox(renderer, "http://127.0.0.1:9/hook", registry=registry, projections=[Projection(registry, {})])
    variants = [
        ("outbox as before (baseline)", baseline, plain),
        ("+ registry and projection, no invoice", greenfield, plain),
        ("+ registry and projection, all invoices", greenfield, invoiced),
    ]
    rows, figures = [], {}
    base = None
    for name, outbox, payments in variants:
        times, queued = [], 0
        for _ in range(args.rounds):
            took, queued = block_write(db, outbox, payments)
            times.append(took)
        ms = statistics.median(times) * 1000
        base = base or ms
        rows.append((name, args.n * 2, queued, ms, ms / base))
        figures[name] = {"events": args.n * 2, "deliveries": queued, "ms": ms, "ratio": ms / base}
    print_table(
        "Writing a block's events (%d payments, 2 events each; median of %d, SQLite)" % (args.n, args.rounds),
        ["variant", "events", "deliveries", "ms", "x baseline"],
        rows,
        ["%s", "%d", "%d", "%.1f", "%.2f"],
    )
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
