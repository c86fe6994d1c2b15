"""The address pool: fresh addresses fetched ahead, claimed once, labelled afterwards;
on SQLite and PostgreSQL against the regtest node (kept across daemon restarts:
tests/e2e/test_address_pool_daemon.py)."""

import threading
import time

import pytest

from transient.core.errors import NodeError
from transient.delivery.outbox import Outbox
from transient.payments.pool import AddressPool
from transient.payments.rendering import Renderer
from transient.payments.service import PaymentService
from transient.store.db import write_transaction
from transient.store.models import Payment, PooledAddress
from transient_litecoin import LitecoinBackend

pytestmark = pytest.mark.regtest


def backend_for(node, wallet):
    return LitecoinBackend(
        "LTC", {"rpc_url": node.rpc_url, "rpc_user": node.rpc_user, "rpc_password": node.rpc_password, "wallet": wallet}
    )


@pytest.fixture
def pool(db, regtest, wallet):
    backend = backend_for(regtest, wallet)
    yield AddressPool("LTC", backend, db, size=40)
    backend.close()


def test_refill_tops_up_from_half_with_addresses_of_the_wallet(pool, regtest, wallet):
    assert pool.refill() == 40 and pool.available() == 40
    assert pool.refill() == 0
    with write_transaction(pool.db):
        taken = [pool.take() for _ in range(20)]
    assert pool.refill() == 0  # still at half: no round trip
    with write_transaction(pool.db):
        taken.append(pool.take())
    assert pool.refill() == 21 and pool.available() == 40
    pooled = [r.address for r in PooledAddress.select().where(PooledAddress.claimed_at.is_null())]
    assert len(set(pooled + taken)) == 61  # all fresh
    for address in (taken[0], pooled[-1]):
        assert regtest.rpc("getaddressinfo", address, wallet=wallet)["ismine"] is True


def test_concurrent_claims_never_share_an_address(pool):
    pool.refill()
    got, errors = [], []

    def claim():
        try:
            while True:
                with write_transaction(pool.db):
                    address = pool.take()
                if address is None:
                    return
                got.append(address)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            pool.db.close()

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(got) == 40 and len(set(got)) == 40 and pool.available() == 0


def test_a_failed_insert_gives_the_address_back(pool):
    pool.refill()
    with pytest.raises(RuntimeError):
        with write_transaction(pool.db):
            first = pool.take()
            raise RuntimeError("the payment could not be inserted")
    assert pool.available() == 40
    with write_transaction(pool.db):
        assert pool.take() == first


def service(pool):
    coins = {"LTC": (pool.backend, {"confirmations": 1, "underpayment_tolerance": "0", "expires_in": 0})}
    renderer = Renderer(coins)
    return PaymentService(coins, Outbox(renderer), renderer, db=pool.db, pools={"LTC": pool})


def test_payments_take_pooled_addresses_and_labels_follow(pool, regtest, wallet):
    pool.refill()
    pooled = [r.address for r in PooledAddress.select().order_by(PooledAddress.id)]
    payments = service(pool)
    a, _ = payments.create({"currency": "LTC", "amount": "1", "account": "order-7"})
    b, _ = payments.create({"currency": "LTC", "amount": "1"})
    assert (a.address, b.address) == (pooled[0], pooled[1])
    info = regtest.rpc("getaddressinfo", a.address, wallet=wallet)
    assert info["labels"] in ([""], [{"name": "", "purpose": "receive"}])  # not labelled yet
    assert pool.label_claimed() == 1
    info = regtest.rpc("getaddressinfo", a.address, wallet=wallet)
    assert info["labels"] in (["order-7"], [{"name": "order-7", "purpose": "receive"}])
    assert PooledAddress.select().where(PooledAddress.claimed_at.is_null(False)).count() == 0
    assert pool.available() == 38


def test_an_empty_pool_falls_back_to_the_node(pool, regtest, wallet):
    payments = service(pool)
    p, _ = payments.create({"currency": "LTC", "amount": "1", "account": "walk-in"})
    assert Payment.get_by_id(p.id).address == p.address
    info = regtest.rpc("getaddressinfo", p.address, wallet=wallet)
    assert info["ismine"] and info["labels"] in (["walk-in"], [{"name": "walk-in", "purpose": "receive"}])


def test_a_pool_of_another_wallet_is_dropped(pool, regtest):
    pool.refill()
    other = regtest.create_wallet(pool.backend.options["wallet"] + "_new")
    moved = AddressPool("LTC", backend_for(regtest, other), pool.db, size=40)
    assert moved.check_wallet() == 40 and moved.available() == 0
    assert pool.check_wallet() == 0  # (nothing left to check)
    moved.backend.close()


def _slow_backend(node, wallet, timeout):
    return LitecoinBackend(
        "LTC",
        {
            "rpc_url": node.rpc_url,
            "rpc_user": node.rpc_user,
            "rpc_password": node.rpc_password,
            "wallet": wallet,
            "rpc_timeout": timeout,
        },
    )


def test_a_node_slower_than_a_whole_batch_still_fills_the_pool(db, regtest, wallet):
    # A loaded node answered no batch of 500 within rpc_timeout: every refill failed whole
    # and the pool never filled (1 562 of 2 000 POSTs got 503). Here the node's timeout is
    # four times what it takes for ten addresses: a batch of 200 cannot make it.
    backend = _slow_backend(regtest, wallet, 30)
    started = time.monotonic()
    backend.new_addresses(10)
    tenth = time.monotonic() - started
    backend.close()
    backend = _slow_backend(regtest, wallet, 4 * tenth)
    pool = AddressPool("LTC", backend, db, size=200)
    try:
        deadline = time.monotonic() + 120  # the keeper's rounds, for as long as a busy machine needs
        while pool.available() < 200 and time.monotonic() < deadline:
            try:
                pool.refill()
            except NodeError:
                time.sleep(2 * tenth)  # its interval: the node works through the batch given up on
        assert pool.available() == 200
        assert 10 <= pool.batch < 200  # a batch the node answers in time
        assert pool.report()["behind"] is None
        addresses = [r.address for r in PooledAddress.select()]
        assert len(set(addresses)) == 200
        assert regtest.rpc("getaddressinfo", addresses[-1], wallet=wallet)["ismine"] is True
    finally:
        backend.close()


def test_healthz_says_why_the_pool_cannot_keep_up(db, regtest, wallet):
    backend = _slow_backend(regtest, wallet, 0.001)  # not even ten addresses in time
    pool = AddressPool("LTC", backend, db, size=50)
    try:
        with pytest.raises(NodeError):
            pool.refill()
        report = pool.report()
        assert report["available"] == 0 and "did not answer a batch of 50 in time (NodeTimeout)" in report["behind"]
        assert pool.batch == 25  # the next round asks half
    finally:
        backend.close()
