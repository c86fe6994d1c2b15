"""Transient plugin: the Bitcoin Core backend (tested on 30.0 and 28.3)."""

from transient.plugin import BitcoindBackend, hookimpl

__version__ = "0.1.0"


class BitcoinBackend(BitcoindBackend):
    """Bitcoin Core with a descriptor wallet: tested in regtest on 30.0, and on 28.3 for
    watch-only keys and ``transient doctor`` (docs/reference/nodes.md).

    listsinceblock takes (blockhash, target_confirmations, include_watchonly,
    include_removed, include_change); change outputs are left out. Descriptor wallets
    have no watch-only distinction: include_watchonly is accepted and ignored (30.0),
    ``getaddressinfo.iswatchonly`` is always false and a watched address is ``ismine``.
    Entries carry ``blockheight``, ``blocktime``, ``parent_descs``, ``abandoned`` (sends
    only), which the base class reads or ignores. The ``address_type`` option ("bech32",
    "bech32m", "p2sh-segwit", "legacy") goes to getnewaddress.

    Watch-only: a wallet without private keys (``createwallet`` ... ``descriptors=true``)
    and ``importdescriptors`` of the ranged descriptor, its range covering the one the
    wallet stored (Bitcoin Core tops an imported range up to its keypool, ``[0,999]``, and
    refuses a later range that does not include it). 30.0 has no legacy wallets:
    ``importaddress``, ``importmulti`` and ``createwallet descriptors=false`` are gone.
    """

    name = "bitcoin"
    currency = "BTC"
    uri_scheme = "bitcoin"
    max_money = 21_000_000 * 10**8

    EXTRA_SINCE_PARAMS = (False,)  # include_change


@hookimpl
def transient_register_backends():
    return [BitcoinBackend]
