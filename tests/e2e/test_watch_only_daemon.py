"""Watch-only keys as processes: transientd --check refusing bad keys (exit 2, one line,
the key never echoed), and `transient wallet init/status` against the regtest node. The
daemon's payment flow in both modes: the parametrised tests of tests/e2e/test_e2e.py."""

import os
import subprocess
import sys

import pytest
from _cli import as_json, run
from _daemon import ROOT, coin_config
from _watch import fresh_tpub
from embit import base58

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
