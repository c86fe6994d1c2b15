"""The built-in Dogecoin backend (Dogecoin Core 1.14), registered like any plugin."""

from transient import hookimpl

from .bitcoind import BitcoindBackend


class DogecoinBackend(BitcoindBackend):
    """Dogecoin Core 1.14: Bitcoin Core 0.14's wallet RPC.

    listsinceblock takes three params and has no ``removed`` (outputs of disconnected
    blocks are only seen again when the node re-lists them, so the sync loop must
    re-check unfinished receipts); an unknown cursor silently lists the whole wallet,
    so the cursor is checked with getblockheader in the same batch. getnewaddress
    takes an account only (P2PKH), and setaccount labels an address; entries carry
    ``account`` and no ``blockheight``. Watch-only keys are imported address by
    address (importmulti with the public key), as 1.14 reads no descriptors.
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
    SENDMANY_FEE_RATE = False  # 1.14's sendmany has no fee rate: its payouts are not sent by Transient yet


@hookimpl(trylast=True)
def transient_register_backends():
    return [DogecoinBackend]
