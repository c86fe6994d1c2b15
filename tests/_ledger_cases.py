"""The ledger and the sync transaction, with listings built by hand (the regtest tests
drive the same code with a real node). Written once, run twice: on SQLite in
tests/unit/test_ledger.py and on PostgreSQL in tests/integration/test_ledger_postgres.py."""

import datetime
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transient.chain.backend import ChainTip, Changes, Output
from transient.chain.ledger import Ledger, refresh
from transient.chain.sync import Lease, Syncer
from transient.core import status as S
from transient.delivery.outbox import Outbox
from transient.payments.rendering import Renderer
from transient.store.models import ChainState, Event, Payment, Receipt

T0 = datetime.datetime(2026, 1, 1)
TX = ["%064x" % i for i in range(1, 20)]


def make_payment(address="addr1", amount=100, confs=1, **kw):
    p = Payment.create(
        id=uuid.uuid4(),
        currency="LTC",
        amount=amount,
        address=address,
        status=S.UNPAID,
        confirmations_required=confs,
        created_at=T0,
        updated_at=T0,
        **kw,
    )
    return p


def out(txid, amount, confs, height=None, address="addr1", output="0"):
    return Output(
        txid=txid,
        output=output,
        address=address,
        amount=amount,
        confirmations=confs,
        block_hash=("%064x" % (height or 0)) if confs > 0 else None,
        block_height=height if confs > 0 else None,
    )


class FakeNode:
    """A scripted backend: each changes_since() returns the next listing."""

    def __init__(self, *listings):
        self.listings = list(listings)
        self.cursors = []

    def note_tip(self, tip):
        pass

    def changes_since(self, cursor):
        self.cursors.append(cursor)
        return self.listings.pop(0)

    def recheck(self, txids):
        self.rechecked = list(txids)
        return {txid: self.txstates.get(txid) for txid in txids}

    txstates = {}


def sync(db, *listings, confirmations=1):
    node = FakeNode(*listings)
    syncer = Syncer("LTC", node, confirmations, db, clock=lambda: T0)
    for _ in listings:
        syncer.run()
    return node


def tip(h):
    return ChainTip("%064x" % (1000 + h), h)


def test_pay_confirm_and_idempotent_upsert(db):
    p = make_payment()
    sync(db, Changes(tip(100), [out(TX[0], 100, 0)]))
    p = Payment.get_by_id(p.id)
    assert (p.status, p.amount_received, p.amount_pending) == (S.PENDING, 100, 100)
    listing = Changes(tip(101), [out(TX[0], 100, 1, height=101)])
    sync(db, listing, listing)  # the same listing twice counts once
    p = Payment.get_by_id(p.id)
    assert (p.status, p.amount_received, p.amount_pending) == (S.PAID, 100, 0)
    assert p.paid_at == T0
    assert Receipt.select().count() == 1
    assert ChainState.get_by_id("LTC").cursor_height == 101
    types = [e.type for e in Event.select().order_by(Event.sequence)]
    assert types == ["payment.received", "payment.status_changed", "payment.confirmed", "payment.status_changed"]


def test_confirmations_mature_without_being_listed_again(db):
    p = make_payment(confs=3)
    sync(db, Changes(tip(101), [out(TX[0], 100, 1, height=101)]))
    assert Payment.get_by_id(p.id).status == S.PENDING
    sync(db, Changes(tip(102), []))
    assert Payment.get_by_id(p.id).status == S.PENDING
    sync(db, Changes(tip(103), []))
    assert Payment.get_by_id(p.id).status == S.PAID


def test_reorg_and_double_spend_revert(db):
    p = make_payment()
    sync(db, Changes(tip(101), [out(TX[0], 100, 1, height=101)]))
    assert Payment.get_by_id(p.id).status == S.PAID
    # the block is disconnected: the tx is back in the mempool
    sync(db, Changes(tip(100), [out(TX[0], 100, 0)]))
    p = Payment.get_by_id(p.id)
    assert (p.status, p.paid_at) == (S.PENDING, None)
    # a conflicting tx is mined: the output is conflicted and no longer counted
    sync(db, Changes(tip(101), [out(TX[0], 100, -1)]))
    p = Payment.get_by_id(p.id)
    assert (p.status, p.amount_received) == (S.UNPAID, 0)
    reverted = Event.select().where(Event.type == "payment.reverted").count()
    assert reverted == 2


def test_unconfirmed_output_that_drops_out_is_rechecked(db):
    """A receive that loses to a double spend vanishes from listsinceblock."""
    from transient.chain.backend import TxState

    p = make_payment()
    sync(db, Changes(tip(100), [out(TX[0], 100, 0)]))
    assert Payment.get_by_id(p.id).status == S.PENDING
    node = FakeNode(Changes(tip(101), []))
    node.txstates = {TX[0]: TxState(TX[0], -1)}
    Syncer("LTC", node, 1, db, clock=lambda: T0).run()
    assert node.rechecked == [TX[0]]
    p = Payment.get_by_id(p.id)
    assert (p.status, p.amount_received) == (S.UNPAID, 0)
    assert Receipt.get().state == Receipt.CONFLICTED


def test_stale_cursor_rechecks_recent_mined_receipts(db):
    """A node without `removed` (Dogecoin) after a reorg that double-spent a mined payment."""
    from transient.chain.backend import TxState

    p, other = make_payment(), make_payment("addr2")
    sync(db, Changes(tip(101), [out(TX[0], 100, 1, height=101), out(TX[1], 100, 1, height=101, address="addr2")]))
    assert Payment.get_by_id(p.id).status == S.PAID
    node = FakeNode(Changes(tip(101), [], stale_cursor=True))
    node.txstates = {TX[0]: TxState(TX[0], -1), TX[1]: TxState(TX[1], 2, "%064x" % 101, 101)}
    Syncer("LTC", node, 1, db, clock=lambda: T0).run()
    assert sorted(node.rechecked) == sorted([TX[0], TX[1]])
    assert Payment.get_by_id(p.id).status == S.UNPAID
    assert Payment.get_by_id(other.id).status == S.PAID  # still in the chain: untouched


def test_expiry_happens_in_the_sync_without_any_tx(db):
    p = make_payment(expires_at=T0 - datetime.timedelta(seconds=1))
    sync(db, Changes(tip(100), []))
    p = Payment.get_by_id(p.id)
    assert p.status == S.EXPIRED
    assert Event.select().where(Event.type == "payment.status_changed").count() == 1
    sync(db, Changes(tip(101), []))  # expires once, not again
    assert Event.select().where(Event.type == "payment.status_changed").count() == 1


def test_expiry_of_many_payments_runs_chunk_by_chunk(db, monkeypatch):
    """A start-up after a long stop expires thousands at once: CHUNK payments at a time
    (the worker must not hold them all), each one EXPIRED with what it received, its
    event in sequence and its delivery's body showing it expired; one not due is left."""
    import json

    from transient.chain import ledger
    from transient.store.models import Delivery

    monkeypatch.setattr(ledger, "CHUNK", 7)
    n = 23  # four chunks, the last one short
    due = T0 + datetime.timedelta(seconds=1)
    payments = [make_payment("E%d" % i, 100, expires_at=due) for i in range(n)]
    later = make_payment("L0", 100, expires_at=T0 + datetime.timedelta(hours=1))
    now = [T0]
    outbox = Outbox(Renderer({}), "http://127.0.0.1:1/hook")
    paid = [out(TX[i % len(TX)], 40, 1, height=100, address="E%d" % i, output=str(i)) for i in range(0, n, 2)]
    syncer = Syncer(
        "LTC", FakeNode(Changes(tip(100), paid), Changes(tip(100), [])), 1, db, outbox=outbox, clock=lambda: now[0]
    )
    syncer.run()
    assert {Payment.get_by_id(p.id).status for p in payments[::2]} == {S.UNDERPAID}
    now[0] = T0 + datetime.timedelta(minutes=1)
    syncer.run()
    for i, p in enumerate(payments):
        row = Payment.get_by_id(p.id)
        assert (row.status, row.amount_received) == (S.EXPIRED, 40 if i % 2 == 0 else 0)
        events = list(Event.select().where(Event.payment == p.id).order_by(Event.sequence))
        assert [e.sequence for e in events] == list(range(1, len(events) + 1)) and row.event_seq == len(events)
        assert events[-1].type == "payment.status_changed"
        last = Delivery.select().where(Delivery.payment == p.id).order_by(Delivery.sequence.desc()).get()
        assert json.loads(last.body)["payment"]["status"] == S.EXPIRED
    assert Payment.get_by_id(later.id).status == S.UNPAID


def test_a_large_sync_lets_its_connection_go(db, monkeypatch):
    """After a sync as large as a burst's, its connection is closed (the statements it
    prepared meanwhile would pin the memory the sync's rows filled); a small sync keeps
    it, and the next sync opens a new one and works."""
    from transient.chain import sync as sync_module

    monkeypatch.setattr(sync_module, "LARGE_LISTING", 3)
    closed, close = [], db.close
    monkeypatch.setattr(db, "close", lambda: closed.append(db.in_transaction()) or close())
    payments = [make_payment("C%d" % i, 100) for i in range(3)]
    listed = [out(TX[i % len(TX)], 100, 1, height=100, address="C%d" % i, output=str(i)) for i in range(3)]
    syncer = Syncer("LTC", FakeNode(Changes(tip(100), listed), Changes(tip(101), [])), 1, db, clock=lambda: T0)
    syncer.run()
    assert closed == [False]  # once, outside the transaction
    assert all(Payment.get_by_id(p.id).status == S.PAID for p in payments)
    syncer.run()
    assert closed == [False] and ChainState.get_by_id("LTC").cursor_height == 101


def test_removed_entries_unless_relisted(db):
    p = make_payment(amount=200)
    sync(db, Changes(tip(101), [out(TX[0], 100, 1, height=101), out(TX[1], 100, 1, height=101)]))
    assert Payment.get_by_id(p.id).status == S.PAID
    sync(
        db,
        Changes(
            tip(101),
            [out(TX[1], 100, 1, height=101)],
            removed=[out(TX[0], 100, 1, height=101), out(TX[1], 100, 1, height=101)],
        ),
    )
    p = Payment.get_by_id(p.id)
    assert (p.status, p.amount_received) == (S.UNDERPAID, 100)
    assert Receipt.get(Receipt.txid == TX[0]).state == Receipt.REMOVED
    assert Receipt.get(Receipt.txid == TX[1]).state == Receipt.CONFIRMED


def test_outputs_to_unknown_addresses_are_kept(db):
    sync(db, Changes(tip(101), [out(TX[0], 5, 1, height=101, address="stranger")]))
    r = Receipt.get()
    assert (r.payment_id, r.amount, r.state) == (None, 5, Receipt.CONFIRMED)


def test_many_outputs_one_tx_and_multiple_payments(db):
    a, b = make_payment("A", 100), make_payment("B", 50)
    outputs = [
        out(TX[0], 100, 0, address="A", output="0"),
        out(TX[0], 50, 0, address="B", output="1"),
        out(TX[0], 1, 0, address="A", output="2"),
    ]
    sync(db, Changes(tip(100), outputs))
    assert Payment.get_by_id(a.id).amount_received == 101
    assert Payment.get_by_id(b.id).amount_received == 50


def test_crash_inside_the_transaction_changes_nothing(db, monkeypatch):
    p = make_payment()
    sync(db, Changes(tip(100), []))

    def boom(self):
        raise RuntimeError("crash between ledger and cursor")

    monkeypatch.setattr(Ledger, "settle", boom)
    node = FakeNode(Changes(tip(101), [out(TX[0], 100, 1, height=101)]))
    with pytest.raises(RuntimeError):
        Syncer("LTC", node, 1, db, clock=lambda: T0).run()
    assert Receipt.select().count() == 0
    assert ChainState.get_by_id("LTC").cursor_height == 100
    assert ChainState.get_by_id("LTC").lease_holder is None  # released on the way out
    assert Payment.get_by_id(p.id).status == S.UNPAID


def test_cursor_is_fed_back(db):
    node = sync(db, Changes(tip(100), []), Changes(tip(105), []))
    assert node.cursors == [None, tip(100).hash]


_step = st.tuples(
    st.integers(-1, 1),  # how the tip moves
    st.lists(
        st.tuples(st.integers(0, 9), st.integers(0, 2), st.integers(-1, 2)), max_size=4
    ),  # listed (tx, output, confirmations)
    st.lists(st.tuples(st.integers(0, 9), st.integers(0, 2)), max_size=2),  # removed (tx, output)
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_step, min_size=1, max_size=8))
def test_ledger_invariant_holds_for_any_history(db, history):
    """amount_received is the sum of counted receipts and each output is credited once,
    whatever the node lists: repeats, reorgs, removals, conflicts."""
    for model in (Event, Receipt, ChainState, Payment):
        model.delete().execute()
    payments = [make_payment("A%d" % i, amount=100) for i in range(4)]
    height = 100
    for move, outputs, removed in history:
        height += move
        listed = {}
        for tx, vout, confs in outputs:
            # the node reports one amount and address per output, whatever the listing
            listed[(tx, vout)] = out(
                TX[tx],
                10 + tx * 7 + vout,
                confs,
                height=height - max(confs, 1) + 1,
                address="A%d" % ((tx + vout) % 4),
                output=str(vout),
            )
        gone = [
            out(TX[tx], 10 + tx * 7 + vout, 0, address="A%d" % ((tx + vout) % 4), output=str(vout))
            for tx, vout in removed
        ]
        sync(db, Changes(tip(height), list(listed.values()), removed=gone))
    for p in payments:
        p = Payment.get_by_id(p.id)
        counted = sum(
            r.amount for r in Receipt.select().where((Receipt.payment == p.id) & Receipt.state.in_(Receipt.COUNTED))
        )
        assert p.amount_received == counted >= 0
        assert 0 <= p.amount_pending <= p.amount_received
    keys = [(r.txid, r.output) for r in Receipt.select()]
    assert len(keys) == len(set(keys))


def test_lease_is_exclusive_and_rerun_is_kept(db):
    a = Lease("LTC", "host:1:a", 60, clock=lambda: T0)
    b = Lease("LTC", "host:2:b", 60, clock=lambda: T0)
    assert a.acquire()
    assert not b.acquire()
    b.request_rerun()
    assert a.release() is False  # must run once more
    assert a.release() is True
    assert b.acquire()


def test_expired_lease_can_be_taken(db):
    a = Lease("LTC", "host:1:a", 60, clock=lambda: T0)
    assert a.acquire()
    late = Lease("LTC", "host:2:b", 60, clock=lambda: T0 + datetime.timedelta(seconds=61))
    assert late.acquire()


def test_refresh_is_consistent_with_receipts(db):
    p = make_payment()
    Receipt.create(
        currency="LTC",
        txid=TX[0],
        output="0",
        address="addr1",
        amount=150,
        payment=p.id,
        state=Receipt.CONFIRMED,
        block_height=10,
        block_hash="h",
        first_seen=T0,
        last_seen=T0,
    )
    events = Outbox().batch(T0)
    summary = refresh(p, 12, T0, "test", events)
    events.write()
    assert summary.status == S.OVERPAID
    assert Payment.get_by_id(p.id).status == S.OVERPAID


def test_the_node_time_decides_in_time_or_late(db):
    """Funds the node saw before expiry count as in time though Transient syncs after it."""
    minutes = lambda m: T0 + datetime.timedelta(minutes=m)  # noqa: E731
    on_time = make_payment("addr1", expires_at=minutes(-10))
    late = make_payment("addr2", expires_at=minutes(-10))
    sync(
        db,
        Changes(
            tip(100),
            [
                Output(TX[0], "0", "addr1", 100, 0, seen_at=minutes(-20)),
                Output(TX[1], "0", "addr2", 100, 0, seen_at=minutes(-5)),
            ],
        ),
    )
    on_time, late = Payment.get_by_id(on_time.id), Payment.get_by_id(late.id)
    assert (on_time.status, late.status) == (S.PENDING, S.EXPIRED)
    assert Receipt.get(Receipt.txid == TX[0]).first_seen == minutes(-20)
    types = lambda p: [e.type for e in Event.select().where(Event.payment == p.id).order_by(Event.sequence)]  # noqa: E731
    assert types(on_time) == ["payment.received", "payment.status_changed"]
    assert types(late) == ["payment.received", "payment.late", "payment.status_changed"]
    # A node clock ahead of ours never puts first_seen in the future.
    future = make_payment("addr3")
    sync(db, Changes(tip(101), [Output(TX[2], "0", "addr3", 100, 0, seen_at=minutes(30))]))
    assert Receipt.get(Receipt.txid == TX[2]).first_seen == T0 and Payment.get_by_id(future.id).status == S.PENDING


def test_a_block_paying_more_payments_than_a_chunk_writes_every_event_with_its_final_snapshot(db, monkeypatch):
    """The ledger settles and writes events CHUNK payments at a time (so a burst never holds
    all its rows at once): every payment still gets all its events, in sequence, each
    delivery carrying the payment as it stands at the end of that sync; and a crash after
    the chunks were written still leaves nothing behind."""
    import json

    from transient.chain import ledger
    from transient.delivery import outbox as outbox_module
    from transient.store.models import Delivery

    monkeypatch.setattr(ledger, "CHUNK", 7)
    monkeypatch.setattr(outbox_module, "CHUNK", 3)  # a payment's two events straddle event chunks
    n = 30  # five chunks, the last one short
    payments = [make_payment("A%d" % i, 100) for i in range(n)]
    outbox = Outbox(Renderer({}), "http://127.0.0.1:1/hook")
    syncer = Syncer(
        "LTC",
        FakeNode(
            Changes(tip(100), [out(TX[i % len(TX)], 100, 0, address="A%d" % i, output=str(i)) for i in range(n)]),
            Changes(
                tip(101), [out(TX[i % len(TX)], 100, 1, height=101, address="A%d" % i, output=str(i)) for i in range(n)]
            ),
        ),
        1,
        db,
        outbox=outbox,
        clock=lambda: T0,
    )
    syncer.run()
    syncer.run()
    for p in payments:
        events = list(Event.select().where(Event.payment == p.id).order_by(Event.sequence))
        assert [e.sequence for e in events] == list(range(1, len(events) + 1))
        assert [e.type for e in events] == [
            "payment.received",
            "payment.status_changed",
            "payment.confirmed",
            "payment.status_changed",
        ]
        bodies = [
            json.loads(d.body) for d in Delivery.select().where(Delivery.payment == p.id).order_by(Delivery.sequence)
        ]
        assert [b["event"]["sequence"] for b in bodies] == [1, 2, 3, 4]
        assert [b["payment"]["status"] for b in bodies] == [S.PENDING, S.PENDING, S.PAID, S.PAID]
        # The snapshot is taken once all of the payment's events of the sync are stored.
        assert all(b["payment"]["status_history"][-1]["status"] == b["payment"]["status"] for b in bodies)
        assert Payment.get_by_id(p.id).event_seq == 4 and Payment.get_by_id(p.id).status == S.PAID

    # A crash after every chunk was written (in the expiry pass): the whole sync rolls back.
    events_before, deliveries_before = Event.select().count(), Delivery.select().count()
    more = [make_payment("B%d" % i, 100) for i in range(n)]

    def crash(*args):
        raise RuntimeError("crash after the chunks")

    monkeypatch.setattr("transient.chain.sync.expire_due", crash)
    node = FakeNode(
        Changes(tip(102), [out(TX[i % len(TX)], 100, 0, address="B%d" % i, output="b%d" % i) for i in range(n)])
    )
    with pytest.raises(RuntimeError):
        Syncer("LTC", node, 1, db, outbox=outbox, clock=lambda: T0).run()
    assert (Event.select().count(), Delivery.select().count()) == (events_before, deliveries_before)
    assert all(Payment.get_by_id(p.id).status == S.UNPAID and Payment.get_by_id(p.id).event_seq == 0 for p in more)
