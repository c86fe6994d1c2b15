"""Watch-only payouts on real nodes (Bitcoin Core 28.3, Litecoin Core 0.21): the approved
payouts become one unsigned PSBT of the keyless wallet, downloaded through the API, signed
by a separate signer wallet on the node holding the keys, uploaded and checked (a PSBT of
another transaction is refused, nothing sent), broadcast, then completed by a block; the
customer's wallet shows each payout paid once."""

import itertools
import os
from decimal import Decimal

import pytest
from _coins import keyless_wallet
from _watch import create_keyless_wallet
from embit.bip32 import HDKey
from embit.networks import NETWORKS
from falcon import testing

from transient import settings
from transient.payouts import states
from transient.runtime import Runtime
from transient.store import migrations
from transient.store.payouts import Payout, PayoutBatch

_wallets = itertools.count(1)
NET = NETWORKS["test"]


@pytest.fixture(scope="module", params=["LTC", "BTC28"])
def node(request):
    return request.getfixturevalue({"LTC": "regtest", "BTC28": "btc28_node"}[request.param])


def signer_wallet(node, account, count):
    """A wallet on the node holding the account's private keys (receive chain, ``count`` of them)."""
    name = "signer-%d" % next(_wallets)
    if node.CURRENCY == "BTC":
        node.rpc("createwallet", name, False, True, "", False, True, True)  # blank descriptor wallet
        desc = "wpkh(%s/0/*)" % account.to_base58(version=NET["xprv"])
        desc += "#" + node.rpc("getdescriptorinfo", desc)["checksum"]
        (done,) = node.rpc("importdescriptors", [{"desc": desc, "timestamp": "now", "range": [0, count]}], wallet=name)
        assert done["success"], done
    else:
        node.rpc("createwallet", name, False, True, "", False, False, True)  # blank legacy wallet
        for i in range(count):
            node.rpc("importprivkey", account.derive([0, i]).key.wif(NET), "", False, wallet=name)
    return name


@pytest.fixture
def shop(node, tmp_path):
    account = HDKey.from_seed(os.urandom(32), version=NET["xprv"]).derive("m/84h/1h/0h")
    tpub = account.to_public().to_base58(version=NET["xpub"])
    name = "watch-pay-%d" % next(_wallets)
    wallet = keyless_wallet(node, name) if node.CURRENCY == "BTC" else create_keyless_wallet(node, name)
    path = tmp_path / "config.toml"
    path.write_text(
        '[database]\nurl = "sqlite:///%s"\n[payouts]\nfee_rate_cap = { %s = "25" }\n'
        '[coins.%s]\nbackend = "%s"\nrpc_url = "%s"\nrpc_user = "%s"\nrpc_password = "%s"\nwallet = "%s"\n'
        'xpub = "%s"\naddress_pool = 5\ngap_limit = 20\n'
        % (
            tmp_path / "w.db",
            node.CURRENCY,
            node.CURRENCY,
            {"LTC": "litecoin", "BTC": "bitcoin"}[node.CURRENCY],
            node.rpc_url,
            node.rpc_user,
            node.rpc_password,
            wallet,
            tpub,
        )
    )
    runtime = Runtime(settings.load(str(path), environ={}))
    migrations.apply(runtime.db)
    runtime.signer = signer_wallet(node, account, 40)
    runtime.customer = node.create_wallet("psbt-customer-%d" % next(_wallets))
    runtime.client = testing.TestClient(runtime.app())
    yield runtime
    runtime.close()


def test_a_watch_only_batch_is_signed_elsewhere_checked_and_paid_once(shop, node):
    code = node.CURRENCY
    payment, _ = shop.payments.create({"currency": code, "amount": "2"})
    node.pay(payment.address, "2")  # the watch-only wallet's coins
    node.mine(1)
    payouts = []
    for amount in ("0.3", "0.04"):
        address = node.rpc("getnewaddress", "", wallet=shop.customer)
        payout, _ = shop.payouts.create({"currency": code, "amount": amount, "destination": address})
        payouts.append(shop.payouts.approve(payout.id))
    assert shop.payout_runner.round()
    rows = [Payout.get_by_id(p.id) for p in payouts]
    assert {p.state for p in rows} == {states.AWAITING_SIGNATURE}
    batch = shop.client.simulate_get("/payout-batches/%s" % rows[0].batch_id).json["batch"]
    assert batch["state"] == "unsigned" and batch["psbt"] and sorted(batch["payouts"]) == sorted(p.id for p in rows)
    assert shop.payout_runner.round()  # no second batch while one waits for its signature
    assert PayoutBatch.select().count() == 1
    signed = node.rpc("walletprocesspsbt", batch["psbt"], wallet=shop.signer)
    assert signed["complete"], signed
    # A PSBT of another transaction (the same coins paid elsewhere): refused, nothing sent.
    own = node.rpc("getnewaddress", "", wallet=shop.customer)
    other = node.rpc(
        "walletcreatefundedpsbt",
        [],
        [{own: Decimal("1")}],
        0,
        {"includeWatching": True, "changeAddress": own},
        wallet=shop.signer,
    )
    forged = node.rpc("walletprocesspsbt", other["psbt"], wallet=shop.signer)["psbt"]
    path = "/payout-batches/%s/psbt" % batch["id"]
    refused = shop.client.simulate_post(path, json={"psbt": forged})
    assert refused.status_code == 422 and refused.json["error"]["field"] == "psbt", refused.text
    garbage = shop.client.simulate_post(path, json={"psbt": "bm90IGEgcHNidA=="})
    assert garbage.status_code == 422
    assert {Payout.get_by_id(p.id).state for p in rows} == {states.AWAITING_SIGNATURE}
    sent = shop.client.simulate_post(path, json={"psbt": signed["psbt"]})
    assert sent.status_code == 200, sent.text
    txid = sent.json["batch"]["txid"]
    assert sent.json["batch"]["state"] == "sent" and txid == batch["txid"]
    again = shop.client.simulate_post(path, json={"psbt": signed["psbt"]})
    assert again.status_code == 409  # sent already
    node.mine(1)
    assert shop.payout_runner.round()
    assert {Payout.get_by_id(p.id).state for p in rows} == {states.COMPLETED}
    # The fee the signed transaction paid (its inputs less its outputs), split between the two.
    fee = int(node.rpc("decodepsbt", signed["psbt"])["fee"] * 10**8)
    assert sum(Payout.get_by_id(p.id).fee for p in rows) == fee == PayoutBatch.get_by_id(batch["id"]).fee
    got = {}
    for e in node.rpc("listtransactions", "*", 100, 0, True, wallet=shop.customer):
        if e["category"] == "receive":
            got.setdefault(e["address"], []).append(e["amount"])
    assert {p.destination: got[p.destination] for p in rows} == {
        rows[0].destination: [Decimal("0.3")],
        rows[1].destination: [Decimal("0.04")],
    }
