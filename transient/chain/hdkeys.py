"""Watch-only keys: a merchant's extended public key (or output descriptor) read,
checked and derived into payment addresses, with no private key ever involved.

An ``xpub`` is an account-level key as wallets export it: payment addresses are its
receive chain ``<key>/0/i`` from i = 0. A ``descriptor`` names the chain itself
(``wpkh([d34db33f/84h/0h/0h]xpub…/0/*)``). SLIP-132 prefixes (ypub, zpub, vpub,
Ltub, Mtub, dgub…) are read and written to the node as the plain xpub/tpub it
knows. The elliptic-curve work is embit's (bench/hdkeys_libraries.py measures
why); the encodings and the network rules are here. embit loads on the first key read
(a worker without watch-only keys never needs its ~1 MB).

Errors are ConfigError naming the key; a message never holds the key's text, so a
private key pasted by mistake is not echoed or logged.
"""

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.errors import ConfigError

if TYPE_CHECKING:
    from embit.bip32 import HDKey

DERIVATIONS = ("wpkh", "sh-wpkh", "pkh")
DEFAULT_DERIVATION = {"BTC": "wpkh", "LTC": "wpkh", "DOGE": "pkh"}

# SLIP-132 version bytes: name -> (network class, coin or None for any, private?)
_VERSIONS = {
    "0488b21e": ("xpub", "main", None, False),
    "049d7cb2": ("ypub", "main", None, False),
    "04b24746": ("zpub", "main", None, False),
    "043587cf": ("tpub", "test", None, False),
    "044a5262": ("upub", "test", None, False),
    "045f1cf6": ("vpub", "test", None, False),
    "019da462": ("Ltub", "main", "LTC", False),
    "01b26ef6": ("Mtub", "main", "LTC", False),
    "02facafd": ("dgub", "main", "DOGE", False),
    "0488ade4": ("xprv", "main", None, True),
    "049d7878": ("yprv", "main", None, True),
    "04b2430c": ("zprv", "main", None, True),
    "04358394": ("tprv", "test", None, True),
    "044a4e28": ("uprv", "test", None, True),
    "045f18bc": ("vprv", "test", None, True),
    "019d9cfe": ("Ltpv", "main", "LTC", True),
    "01b26792": ("Mtpv", "main", "LTC", True),
    "02fac398": ("dgpv", "main", "DOGE", True),
}
_PLAIN = {"main": bytes.fromhex("0488b21e"), "test": bytes.fromhex("043587cf")}

# Address encodings per coin and node chain: (P2PKH version, P2SH version, bech32 hrp).
ADDRESS_PARAMS = {
    "BTC": {
        "main": (0x00, 0x05, "bc"),
        "test": (0x6F, 0xC4, "tb"),
        "signet": (0x6F, 0xC4, "tb"),
        "regtest": (0x6F, 0xC4, "bcrt"),
    },
    "LTC": {"main": (0x30, 0x32, "ltc"), "test": (0x6F, 0x3A, "tltc"), "regtest": (0x6F, 0x3A, "rltc")},
    "DOGE": {"main": (0x1E, 0x16, None), "test": (0x71, 0xC4, None), "regtest": (0x6F, 0xC4, None)},
}

_DESCRIPTOR = re.compile(
    r"^(?P<outer>wpkh|pkh|sh)\((?P<inner>wpkh\()?(?:\[(?P<origin>[0-9a-fA-F]{8}(?:/[0-9]+[hH']?)*)\])?"
    r"(?P<key>[1-9A-HJ-NP-Za-km-z]+)(?P<path>(?:/[0-9]+)*)/\*\)(?(inner)\))(?:#(?P<sum>[a-z0-9]{8}))?$"
)


@dataclass(frozen=True)
class WatchKey:
    """A receive chain: ``address(i)`` is the i-th payment address of ``currency``."""

    currency: str
    derivation: str  # wpkh | sh-wpkh | pkh
    network: str  # main | test: the key's network class
    chain: "HDKey"  # the public node whose children are the addresses
    key_text: str  # the key as the node reads it (xpub/tpub), with the path to the chain
    origin: str  # "[fingerprint/path]" or ""
    fingerprint: str  # hex BIP32 fingerprint of the account key (the one the merchant gave)

    def pubkey(self, index):
        """Return the compressed public key (33 bytes) of address ``index``."""
        return self.chain.child(index).key.sec()

    def address(self, index, chain_name):
        """Return address ``index`` encoded for the node's ``chain_name`` (main, test, regtest)."""
        return encode_address(self.currency, chain_name, self.derivation, self.pubkey(index))

    def addresses(self, start, count, chain_name):
        """Return ``[(index, address, pubkey hex)]`` for ``count`` indexes from ``start``."""
        out = []
        for i in range(start, start + count):
            sec = self.pubkey(i)
            out.append((i, encode_address(self.currency, chain_name, self.derivation, sec), sec.hex()))
        return out

    def descriptor(self):
        """Return the ranged output descriptor of the chain, with its checksum."""
        body = "%s%s/*" % (self.origin, self.key_text)
        if self.derivation == "sh-wpkh":
            desc = "sh(wpkh(%s))" % body
        else:
            desc = "%s(%s)" % (self.derivation, body)
        from embit.descriptor.checksum import checksum as _checksum

        return "%s#%s" % (desc, _checksum(desc))

    def check_network(self, chain_name, field):
        """Raise ConfigError when the key's network is not the node's ``chain_name``."""
        node = "main" if chain_name == "main" else "test"
        if node != self.network:
            raise ConfigError(
                "%s: a %s key, but the %s node runs %s"
                % (field, "mainnet" if self.network == "main" else "testnet/regtest", self.currency, chain_name),
                field=field,
            )


def parse(currency, xpub=None, derivation=None, descriptor=None, field="xpub"):
    """Return the :class:`WatchKey` of a coin's ``xpub`` (+ ``derivation``) or ``descriptor``.

    Raises ConfigError naming ``field`` for garbage, a bad checksum, a private key,
    a key of another coin, or an unsupported descriptor; never quoting the key.
    """
    if xpub and descriptor:
        raise ConfigError("%s: give xpub or descriptor, not both" % field, field=field)
    if descriptor:
        return _parse_descriptor(currency, descriptor.strip(), field)
    derivation = derivation or DEFAULT_DERIVATION.get(currency, "wpkh")
    if derivation not in DERIVATIONS:
        raise ConfigError("%s: derivation must be one of %s" % (field, ", ".join(DERIVATIONS)), field=field)
    _check_script(currency, derivation, field)
    account, network, _ = _read_key(currency, xpub.strip(), field)
    return WatchKey(
        currency, derivation, network, account.child(0), _plain(account, network) + "/0", "", _fingerprint(account)
    )


def _parse_descriptor(currency, text, field):
    match = _DESCRIPTOR.match(text)
    if not match or (match["outer"] == "sh") != bool(match["inner"]):
        raise ConfigError(
            "%s: not a supported descriptor: wpkh(KEY/…/*), sh(wpkh(KEY/…/*)) or pkh(KEY/…/*),"
            " unhardened steps only" % field,
            field=field,
        )
    if match["sum"]:
        from embit.descriptor.checksum import checksum as _checksum

        if _checksum(text.split("#")[0]) != match["sum"]:
            raise ConfigError("%s: the descriptor's checksum is wrong" % field, field=field)
    derivation = "sh-wpkh" if match["outer"] == "sh" else match["outer"]
    _check_script(currency, derivation, field)
    key, network, _ = _read_key(currency, match["key"], field)
    node = key
    for step in match["path"].split("/")[1:]:
        node = node.child(int(step))
    origin = "[%s]" % match["origin"].lower().replace("'", "h").replace("H", "h") if match["origin"] else ""
    return WatchKey(
        currency, derivation, network, node, _plain(key, network) + match["path"], origin, _fingerprint(key)
    )


def _check_script(currency, derivation, field):
    if derivation != "pkh" and ADDRESS_PARAMS.get(currency, {}).get("main", (0, 0, "x"))[2] is None:
        raise ConfigError("%s: %s has no segwit: use derivation pkh" % (field, currency), field=field)


def _read_key(currency, text, field):
    """Return (HDKey, network class, prefix name) of an extended public key."""
    from embit import base58
    from embit.bip32 import HDKey

    try:
        raw = base58.decode_check(text)
    except Exception:  # noqa: BLE001 - embit raises several types for bad text
        raise ConfigError("%s: not an extended public key (bad base58 or checksum)" % field, field=field) from None
    if len(raw) != 78:
        raise ConfigError("%s: not an extended public key (wrong length)" % field, field=field)
    version = _VERSIONS.get(raw[:4].hex())
    if version is None:
        raise ConfigError("%s: unknown extended key prefix" % field, field=field)
    name, network, coin, private = version
    if private or raw[45] == 0:
        raise ConfigError(
            "%s: this is a PRIVATE key (%s…): give the account's public key (xpub), never the "
            "private one; treat the pasted key as exposed" % (field, name[:4]),
            field=field,
        )
    if coin is not None and coin != currency:
        raise ConfigError("%s: a %s key (%s) configured for %s" % (field, coin, name, currency), field=field)
    try:
        key = HDKey.parse(_PLAIN[network] + raw[4:])
    except Exception:  # noqa: BLE001 - an invalid point
        raise ConfigError("%s: not a valid extended public key" % field, field=field) from None
    return key, network, name


def _plain(key, network):
    from embit import base58

    return base58.encode_check(_PLAIN[network] + key.serialize()[4:])


def _fingerprint(key):
    from embit.hashes import hash160

    return hash160(key.key.sec())[:4].hex()


def encode_address(currency, chain_name, derivation, sec):
    """Return the address of public key ``sec`` for ``currency`` on ``chain_name``."""
    try:
        pkh_version, sh_version, hrp = ADDRESS_PARAMS[currency][chain_name]
    except KeyError:
        raise ConfigError(
            "xpub: no address encoding known for %s on %s" % (currency, chain_name), field="coins.%s.xpub" % currency
        ) from None
    from embit import base58, bech32
    from embit.hashes import hash160

    h160 = hash160(sec)
    if derivation == "pkh":
        return base58.encode_check(bytes([pkh_version]) + h160)
    if derivation == "wpkh":
        return bech32.encode(hrp, 0, h160)
    redeem = b"\x00\x14" + h160
    script_hash = hash160(redeem)
    return base58.encode_check(bytes([sh_version]) + script_hash)
