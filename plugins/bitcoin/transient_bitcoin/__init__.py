"""Transient plugin: the Bitcoin Core (27-29) backend."""

from transient.plugin import BitcoindBackend, hookimpl

__version__ = "0.1.0"


class BitcoinBackend(BitcoindBackend):
    """Bitcoin Core 27-29 with a descriptor wallet.

    listsinceblock takes (blockhash, target_confirmations, include_watchonly,
    include_removed, include_change); change outputs are left out. Descriptor wallets
    have no watch-only distinction, so include_watchonly is harmless. Entries carry
    ``blockheight``, ``blocktime``, ``parent_descs``, ``abandoned`` (sends only),
    which the base class reads or ignores. The ``address_type`` option ("bech32",
    "bech32m", "p2sh-segwit", "legacy") goes to getnewaddress.
    """

    name = "bitcoin"
    currency = "BTC"
    uri_scheme = "bitcoin"
    max_money = 21_000_000 * 10**8

    EXTRA_SINCE_PARAMS = (False,)  # include_change


@hookimpl
def transient_register_backends():
    return [BitcoinBackend]
