"""The reports' rows on a database: keyset chunks over ties of time (the id breaks them,
a UUID on PostgreSQL, text on SQLite), the range's ends, outputs of no payment, exact
amounts far past a float's precision. Written once, run on SQLite by
tests/unit/test_reports_rows.py and on PostgreSQL by tests/integration/test_reports_postgres.py."""

import datetime
import json
import uuid

from transient.core.money import format_amount
from transient.reports.service import Reports
from transient.store.models import ChainState, Payment, Receipt
from transient.store.payouts import Payout

T0 = datetime.datetime(2026, 5, 1, 12, 0, 0)


def _fill(count):
    """``count`` DOGE payments, three at each instant, each with one receipt; one receipt
    of no payment. Returns the payment ids in (created_at, id) order."""
    ChainState.create(currency="DOGE", cursor_hash="00" * 32, cursor_height=110)
    ids = []
    for n in range(count):
        pid = uuid.uuid4()
        at = T0 + datetime.timedelta(seconds=n // 3)
        Payment.create(
            id=pid,
            currency="DOGE",
            amount=10**18,  # 10^10 DOGE: past a float's 2^53
            address="addr%d" % n,
            status="PAID",
            confirmations_required=1,
            amount_received=10**18 + n,
            created_at=at,
            updated_at=at,
            metadata=json.dumps({"order_id": "o-%d" % n}),
        )
        Receipt.create(
            currency="DOGE",
            txid="%064x" % n,
            output="0",
            address="addr%d" % n,
            amount=10**18 + n,
            payment=pid,
            state="confirmed",
            block_height=100,
            first_seen=at,
            last_seen=at,
            confirmed_at=at,
        )
        ids.append((at, str(pid)))
    stray = {"txid": "f" * 64, "output": "1", "address": "stray", "amount": 5, "state": "pending", "first_seen": T0}
    Receipt.create(currency="DOGE", **stray)
    return [pid for _, pid in sorted(ids)]


def _lines(report):
    return [json.loads(line) for line in b"".join(report.body).splitlines()]


def test_keyset_chunks_cover_ties_once_in_order(db):
    ids = _fill(20)
    for chunk in (1, 4, 7, 100):
        rows = _lines(Reports({"DOGE": 8}, chunk=chunk).open("payments", {"format": "json"}))
        assert [r["payment_id"] for r in rows] == ids, chunk
    first = rows[0]
    assert first["amount"] == "10000000000" and first["order_id"] is not None
    overpaid = {r["amount_overpaid"] for r in rows}  # 10^18 + n base units received: exact to the last one
    assert overpaid == {format_amount(n) for n in range(20)}


def test_receipts_in_range_with_the_stray_output(db):
    ids = _fill(9)
    report = Reports({"DOGE": 8}, chunk=4).open(
        "receipts", {"format": "json", "from": "2026-05-01T12:00:01Z", "to": "2026-05-01T12:00:02Z"}
    )
    rows = _lines(report)
    # [from, to): the instant of to is out; ties of first_seen in the receipts' order.
    assert sorted(r["payment_id"] for r in rows) == sorted(ids[3:6])
    assert [r["txid"] for r in rows] == ["%064x" % n for n in (3, 4, 5)]
    assert all(r["confirmations"] == 11 and r["credited"] is True for r in rows)
    everything = _lines(Reports({"DOGE": 8}).open("receipts", {"format": "json", "currency": "DOGE"}))
    stray = [r for r in everything if r["payment_id"] is None]
    assert [(s["address"], s["amount"], s["state"]) for s in stray] == [("stray", "0.00000005", "pending")]
    assert len(everything) == 10


def test_the_payouts_report(db):
    pids = _fill(1)
    for n, state in enumerate(("awaiting_approval", "completed", "cancelled")):
        Payout.create(
            id="po%030d" % n,
            currency="DOGE",
            amount=10**18 + n,
            destination="=cmd|' /C calc'!A0" if n == 2 else "nXdest%d" % n,
            state=state,
            payment_id=pids[0] if n == 1 else None,
            txid="ab" * 32 if n == 1 else None,
            vout=1 if n == 1 else None,
            created_at=T0 + datetime.timedelta(minutes=n),
            updated_at=T0,
            approved_at=T0 if n == 1 else None,
        )
    rows = _lines(Reports({"DOGE": 8}, chunk=2).open("payouts", {"format": "json"}))
    assert [r["payout_id"] for r in rows] == ["po%030d" % n for n in range(3)]
    done = rows[1]
    assert (done["amount"], done["state"], done["payment_id"], done["txid"], done["vout"]) == (
        "10000000000.00000001",
        "completed",
        pids[0],
        "ab" * 32,
        1,
    )
    assert done["approved_at"] == "2026-05-01T12:00:00.000Z" and done["paid_externally"] is False
    text = b"".join(Reports({"DOGE": 8}).open("payouts", {"status": "cancelled,completed"}).body).decode()
    lines = text.splitlines()
    assert len(lines) == 3 and "'=cmd|" in lines[2]  # CSV: no formula in a destination either
