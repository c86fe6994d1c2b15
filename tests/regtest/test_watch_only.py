"""Watch-only wallets on the real litecoind regtest node: a keyless legacy wallet (Debian's
0.21 has no descriptor wallets), the ranged descriptor in importmulti (LTC) and the
address-by-address importmulti on Dogecoin Core 1.14's one wallet (its own node: no key
to any payment address, dumpprivkey and validateaddress say so); addresses
that equal the node's own derivation; PENDING → PAID and back on a reorg; indexes never
handed out twice across two pools and a restart; the gap report. Key parsing and the
BIP vectors: tests/unit/test_hdkeys.py."""

import datetime
import os
import re
import threading
import uuid

import pytest
from _api import post
from _watch import fresh_tpub, watch_runtime
from embit.bip32 import HDKey
from embit.networks import NETWORKS
from falcon import testing

from transient.chain import hdkeys
from transient.core.clock import utcnow
from transient.core.errors import ConfigError, NodeError, RPCError
from transient.payments.pool import WatchPool
from transient.store.models import Payment
from transient_backends.dogecoin import DogecoinBackend
from transient_backends.rpc import RPCClient
from transient_litecoin import LitecoinBackend

pytestmark = pytest.mark.regtest


def backend(cls, node, wallet, currency):
    return cls(
        currency,
        {"rpc_url": node.rpc_url, "rpc_user": node.rpc_user, "rpc_password": node.rpc_password, "wallet": wallet},
    )


def test_litecoind_has_no_descriptor_wallets(regtest):
    with pytest.raises(RPCError, match="Compiled without sqlite support"):
        regtest.rpc("createwallet", "desc_" + uuid.uuid4().hex[:8], True, True, "", False, True)


def test_ltc_keyless_wallet_watches_the_ranged_descriptor_and_derives_what_the_node_derives(db, regtest, tmp_path):
    name = "watch_" + uuid.uuid4().hex[:8]
    ltc = backend(LitecoinBackend, regtest, name, "LTC")
    info = ltc.create_watch_wallet(name)
    assert info["private_keys_enabled"] is False and ltc.watch_import() == "ranged"
    watch = hdkeys.parse("LTC", fresh_tpub("045f1cf6"))  # a vpub: wpkh
    pool = WatchPool("LTC", ltc, db, 10, watch, gap_limit=5)
    assert pool.refill() == 10
    pooled = [(r.derivation_index, r.address) for r in pool_rows()]
    assert [i for i, _ in pooled] == list(range(10))
    theirs = regtest.rpc("deriveaddresses", watch.descriptor(), [0, 9])
    assert [a for _, a in pooled] == theirs and theirs[0].startswith("rltc1q")
    assert ltc.verify_watch(watch, "regtest") is None
    for _, address in (pooled[0], pooled[-1]):
        got = regtest.rpc("getaddressinfo", address, wallet=name)
        assert got["iswatchonly"] is True and got["ismine"] is False
        assert ltc.owns(address) is True
    # Registered ahead of the pool: index 14 (10 + gap_limit 5 - 1) is watched, 15 not yet.
    assert regtest.rpc("getaddressinfo", watch.address(14, "regtest"), wallet=name)["iswatchonly"] is True
    assert regtest.rpc("getaddressinfo", watch.address(15, "regtest"), wallet=name)["iswatchonly"] is False
    # No RPC can reveal a private key: there is none.
    with pytest.raises(RPCError, match="(?i)private key"):
        regtest.rpc("dumpprivkey", pooled[0][1], wallet=name)
    dump = tmp_path / "wallet.dump"
    regtest.rpc("dumpwallet", str(dump), wallet=name)
    lines = [line for line in dump.read_text().splitlines() if line and not line.startswith("#")]
    assert lines and all(line.startswith("0014") or " script=" in line or line.startswith("a914") for line in lines), (
        lines[:3]
    )  # scripts only: no WIF key line
    assert not [line for line in lines if re.match(r"^[c9][1-9A-HJ-NP-Za-km-z]{50} ", line)]
    ltc.close()


def doge_backend(node, **options):
    """The DOGE backend on the node's one wallet (no wallet name)."""
    return DogecoinBackend(
        "DOGE", {"rpc_url": node.rpc_url, "rpc_user": node.rpc_user, "rpc_password": node.rpc_password, **options}
    )


def test_doge_watch_only_on_the_nodes_one_wallet(db, doge_node, regtest):
    doge = doge_backend(doge_node)
    info = doge.create_watch_wallet(None)
    # Dogecoin Core 1.14: one wallet, no name and no wallet-wide private-key switch.
    assert "walletname" not in info and "private_keys_enabled" not in info and info["hdmasterkeyid"]
    assert doge.watch_import() == "addresses"
    watch = hdkeys.parse("DOGE", fresh_tpub())  # DOGE's default: pkh
    pool = WatchPool("DOGE", doge, db, 4, watch, gap_limit=2)
    assert pool.refill() == 4
    rows = pool_rows()
    assert [r.derivation_index for r in rows] == [0, 1, 2, 3]
    # Independently: litecoind's own pkh derivation (DOGE and LTC regtest share P2PKH version 111).
    ltc_desc = hdkeys.parse("LTC", descriptor=watch.descriptor()).descriptor()
    assert [r.address for r in rows] == regtest.rpc("deriveaddresses", ltc_desc, [0, 3])
    for index in (0, 3, 5):  # pooled, and registered ahead of the pool (4 + gap limit 2 - 1)
        address = watch.address(index, "regtest")
        got = doge_node.rpc("validateaddress", address)
        assert (got["iswatchonly"], got["ismine"], got["pubkey"]) == (True, False, watch.pubkey(index).hex())
        with pytest.raises(RPCError, match="Private key for address %s is not known" % address) as exc:
            doge_node.rpc("dumpprivkey", address)
        assert exc.value.rpc_code == -4
    assert doge_node.rpc("validateaddress", watch.address(6, "regtest"))["iswatchonly"] is False
    assert doge.verify_watch(watch, "regtest") is None
    assert "no private key to the payment addresses (indexes 0, 3, 5" in pool.check_watch_only()
    assert "does not watch" in doge.verify_watch(hdkeys.parse("DOGE", fresh_tpub()), "regtest")
    # A payment to a watched address: listed, not spendable by the node.
    txid = doge_node.pay(rows[1].address, "7.5")
    doge_node.mine(1)
    (unspent,) = doge_node.rpc("listunspent", 1, 9999999, [rows[1].address])
    assert (unspent["txid"], unspent["spendable"]) == (txid, False)
    doge.close()


def test_a_doge_wallet_name_is_refused_the_node_has_none(doge_node):
    with pytest.raises(ConfigError) as exc:
        doge_backend(doge_node, wallet="shop")
    assert exc.value.field == "coins.DOGE.wallet" and "one wallet per node" in exc.value.message
    # What the node answers there: a bare HTTP 404, which says nothing of why.
    with pytest.raises(NodeError, match="HTTP 404"):
        RPCClient(doge_node.rpc_url, doge_node.rpc_user, doge_node.rpc_password, wallet="shop").call("getwalletinfo")
    with pytest.raises(ConfigError, match="one wallet per node"):
        doge_backend(doge_node).create_watch_wallet("shop")


def test_a_doge_wallet_holding_a_payment_key_is_not_watch_only(db, doge_node):
    account = HDKey.from_seed(os.urandom(32), version=NETWORKS["test"]["xprv"]).derive("m/44h/1h/0h")
    watch = hdkeys.parse("DOGE", account.to_public().to_base58(version=NETWORKS["test"]["xpub"]))
    doge = doge_backend(doge_node)
    pool = WatchPool("DOGE", doge, db, 3, watch, gap_limit=2)
    pool.refill()
    assert pool.check_watch_only().startswith("no private key")
    wif = account.derive("m/0/2").key.wif(NETWORKS["regtest"])  # index 2: the last pooled
    doge_node.rpc("importprivkey", wif, "", False)
    with pytest.raises(ConfigError) as exc:
        pool.check_watch_only()
    assert "holds the private key of payment address %s (index 2)" % watch.address(2, "regtest") in exc.value.message
    assert wif not in exc.value.message and exc.value.field == "coins.DOGE.xpub"
    doge.close()


def pool_rows():
    from transient.store.models import PooledAddress

    return list(PooledAddress.select().order_by(PooledAddress.derivation_index))


def test_payments_get_derived_addresses_and_are_paid_and_reorged_like_node_wallet_ones(tmp_path, regtest):
    name = "watchpay_" + uuid.uuid4().hex[:8]
    key = fresh_tpub()
    runtime = watch_runtime(tmp_path, regtest, name, key)
    runtime.backends["LTC"].create_watch_wallet(name)
    client = testing.TestClient(runtime.app())
    watch = hdkeys.parse("LTC", key)
    made = [post(client, {"currency": "LTC", "amount": "1.5"}).json["payment"] for _ in range(3)]
    assert [p["derivation_index"] for p in made] == [0, 1, 2]
    assert {p["key_fingerprint"] for p in made} == {watch.fingerprint}
    assert [p["payment_address"] for p in made] == regtest.rpc("deriveaddresses", watch.descriptor(), [0, 2])
    # The full read shows the index (keys off: every caller may read in full), the public view does not.
    path = "/payments/%s" % made[0]["id"]
    full = client.simulate_get(path).json["payment"]
    assert (full["derivation_index"], full["key_fingerprint"]) == (0, watch.fingerprint)
    public = client.simulate_get(path, params={"view": "public"}).json["payment"]
    assert "derivation_index" not in public and "key_fingerprint" not in public
    sync = runtime.syncers["LTC"]
    regtest.pay(made[1]["payment_address"], "1.5")
    sync.run()
    assert status(made[1]) == "PENDING"
    regtest.mine(1)
    sync.run()
    assert status(made[1]) == "PAID"
    regtest.reorg(1)  # the block goes, the tx is back in the mempool
    sync.run()
    assert status(made[1]) == "PENDING"
    # Gap: index 0 unpaid, 1 paid, 2 unpaid: the longest unused run is 1.
    report = runtime.pools["LTC"].gap_report()
    assert report["gap"] == 1 and report["gap_ok"] and report["registered"][1] >= 3 + 3
    regtest.mine(1)
    runtime.close()


def status(payment):
    return Payment.get_by_id(uuid.UUID(payment["id"])).status


def test_two_pools_and_a_restart_never_hand_out_an_index_twice(tmp_path, regtest):
    name = "watchrace_" + uuid.uuid4().hex[:8]
    key = fresh_tpub()
    first = watch_runtime(tmp_path, regtest, name, key, pool=40)
    first.backends["LTC"].create_watch_wallet(name)
    # Another keeper on its own connection and node client (peewee: one connection per
    # thread), as a second worker has.
    other = backend(LitecoinBackend, regtest, name, "LTC")
    second = WatchPool("LTC", other, first.db, 40, hdkeys.parse("LTC", key), gap_limit=3)
    errors = []

    def refill(pool):
        try:
            for _ in range(3):
                pool.size += 40  # always below: take another batch each round
                pool.refill()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=refill, args=(p,)) for p in (first.pools["LTC"], second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    indexes = [r.derivation_index for r in pool_rows()]
    assert len(indexes) == len(set(indexes)) >= 120
    first.close()
    other.close()
    again = watch_runtime(tmp_path, regtest, name, key, pool=40)  # a restart
    client = testing.TestClient(again.app())
    taken = {post(client, {"currency": "LTC", "amount": "1"}).json["payment"]["derivation_index"] for _ in range(5)}
    assert taken <= set(indexes) and len(taken) == 5
    again.pools["LTC"].size = 200
    added = again.pools["LTC"].refill(low_water=1000)
    assert added == 200 - (len(indexes) - 5)
    assert len({r.derivation_index for r in pool_rows()}) == len(pool_rows()) == len(indexes) + added
    assert again.pools["LTC"].key_row().next_index == max(indexes) + 1 + added  # the restart went on, no reuse
    again.close()


def test_gap_report_after_paid_expired_and_unpaid_payments(tmp_path, regtest):
    name = "watchgap_" + uuid.uuid4().hex[:8]
    now = [utcnow()]
    runtime = watch_runtime(tmp_path, regtest, name, fresh_tpub(), pool=10, gap_limit=3, clock=lambda: now[0])
    runtime.backends["LTC"].create_watch_wallet(name)
    client = testing.TestClient(runtime.app())
    made = [
        post(client, {"currency": "LTC", "amount": "1", **({"expires_in": 600} if i in (2, 3) else {})}).json["payment"]
        for i in range(8)
    ]
    for i in (0, 5):
        regtest.pay(made[i]["payment_address"], "1")
    regtest.mine(1)
    now[0] += datetime.timedelta(hours=1)
    runtime.syncers["LTC"].run()
    assert [status(made[i]) for i in (0, 2, 3, 4, 5)] == ["PAID", "EXPIRED", "EXPIRED", "UNPAID", "PAID"]
    # Used: 0 and 5. Unused runs: 1-4 (4: two of them expired) and 6-7 (2).
    report = runtime.pools["LTC"].gap_report()
    assert (report["gap"], report["gap_limit"], report["gap_ok"]) == (4, 3, False)
    assert "Raise the wallet's gap limit" in report["advice"]
    health = client.simulate_get("/healthz").json["coins"]["LTC"]
    assert health["watch_only"]["gap"] == 4 and health["watch_only"]["gap_ok"] is False
    runtime.close()
