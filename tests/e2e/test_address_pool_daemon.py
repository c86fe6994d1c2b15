"""The address pool in transientd: it survives a restart and serves payments while the
node is down; the labels wait in the database until the node is back (the pool in
process: tests/regtest/test_address_pool.py)."""

import pytest
from _daemon import Daemon, coin_config, start_with_wallets, wait_for

pytestmark = pytest.mark.regtest


def test_the_pool_survives_a_restart_and_serves_with_the_node_down(tmp_path, regtest, wallet, db_url):
    coins = coin_config(regtest, wallet, poll=3600) + "address_pool = 30\n"
    d = Daemon(str(tmp_path), db_url, coins).start()
    try:
        wait_for(lambda: d.get("/healthz").json()["coins"]["LTC"]["address_pool"] == 30)
        d.create(currency="LTC", amount="1")
    finally:
        d.stop()
    regtest.stop()
    try:
        d = Daemon(str(tmp_path), db_url, coins).start()
        try:
            made = d.create(currency="LTC", amount="2", account="while-down")  # no node round trip
            assert d.get("/healthz").json()["coins"]["LTC"]["address_pool"] == 28
        finally:
            d.stop()
    finally:
        start_with_wallets(regtest)
    assert regtest.rpc("getaddressinfo", made["payment_address"], wallet=wallet)["ismine"] is True
    d = Daemon(str(tmp_path), db_url, coins).start()  # the label waited in the database
    try:
        wait_for(
            lambda: "while-down" in str(regtest.rpc("getaddressinfo", made["payment_address"], wallet=wallet)["labels"])
        )
    finally:
        d.stop()
