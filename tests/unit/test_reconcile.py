"""Reconciliation of the ledger with the wallet (reports/reconcile.py) on the FakeBackend:
agreement, each kind of difference, outputs to no payment listed (not a difference), what
the sync has not had time for left out, the range, the API, the scheduled run's gauge.
tests/regtest/test_reconcile_nodes.py runs it on every coin's real node."""

import datetime

import pytest
from _api import post
from fakes import fake_runtime

from transient.ops import metrics
from transient.reports.period import period, since
from transient.reports.reconcile import ReconcileJob
from transient.store.leases import ClusterLease
from transient.store.models import Payment, Receipt


@pytest.fixture
def shop(tmp_path):
    client, runtime = fake_runtime(tmp_path)
    node = runtime.backends["LTC"]
    paid = post(client, {"currency": "LTC", "amount": "1"}).json["payment"]
    other = post(client, {"currency": "LTC", "amount": "2"}).json["payment"]
    old = datetime.datetime.utcnow() - datetime.timedelta(hours=1)  # older than the grace
    txids = {
        "paid": node.pay(paid["payment_address"], 100_000_000, seen_at=old),
        "stray": node.pay(node.new_address(), 5_000, seen_at=old),  # an address of no payment
    }
    node.mine(1)
    runtime.syncers["LTC"].run()
    yield client, runtime, node, (paid, other), txids
    runtime.close()


def _run(runtime, **kw):
    return runtime.reconciler.run("LTC", period(**kw))


def test_an_agreeing_ledger_has_no_difference_and_lists_the_output_to_no_payment(shop):
    _, runtime, _, (paid, _), txids = shop
    result = _run(runtime)
    assert result.ok and result.matched == 1 and result.wallet_outputs == 2 and result.ledger_credits == 1
    shown = result.as_dict()
    assert [(u["txid"], u["amount"]) for u in shown["unmatched"]] == [(txids["stray"], "0.00005")]


def test_each_kind_of_difference(shop):
    _, runtime, node, (paid, other), txids = shop
    old = datetime.datetime.utcnow() - datetime.timedelta(hours=1)
    Receipt.delete().where(Receipt.txid == txids["stray"]).execute()  # the ledger lost an output
    extra = Receipt.get(Receipt.txid == txids["paid"])
    Receipt.create(  # a credit the wallet has never seen
        currency="LTC", txid="e" * 64, output="0", address=other["payment_address"], amount=7,
        payment=other["id"], state="confirmed", first_seen=old, last_seen=old,
    )  # fmt: skip
    Receipt.update(amount=extra.amount + 1).where(Receipt.id == extra.id).execute()
    kinds = {d["kind"]: d for d in _run(runtime).as_dict()["differences"]}
    assert set(kinds) == {"missing", "not_in_wallet", "amount"}
    assert kinds["missing"]["txid"] == txids["stray"] and kinds["missing"]["payment_id"] is None
    assert kinds["not_in_wallet"]["payment_id"] == other["id"] and kinds["not_in_wallet"]["amount"] == "0.00000007"
    assert kinds["amount"]["payment_id"] == paid["id"]
    Receipt.update(amount=extra.amount, payment=other["id"]).where(Receipt.id == extra.id).execute()
    kinds = {d["kind"] for d in _run(runtime).differences}
    assert "payment" in kinds and "amount" not in kinds
    Receipt.update(payment=paid["id"], state="conflicted").where(Receipt.id == extra.id).execute()
    assert "not_credited" in {d["kind"] for d in _run(runtime).differences}


def test_what_the_sync_has_not_seen_yet_is_no_difference(shop):
    _, runtime, node, (_, other), _ = shop
    node.pay(other["payment_address"], 1_000)  # just now, in the mempool: within the grace
    assert _run(runtime).ok
    node.mine(1)  # in a block above the stored cursor: the next sync's
    assert _run(runtime).ok
    runtime.syncers["LTC"].run()
    assert _run(runtime).ok and _run(runtime).matched == 2


def test_the_range_leaves_out_what_is_outside_it(shop):
    _, runtime, _, _, txids = shop
    Receipt.delete().where(Receipt.txid == txids["stray"]).execute()
    assert not _run(runtime).ok
    future = _run(runtime, start="2999-01-01")
    assert future.ok and future.wallet_outputs == 0 and future.ledger_credits == 0


def test_the_api_answers_the_reconciliation(shop):
    client, runtime, _, _, txids = shop
    resp = client.simulate_get("/reports/reconcile?currency=ltc")
    assert resp.status_code == 200 and resp.json["ok"] is True and resp.json["matched"] == 1
    Payment.update(address="moved").where(
        Payment.address == Receipt.get(Receipt.txid == txids["paid"]).address
    ).execute()
    resp = client.simulate_get("/reports/reconcile?currency=LTC&from=2020-01-01&tz=Europe/Paris")
    assert resp.json["ok"] is False and [d["kind"] for d in resp.json["differences"]] == ["payment"]
    for query, field in (("", "currency"), ("currency=XYZ", "currency"), ("currency=LTC&tz=Nowhere", "tz")):
        bad = client.simulate_get("/reports/reconcile?" + query)
        assert bad.status_code == 422 and bad.json["error"]["field"] == field, query


def test_the_scheduled_run_sets_the_gauge(shop):
    _, runtime, _, _, txids = shop
    lease = ClusterLease("reconcile", "me", 60)
    job = ReconcileJob(runtime.reconciler, lambda now: since(now, 86400), 3600, lease)
    assert job.tick()["LTC"].ok
    assert 'transient_reconcile_differences{currency="LTC"} 0.0' in metrics.render().decode()
    Receipt.delete().where(Receipt.txid == txids["stray"]).execute()
    assert not job.tick()["LTC"].ok
    text = metrics.render().decode()
    assert 'transient_reconcile_differences{currency="LTC"} 1.0' in text
    assert 'transient_reconcile_last_run_timestamp_seconds{currency="LTC"}' in text
    other = ReconcileJob(runtime.reconciler, lambda now: since(now, 86400), 3600, ClusterLease("reconcile", "you", 60))
    assert other.tick() == {}  # one process of the cluster runs it
