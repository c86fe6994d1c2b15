"""Watch-only payouts on real nodes (Bitcoin Core 28.3, Litecoin Core 0.21): the approved
payouts become one unsigned PSBT of the keyless wallet, downloaded through the API, signed
by a separate signer wallet on the node holding the keys, uploaded and checked (a PSBT of
another transaction is refused, nothing sent), broadcast, then completed by a block; the
customer's wallet shows each payout paid once."""

import base64
import itertools
import os
import re
from decimal import Decimal

import pytest
from _coins import keyless_wallet
from _dashboard import Browser
from _watch import create_keyless_wallet
from embit.bip32 import HDKey
from embit.networks import NETWORKS
from falcon import testing

from transient import settings
from transient.payouts import states
from transient.runtime import Runtime
from transient.store import migrations
from transient.store.payouts import Payout, PayoutBatch
from transient.store.users import AuditEntry

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


@pytest.mark.parametrize("node", ["LTC"], indirect=True, scope="module")  # the page is one for every coin
def test_a_manager_downloads_the_psbt_and_uploads_it_signed_in_the_dashboard(shop, node):
    """The dashboard's refunds page over the same Batches as the API: the unsigned PSBT as
    a BIP 174 file, the signed file uploaded, checked and broadcast; a viewer cannot. (The
    API test above runs on both nodes.)"""
    payment, _ = shop.payments.create({"currency": "LTC", "amount": "1"})
    node.pay(payment.address, "1")
    node.mine(1)
    destination = node.rpc("getnewaddress", "", wallet=shop.customer)
    payout, _ = shop.payouts.create({"currency": "LTC", "amount": "0.2", "destination": destination})
    shop.payouts.approve(payout.id)
    assert shop.payout_runner.round()
    batch = PayoutBatch.get(PayoutBatch.state == PayoutBatch.UNSIGNED)
    for email, role in (("manager@example.com", "manager"), ("viewer@example.com", "viewer")):
        shop.accounts.create_user(email, role, "correct horse battery")
    viewer, manager = Browser(shop.client), Browser(shop.client)
    viewer.sign_in("viewer@example.com", "correct horse battery")
    manager.sign_in("manager@example.com", "correct horse battery")
    url = "/dashboard/batches/%s/psbt" % batch.id
    page = viewer.get("/dashboard/refunds").text
    assert batch.id in page and url not in page  # listed, no button
    assert viewer.get(url).status_code == 403
    refused = viewer.upload(url, {"csrf": viewer.csrf(page)}, {"file": ("x.psbt", b"psbt\xff")})
    assert refused.status_code == 403
    page = manager.get("/dashboard/refunds").text
    assert 'href="%s"' % url in page and 'enctype="multipart/form-data"' in page
    download = manager.get(url)
    assert download.status_code == 200 and download.headers["content-type"] == "application/octet-stream"
    assert "attachment" in download.headers["content-disposition"] and download.content.startswith(b"psbt\xff")
    assert base64.b64encode(download.content).decode() == batch.psbt
    signed = node.rpc("walletprocesspsbt", base64.b64encode(download.content).decode(), wallet=shop.signer)
    assert signed["complete"]
    before = AuditEntry.select().count()
    garbage = manager.upload(url, {"csrf": manager.csrf(page)}, {"file": ("x.psbt", b"not a psbt at all")})
    assert garbage.status_code == 303 and "error=psbt" in garbage.headers["location"]
    unsigned = manager.upload(url, {"csrf": manager.csrf(page)}, {"file": ("x.psbt", download.content)})
    assert unsigned.status_code == 303 and "error=psbt" in unsigned.headers["location"]  # not signed
    forged = manager.upload(url, {}, {"file": ("x.psbt", base64.b64decode(signed["psbt"]))})
    assert forged.status_code == 403  # no CSRF token
    assert PayoutBatch.get_by_id(batch.id).state == PayoutBatch.UNSIGNED and AuditEntry.select().count() == before
    sent = manager.upload(
        url, {"csrf": manager.csrf(page)}, {"file": ("signed.psbt", base64.b64decode(signed["psbt"]))}
    )
    assert sent.status_code == 303 and sent.headers["location"].endswith("done=signed"), sent.headers
    stored = PayoutBatch.get_by_id(batch.id)
    assert stored.state == PayoutBatch.SENT and stored.txid == batch.txid
    after = manager.get(sent.headers["location"]).text
    assert 'id="done"' in after and "batch.submit" in after and "manager@example.com" in after
    assert re.search(r"batch.submit.*%s" % batch.txid, after, re.S)
    node.mine(1)
    assert shop.payout_runner.round()
    assert Payout.get_by_id(payout.id).state == states.COMPLETED
