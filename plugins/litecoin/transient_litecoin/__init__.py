"""Transient plugin: the Litecoin Core (0.21) backend."""

from transient.plugin import BitcoindBackend, hookimpl

__version__ = "0.1.0"


class LitecoinBackend(BitcoindBackend):
    """Litecoin Core 0.21: Bitcoin Core 0.21's wallet RPC plus MWEB.

    An MWEB receive has ``mweb_out`` (the output id, hex) instead of ``vout``; its
    Output.output is ``"mweb:<id>"``. ``hogex`` (MWEB integration) entries are not
    receives and are skipped. A full RPC work queue answers HTTP 500, which the RPC
    client maps to NodeBusy. ``address_type`` may be "bech32", "p2sh-segwit",
    "legacy" or "mweb".
    """

    name = "litecoin"
    currency = "LTC"
    uri_scheme = "litecoin"
    max_money = 84_000_000 * 10**8

    def output_id(self, entry):
        if "mweb_out" in entry:
            return "mweb:" + entry["mweb_out"]
        return super().output_id(entry)


@hookimpl
def transient_register_backends():
    return [LitecoinBackend]
