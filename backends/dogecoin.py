"""The built-in Dogecoin backend (Dogecoin Core 1.14), registered like any plugin."""

import secrets

from transient import hookimpl
from transient.core.errors import ConfigError, RPCError

from .bitcoind import BitcoindBackend, _raise_any

KEY_NOT_KNOWN = -4  # dumpprivkey: "Private key for address … is not known"
UNLOCK_NEEDED = -13  # dumpprivkey on an encrypted, locked wallet: validateaddress still tells


class DogecoinBackend(BitcoindBackend):
    """Dogecoin Core 1.14: Bitcoin Core 0.14's wallet RPC.

    listsinceblock takes three params and has no ``removed`` (outputs of disconnected
    blocks are only seen again when the node re-lists them, so the sync loop must
    re-check unfinished receipts); an unknown cursor silently lists the whole wallet,
    so the cursor is checked with getblockheader in the same batch. getnewaddress
    takes an account only (P2PKH), and setaccount labels an address; entries carry
    ``account`` and no ``blockheight``. Watch-only keys are imported address by
    address (importmulti with the public key), as 1.14 reads no descriptors.

    One wallet per node: no ``/wallet/<name>`` (HTTP 404), no listwallets, createwallet,
    loadwallet, getaddressinfo or generatetodescriptor (-32601). That wallet always holds
    keys of its own, so watch-only means "no key to any payment address": checked with
    dumpprivkey (-4, not known) and validateaddress (``iswatchonly``).
    """

    name = "dogecoin"
    currency = "DOGE"
    uri_scheme = "dogecoin"
    max_money = 10**10 * 10**8  # 10^18 koinu: beyond float precision

    HAS_INCLUDE_REMOVED = False
    HAS_ADDRESS_TYPE = False
    SET_LABEL = "setaccount"
    UNKNOWN_CURSOR = "lists_all"
    WATCH_IMPORT = "addresses"  # 1.14 has no descriptors: importmulti of each address and public key
    PSBT = False  # 1.14 has no PSBT: a watch-only coin's payouts are paid by the merchant, and detected
    SENDMANY_FEE_RATE = False  # 1.14's sendmany has no fee rate: its payouts are not sent by Transient yet
    MULTIWALLET = False

    def __init__(self, currency, options, rpc=None):
        if options.get("wallet"):
            # Every call would go to /wallet/<name>, which 1.14 answers with a bare HTTP 404.
            raise ConfigError(
                "coins.%s.wallet: Dogecoin Core 1.14 has one wallet per node and no wallet names:"
                " remove the setting" % currency,
                "coins.%s.wallet" % currency,
            )
        super().__init__(currency, options, rpc)

    # -- watch-only keys: the node's one wallet ---------------------------------------

    def create_watch_wallet(self, name):
        """Return the getwalletinfo of the node's one wallet: there is none to create, and
        no wallet-wide "no private keys" (see :meth:`watch_only`)."""
        if name:
            raise ConfigError(
                "coins.%s.wallet: Dogecoin Core 1.14 has one wallet per node: remove the setting" % self.currency,
                "coins.%s.wallet" % self.currency,
            )
        return self.rpc.call("getwalletinfo")

    def watch_only(self, addresses):
        """Check that the wallet watches ``addresses`` (``[(index, address)]``) and holds
        no key to any of them: validateaddress says ``iswatchonly`` and not ``ismine``,
        dumpprivkey says -4 (the key it would reveal is never kept or shown)."""
        addresses = list(addresses)
        replies = self.rpc.batch(
            [("validateaddress", [a]) for _, a in addresses] + [("dumpprivkey", [a]) for _, a in addresses],
            return_errors=True,
        )
        for (index, address), info, dump in zip(addresses, replies, replies[len(addresses) :]):
            info = _raise_any(info)
            if info.get("ismine") or not isinstance(dump, RPCError):
                raise ConfigError(
                    "coins.%s.xpub: the node's wallet holds the private key of payment address %s (index %d):"
                    " it is not watch-only; use a node whose wallet never imported the key's private keys"
                    % (self.currency, address, index),
                    "coins.%s.xpub" % self.currency,
                )
            if dump.rpc_code not in (KEY_NOT_KNOWN, UNLOCK_NEEDED):
                raise dump
            if not info.get("iswatchonly"):
                raise ConfigError(
                    "coins.%s.xpub: the node does not watch %s (index %d): run `transient wallet init %s`"
                    % (self.currency, address, index, self.currency),
                    "coins.%s.xpub" % self.currency,
                )
        return "no private key to the payment addresses (indexes %s: watch-only, dumpprivkey: not known)" % (
            ", ".join(str(i) for i, _ in addresses)
        )

    # -- the doctor's notify round trip (regtest) -----------------------------------

    def mine_test_block(self):
        """Mine with generatetoaddress (1.14 has no generatetodescriptor) to a fresh P2SH
        address no wallet watches: a 16-byte random push, OP_DROP, OP_TRUE."""
        script = "10%s7551" % secrets.token_hex(16)
        payee = self.rpc.call("decodescript", script)["p2sh"]
        block = self.rpc.call("generatetoaddress", 1, payee)[0]
        return {"hash": block, "height": self.rpc.call("getblockheader", block)["height"], "payee": payee}

    def wallet_test_transaction(self, block):
        """The node's one wallet watches the block's fresh payee (no rescan), rescans that
        block (walletnotify fires), then forgets the coinbase again (removeprunedfunds):
        the merchant's wallet keeps only a watched address no one pays again."""
        self.rpc.call("importaddress", block["payee"], "", False)
        self.rpc.call("rescan", block["height"])
        coinbase = self.rpc.call("getblock", block["hash"])["tx"][0]
        try:
            self.rpc.call("removeprunedfunds", coinbase)
        except RPCError:
            pass  # left in the wallet: an immature coinbase to a watched test address, never a payment
        return "the node's wallet"


@hookimpl(trylast=True)
def transient_register_backends():
    return [DogecoinBackend]
