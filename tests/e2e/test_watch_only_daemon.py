"""Watch-only keys as processes: transientd --check refusing bad keys (exit 2, one line,
the key never echoed), and `transient wallet init/status` against the regtest nodes (Dogecoin Core 1.14's one
wallet as well). The
daemon's payment flow in both modes: the parametrised tests of tests/e2e/test_e2e.py."""

import json
import os
import subprocess
import sys

import pytest
from _cli import as_json, one_line_error, run
from _daemon import ROOT, coin_config
from _watch import fresh_tpub
from embit import base58

from transient.chain import hdkeys
from transient.core.errors import RPCError

pytestmark = pytest.mark.regtest

ZPUB = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
XPRV = "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi"
TPRV = base58.encode_check(bytes.fromhex("04358394") + base58.decode_check(XPRV)[4:])


def daemon_check(tmp_path, text):
    (tmp_path / "config.toml").write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRANSIENT_")}
    env["TRANSIENT_DATABASE_URL"] = "sqlite:///%s" % (tmp_path / "t.db")
    env["TRANSIENT_DATABASE_AUTO_MIGRATE"] = "1"
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "transientd.py"), "--check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "key, words",
    [
        ("garbage", "coins.LTC.xpub: not an extended public key"),
        (ZPUB[:-1] + "t", "coins.LTC.xpub: not an extended public key (bad base58 or checksum)"),
        (XPRV, "coins.LTC.xpub: this is a PRIVATE key"),
        (TPRV, "coins.LTC.xpub: this is a PRIVATE key"),
        (ZPUB, "coins.LTC.xpub: a mainnet key, but the LTC node runs regtest"),  # checked against the node
    ],
    ids=["garbage", "bad-checksum", "xprv", "tprv", "wrong-network"],
)
def test_transientd_refuses_a_bad_key_with_exit_2(tmp_path, regtest, wallet, key, words):
    proc = daemon_check(tmp_path, coin_config(regtest, wallet) + 'xpub = "%s"\n' % key)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if " INFO " not in line]  # auto_migrate's
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    assert key not in proc.stderr and key[5:25] not in proc.stderr


def test_transientd_accepts_a_good_key(tmp_path, regtest, wallet):
    proc = daemon_check(tmp_path, coin_config(regtest, wallet) + 'xpub = "%s"\n' % fresh_tpub())
    assert proc.returncode == 0, proc.stderr


def test_wallet_init_and_status(tmp_path, regtest):
    name = "cliwatch_%d" % os.getpid()
    config = tmp_path / "config.toml"
    config.write_text(
        '[database]\nurl = "sqlite:///%s"\nauto_migrate = true\n' % (tmp_path / "w.db")
        + coin_config(regtest, name)
        + 'xpub = "%s"\naddress_pool = 10\ngap_limit = 5\n' % fresh_tpub("045f1cf6")
    )
    init = as_json(run("wallet", "init", "LTC", "--json", "--config", config))
    assert init["private_keys_enabled"] is False and init["import"] == "ranged"
    assert init["registered"] == [0, 15] and init["next_index"] == 10 and init["pooled"] == 10
    assert regtest.rpc("getwalletinfo", wallet=name)["private_keys_enabled"] is False
    first = regtest.rpc("deriveaddresses", init["descriptor"], [0, 0])[0]  # the node's own derivation
    assert regtest.rpc("getaddressinfo", first, wallet=name)["iswatchonly"] is True
    status = run("wallet", "status", "LTC", "--config", config)
    assert status.returncode == 0, status.stderr
    assert "fingerprint" in status.stdout and "indexes 0 to 14" in status.stdout and "gap" in status.stdout
    again = as_json(run("wallet", "init", "LTC", "--json", "--config", config))  # idempotent
    assert again["next_index"] == 10 and again["registered"] == [0, 15]
    doctor = run("doctor", "--no-roundtrip", "--config", config)
    assert "LTC watch-only key" in doctor.stdout and "the node derives the same addresses" in doctor.stdout, (
        doctor.stdout
    )
    # The CLI is the operator's: its reads show a payment's index and key fingerprint.
    made = as_json(
        run("payments", "create", "--offline", "--currency", "LTC", "--amount", "1", "--json", "--config", config)
    )
    shown = as_json(run("payments", "show", made["id"], "--json", "--config", config))
    listed = as_json(run("payments", "list", "--json", "--config", config))["payments"]
    assert {(p["derivation_index"], p["key_fingerprint"]) for p in (made, shown, *listed)} == {(0, init["fingerprint"])}


def test_wallet_init_on_dogecoinds_one_wallet(tmp_path, doge_node):
    """Dogecoin Core 1.14: no wallet name (one wallet per node), no multiwallet RPC; the
    key's addresses are watched and the node holds no key to them. Payments to them on
    this node: tests/e2e/test_coins_e2e.py (test_watch_only_wallet_init_and_payments)."""
    database = '[database]\nurl = "sqlite:///%s"\nauto_migrate = true\n' % (tmp_path / "w.db")
    key = fresh_tpub()
    coins = coin_config(doge_node, None, currency="DOGE", backend="dogecoin")
    coins += 'xpub = "%s"\naddress_pool = 10\ngap_limit = 5\n' % key
    named = tmp_path / "named.toml"
    named.write_text(database + coins + 'wallet = "shop"\n')
    line = one_line_error(run("wallet", "init", "DOGE", "--config", named), 2)
    assert "coins.DOGE.wallet: Dogecoin Core 1.14 has one wallet per node" in line
    doctor = run("doctor", "--json", "--config", named)
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert doctor.returncode == 2 and checks["DOGE backend"]["status"] == "fail", doctor.stdout
    assert checks["DOGE backend"]["fix"] == "correct coins.DOGE.wallet", checks
    config = tmp_path / "config.toml"
    config.write_text(database + coins)
    init = as_json(run("wallet", "init", "DOGE", "--json", "--config", config))
    assert (init["wallet"], init["private_keys_enabled"], init["import"]) == (None, None, "addresses")
    assert init["watch_only"].startswith("no private key to the payment addresses (indexes 0, 9, 14")
    assert init["registered"] == [0, 15] and init["next_index"] == 10 and init["pooled"] == 10
    again = run("wallet", "init", "DOGE", "--config", config)  # idempotent, and said for a person
    assert again.returncode == 0 and "the node's one wallet" in again.stdout, again.stderr
    assert "indexes 0 to 14" in again.stdout
    watch = hdkeys.parse("DOGE", key)
    for index in (0, 14):  # the node watches the address and holds no key to it
        address = watch.address(index, "regtest")
        assert doge_node.rpc("validateaddress", address)["iswatchonly"] is True
        with pytest.raises(RPCError, match="is not known"):
            doge_node.rpc("dumpprivkey", address)
    report = json.loads(run("doctor", "--json", "--no-roundtrip", "--config", config).stdout)
    checks = {c["name"]: (c["status"], c["detail"]) for c in report["checks"]}
    assert checks["DOGE watch-only"][0] == "ok" and "no private key" in checks["DOGE watch-only"][1], checks
    assert "the node watches the same addresses" in checks["DOGE watch-only key"][1], checks
    txs = doge_node.rpc("getwalletinfo")["txcount"]
    assert checks["DOGE wallet"] == ("ok", "the node's one wallet loaded, %d transaction(s)" % txs), checks
    assert report["ok"] is True, checks
