"""The address pool: fresh addresses fetched ahead, claimed once, labelled afterwards;
on SQLite and PostgreSQL against the regtest node (kept across daemon restarts:
tests/e2e/test_address_pool_daemon.py)."""

import threading

import pytest

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
