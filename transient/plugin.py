"""The public module for plugin authors: everything a coin backend plugin imports.

    from transient.plugin import BitcoindBackend, hookimpl

    class MyCoinBackend(BitcoindBackend):
        name = "mycoin"
        currency = "MYC"
        uri_scheme = "mycoin"
        max_money = 21_000_000 * 10**8

    @hookimpl
    def transient_register_backends():
        return [MyCoinBackend]

A plugin is a package with an entry point in the ``transient`` group (see
docs/reference/plugins.md). ``CoinBackend`` is the interface and says what a
backend must define; ``BitcoindBackend`` implements it over a bitcoind-family
node's JSON-RPC; the value types are what a backend returns; the errors are what
it raises; ``from_node`` reads a node's JSON amount into base units exactly.
A fiat rate source plugin subclasses ``RateSource`` (raising ``SourceError``) and
returns it from ``transient_register_rate_sources``.
"""

from transient_backends.bitcoind import BitcoindBackend
from transient_backends.rpc import RPCClient

from . import hookimpl
from .chain.backend import ChainTip, Changes, CoinBackend, Output, TxState
from .core.errors import ConfigError, NodeAuthError, NodeBusy, NodeError, NodeTimeout, NodeUnreachable, RPCError
from .core.money import format_amount, from_node
from .rates.sources import RateSource, SourceError

__all__: list[str] = [
    "hookimpl",
    "CoinBackend",
    "BitcoindBackend",
    "RPCClient",
    "ChainTip",
    "Changes",
    "Output",
    "TxState",
    "ConfigError",
    "NodeError",
    "NodeTimeout",
    "NodeUnreachable",
    "NodeAuthError",
    "NodeBusy",
    "RPCError",
    "from_node",
    "format_amount",
    "RateSource",
    "SourceError",
]
