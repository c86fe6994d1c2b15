"""Watch-only keys: SLIP-132 prefixes, the BIP44/49/84 test vectors, descriptors with
checksums, and the keys that must refuse to start (naming the key, never quoting it).
The node's own derivation of the same keys: tests/regtest/test_watch_only.py."""

import pytest
from embit import base58

from transient import settings
from transient.chain import hdkeys
from transient.core.errors import ConfigError

# BIP44/49/84 vectors: the "abandon … about" mnemonic's account keys and first receive addresses.
XPUB44 = (
    "xpub6BosfCnifzxcFwrSzQiqu2DBVTshkCXacvNsWGYJVVhhawA7d4R5WSWGFNbi8Aw6ZRc1brxMyWMzG3DSSSSoekkudhUd9yLb6qx39T9nMdj"
)
YPUB49 = (
    "ypub6Ww3ibxVfGzLrAH1PNcjyAWenMTbbAosGNB6VvmSEgytSER9azLDWCxoJwW7Ke7icmizBMXrzBx9979FfaHxHcrArf3zbeJJJUZPf663zsP"
)
ZPUB84 = (
    "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs"
)
# BIP32 test vector 1, master private key: pasted by mistake.
XPRV = "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi"


def reprefix(key, version_hex):
    """The same key under another SLIP-132 prefix."""
    return base58.encode_check(bytes.fromhex(version_hex) + base58.decode_check(key)[4:])


@pytest.mark.parametrize(
    "key, derivation, want",
    [
        (XPUB44, "pkh", ["1LqBGSKuX5yYUonjxT5qGfpUsXKYYWeabA", "1Ak8PffB2meyfYnbXZR9EGfLfFZVpzJvQP"]),
        (YPUB49, "sh-wpkh", ["37VucYSaXLCAsxYyAPfbSi9eh4iEcbShgf", "3LtMnn87fqUeHBUG414p9CWwnoV6E2pNKS"]),
        (ZPUB84, "wpkh", ["bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"]),
    ],
)
def test_bip_vectors_give_the_wallets_receive_addresses(key, derivation, want):
    watch = hdkeys.parse("BTC", key, derivation)
    assert [watch.address(i, "main") for i in range(2)] == want
    assert [a for _, a, _ in watch.addresses(0, 2, "main")] == want


def test_slip132_prefixes_name_the_same_key():
    plain = hdkeys.parse("LTC", ZPUB84, "wpkh")
    for version in ("0488b21e", "04b24746", "019da462", "01b26ef6"):  # xpub zpub Ltub Mtub
        same = hdkeys.parse("LTC", reprefix(ZPUB84, version), "wpkh")
        assert same.address(5, "main") == plain.address(5, "main")
        assert same.address(0, "main").startswith("ltc1q")
    dgub = hdkeys.parse("DOGE", reprefix(XPUB44, "02facafd"))  # DOGE's default derivation: pkh
    assert dgub.derivation == "pkh" and dgub.address(0, "main").startswith("D")
    # The node reads plain xpub/tpub: the descriptor carries that, with the receive chain.
    assert plain.descriptor().startswith("wpkh(xpub6CatWdiZiodmUeTDp8LT5or8nmbKNcuyvz7WyksVFkKB4RHwCD3XyuvPEbvqAQY3r")
    assert plain.descriptor().endswith("/0/*)#kj7aqcx6")


def test_a_descriptor_reads_back_to_the_same_chain_and_its_checksum_is_checked():
    watch = hdkeys.parse("BTC", ZPUB84)
    again = hdkeys.parse("BTC", descriptor=watch.descriptor())
    assert again.address(3, "main") == watch.address(3, "main")
    with_origin = "wpkh([73C5DA0A/84'/0'/0']%s/0/*)" % reprefix(ZPUB84, "0488b21e")
    parsed = hdkeys.parse("BTC", descriptor=with_origin)
    assert parsed.address(0, "main") == "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
    assert parsed.descriptor().startswith("wpkh([73c5da0a/84h/0h/0h]xpub")
    body = watch.descriptor().split("#")[0]
    with pytest.raises(ConfigError, match="checksum is wrong"):
        hdkeys.parse("BTC", descriptor=body + "#aaaaaaaa")
    sh = hdkeys.parse("BTC", descriptor="sh(wpkh(%s/0/*))" % reprefix(YPUB49, "0488b21e"))
    assert sh.address(0, "main") == "37VucYSaXLCAsxYyAPfbSi9eh4iEcbShgf"


def test_network_is_checked_against_the_nodes_chain():
    watch = hdkeys.parse("LTC", ZPUB84)
    watch.check_network("main", "coins.LTC.xpub")
    with pytest.raises(ConfigError, match="coins.LTC.xpub: a mainnet key, but the LTC node runs regtest"):
        watch.check_network("regtest", "coins.LTC.xpub")
    test_key = hdkeys.parse("LTC", reprefix(ZPUB84, "045f1cf6"))  # vpub
    test_key.check_network("regtest", "coins.LTC.xpub")
    assert test_key.address(0, "regtest").startswith("rltc1q")
    with pytest.raises(ConfigError, match="testnet/regtest key, but the LTC node runs main"):
        test_key.check_network("main", "coins.LTC.xpub")


BAD = {
    "garbage": ("not-a-key", "not an extended public key"),
    "bad checksum": (ZPUB84[:-1] + ("t" if ZPUB84[-1] != "t" else "u"), "bad base58 or checksum"),
    "xprv": (XPRV, "PRIVATE key"),
    "tprv": (reprefix(XPRV, "04358394"), "PRIVATE key"),
    "zprv": (reprefix(XPRV, "04b2430c"), "PRIVATE key"),
    "another coin's key": (reprefix(XPUB44, "02facafd"), "a DOGE key"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_key_is_a_config_error_naming_the_key_and_never_quoting_it(tmp_path, name):
    key, message = BAD[name]
    path = tmp_path / "config.toml"
    path.write_text('[coins.LTC]\nbackend = "litecoin"\nrpc_url = "http://127.0.0.1:19443"\nxpub = "%s"\n' % key)
    with pytest.raises(ConfigError) as caught:
        settings.load(str(path), environ={})
    assert caught.value.field == "coins.LTC.xpub"
    assert str(caught.value).startswith("coins.LTC.xpub: ") and message in str(caught.value)
    assert key not in str(caught.value) and key[4:20] not in str(caught.value)


def test_settings_accept_a_good_key_and_refuse_segwit_on_dogecoin(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(
        '[coins.LTC]\nbackend = "litecoin"\nrpc_url = "http://x:1"\nxpub = "%s"\n'
        'derivation = "sh-wpkh"\ngap_limit = 50\n' % ZPUB84
    )
    config = settings.load(str(path), environ={})
    assert config.coins["LTC"]["derivation"] == "sh-wpkh" and config.coins["LTC"]["gap_limit"] == 50
    path.write_text(
        '[coins.DOGE]\nbackend = "dogecoin"\nrpc_url = "http://x:1"\nxpub = "%s"\nderivation = "wpkh"\n' % XPUB44
    )
    with pytest.raises(ConfigError, match="DOGE has no segwit"):
        settings.load(str(path), environ={})
    path.write_text(
        '[coins.LTC]\nbackend = "litecoin"\nrpc_url = "http://x:1"\nxpub = "%s"\ndescriptor = "x"\n' % ZPUB84
    )
    with pytest.raises(ConfigError, match="not both"):
        settings.load(str(path), environ={})
