"""Reconciliation on every coin's real node (Litecoin Core, Bitcoin Core 30, Dogecoin Core
1.14): the ledger a sync wrote agrees with the wallet's own history; an output the ledger
lost and a credit the wallet never saw are differences, `transient reconcile` lists them
and exits 1; a rescan repairs the ledger and the next run agrees."""

import datetime
import json
import os

import pytest
from _api import post
from _coins import EVERY_COIN
from _daemon import coin_config
from falcon import testing

from transient import settings
from transient.chain.rescan import Rescan
from transient.cli import commands
from transient.reports.period import period
from transient.runtime import Runtime
from transient.store import migrations
from transient.store.db import database
from transient.store.models import Receipt

pytestmark = [pytest.mark.regtest, EVERY_COIN]


@pytest.fixture
def shop(tmp_path, coin, coin_node, coin_wallet):
    path = tmp_path / "config.toml"
    path.write_text(
        '[database]\nurl = "sqlite:///%s"\n[reconcile]\ngrace = 1\n%s'
        % (tmp_path / "t.db", coin_config(coin_node, coin_wallet, coin.currency, coin.backend))
    )
    runtime = Runtime(settings.load(str(path), environ={}))
    migrations.apply(runtime.db)
    yield testing.TestClient(runtime.app()), runtime, path
    runtime.close()


def _cli(runtime, *args):
    """``transient ARGS`` in-process, with none of the test run's TRANSIENT_ variables (the
    nodes' paths, which the config loader refuses); its runtime binds the models to a
    database of its own, given back to the test's runtime after."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("TRANSIENT_")}
    try:
        return commands.main(list(args))
    finally:
        os.environ.update(saved)
        database.initialize(runtime.db)


def _wallet_address(coin_node, wallet):
    return coin_node.rpc("getnewaddress", "", wallet=wallet) if wallet else coin_node.rpc("getnewaddress")


def test_the_ledger_agrees_with_the_wallet_and_differences_are_listed(shop, coin, coin_node, coin_wallet, capsys):
    client, runtime, config = shop
    currency = coin.currency
    p = post(client, {"currency": currency, "amount": "1.5"}).json["payment"]
    paid = coin_node.pay(p["payment_address"], "1.5")
    stray = coin_node.pay(_wallet_address(coin_node, coin_wallet), "0.25")  # to an address of no payment
    coin_node.mine(1)
    runtime.syncers[currency].run()
    everything = period()
    result = runtime.reconciler.run(currency, everything)
    assert result.ok, result.as_dict()
    ours = [(u[0], u[3]) for u in result.unmatched if u[0] == stray]
    assert ours == [(stray, 25_000_000)] and result.matched >= 1
    assert client.simulate_get("/reports/reconcile?currency=%s" % currency).json["ok"] is True
    # The ledger loses the output to no payment and gains a credit the wallet never saw.
    Receipt.delete().where(Receipt.txid == stray).execute()
    old = datetime.datetime.utcnow() - datetime.timedelta(hours=1)
    Receipt.create(
        currency=currency, txid="0" * 64, output="0", address=p["payment_address"], amount=1,
        payment=p["id"], state="confirmed", first_seen=old, last_seen=old,
    )  # fmt: skip
    assert _cli(runtime, "--json", "reconcile", currency.lower(), "--config", str(config)) == 1
    shown = json.loads(capsys.readouterr().out)
    found = {(d["kind"], d["txid"]) for d in shown["differences"]}
    assert found == {("missing", stray), ("not_in_wallet", "0" * 64)}
    assert _cli(runtime, "reconcile", currency, "--config", str(config), "--from", "2999-01-01") == 0
    assert "agree" in capsys.readouterr().out
    # A rescan adds the lost output back; the made-up credit is the operator's to remove.
    Receipt.delete().where(Receipt.txid == "0" * 64).execute()
    Rescan(runtime.syncers[currency]).run()
    again = runtime.reconciler.run(currency, everything)
    assert again.ok and any(u[0] == stray for u in again.unmatched)
    assert Receipt.get(Receipt.txid == paid).payment_id is not None
