"""The coin backend interface: what the sync loop and the API need from a coin node."""

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..core.money import format_amount


@dataclass(frozen=True)
class ChainTip:
    hash: str
    height: int


@dataclass(frozen=True, slots=True)
class Output:
    """One wallet output seen by the node (a ``receive`` entry of listsinceblock).

    ``output`` identifies the output within the transaction: the vout index as a
    decimal string ("0", "1"), or ``"mweb:<id>"`` for a Litecoin MWEB output.
    ``confirmations`` is as the node reports it: 0 in the mempool, negative when
    the transaction conflicts with one in the main chain. ``block_height`` is set
    when the output is in a block of the main chain. ``seen_at`` is when the node's
    wallet first saw the transaction (naive UTC), so funds that reached the node
    in time count as in time even if Transient learns of them later.
    """

    txid: str
    output: str
    address: str
    amount: int
    confirmations: int
    block_hash: str | None = None
    block_height: int | None = None
    label: str | None = None
    seen_at: datetime.datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.txid, self.output)


@dataclass(frozen=True)
class TxState:
    """Where a wallet transaction stands now (see :meth:`CoinBackend.recheck`)."""

    txid: str
    confirmations: int
    block_hash: str | None = None
    block_height: int | None = None


@dataclass
class Changes:
    """What changed in the wallet since a cursor.

    ``tip`` is the chain tip the listing was made at (the new cursor).
    ``outputs`` are outputs whose state may have changed; ``removed`` are outputs
    that were in blocks disconnected since the cursor (a reorg) and that the node
    did not list again; they carry the node's current confirmations (negative:
    the transaction lost to a double spend). ``cursor_known`` is False when the
    node did not know the cursor block and the listing started from the beginning
    of the wallet. ``stale_cursor`` is True when a node that sends no ``removed``
    says the cursor block left the main chain (a reorg): the sync then rechecks
    the receipts of recent blocks that were not listed again.
    """

    tip: ChainTip
    outputs: list[Output] = field(default_factory=list)
    removed: list[Output] = field(default_factory=list)
    cursor_known: bool = True
    stale_cursor: bool = False


class CoinBackend:
    """Base class of coin backends.

    A backend class must define these class attributes:

    - ``name``: the backend name used in config (``backend = "dogecoin"``)
    - ``currency``: the currency code it is usually configured for ("DOGE")
    - ``uri_scheme``: the BIP21 URI scheme ("dogecoin")
    - ``max_money``: the largest amount a payment may ask for, in base units
    - ``decimals``: digits after the point of one coin (8 for all bitcoind-family coins)

    and implement these methods (see each docstring):
    ``network``, ``new_address``, ``new_addresses``, ``tip``, ``changes_since``,
    ``recheck``, ``ping``, ``close``.

    A backend is built with ``cls(currency, options)`` where ``options`` is the
    ``[coins.<CODE>]`` table of the config as a dict, and may keep a connection.
    It must be safe to call from several threads.
    """

    # None here: a subclass defines each (the plugin manager checks REQUIRED).
    name: ClassVar[str | None] = None
    currency: str | None = None  # the class's usual code; an instance's is the configured one
    uri_scheme: ClassVar[str | None] = None
    max_money: ClassVar[int | None] = None
    decimals: ClassVar[int] = 8

    REQUIRED: ClassVar[tuple[str, ...]] = ("name", "currency", "uri_scheme", "max_money")
    METHODS: ClassVar[tuple[str, ...]] = (
        "network",
        "new_address",
        "new_addresses",
        "tip",
        "changes_since",
        "recheck",
        "ping",
        "close",
    )

    options: dict[str, Any]

    def __init__(self, currency: str, options: dict[str, Any]) -> None:
        self.currency = currency
        self.options = options

    def network(self) -> str:
        """Return the node's chain: "main", "test" or "regtest" (read from the node)."""
        raise NotImplementedError

    def new_address(self, label: str | None = None) -> str:
        """Return a fresh receiving address from the node's wallet, labelled ``label``."""
        raise NotImplementedError

    def new_addresses(self, count: int, label: str | None = None) -> list[str]:
        """Return ``count`` fresh addresses, asked for in one batch."""
        raise NotImplementedError

    def set_labels(self, labels: Mapping[str, str]) -> None:
        """Label each address of ``{address: label}`` in the node's wallet, in one batch.

        Optional: the address pool hands pooled (unlabelled) addresses to payments
        with an ``account`` only when the backend has it, labelling them afterwards.
        """
        raise NotImplementedError

    def owns(self, address: str) -> bool | None:
        """Return True when the node's wallet owns ``address``, False when not, None
        when it cannot tell. Optional (the address pool checks its addresses with it)."""
        return None

    def watched_end(self, watch: Any, start: int, chain_name: str) -> int | None:
        """Return the end (exclusive, at least ``start``) of the watch-only key ``watch``'s
        receive indexes the node's wallet watches, looked for from ``start`` on, or None
        when it cannot tell. Optional (a restored copy's key skips past them)."""
        return None

    def valid_address(self, address: str) -> bool:
        """Return True when ``address`` is an address of this coin on the node's network
        (validateaddress): payouts refuse another coin's or network's. Optional."""
        raise NotImplementedError

    def send_many(self, outputs: Mapping[str, int], comment: str, fee_rate: Any) -> str:
        """Pay ``{address: base units}`` in one wallet transaction whose comment is
        ``comment`` at ``fee_rate`` (base units per vbyte, a Decimal); return its txid.
        Optional (payouts in node-wallet mode)."""
        raise NotImplementedError

    def fee_estimate(self, conf_target: int) -> Any:
        """Return the node's fee rate estimate (base units per vbyte) or None. Optional."""
        return None

    def find_sent(self, comment: str, since_unix: int, exclude: Sequence[str] = ()) -> str | None:
        """Return the txid of the wallet's send commented ``comment`` (made after
        ``since_unix``, not conflicted, not in ``exclude``), or None. Optional (payouts:
        a crash's batch is looked up first)."""
        raise NotImplementedError

    def tx_state(self, txid: str) -> tuple[int, str | None, int | None] | None:
        """Return ``(confirmations, block hash, block height)`` of a wallet transaction,
        or None when the wallet does not know it. Optional (payouts)."""
        raise NotImplementedError

    def tx_fee(self, txid: str) -> int | None:
        """Return the fee the wallet's transaction ``txid`` paid, in base units, or None
        when the wallet cannot tell (not its send). Optional (payouts: the fee column)."""
        return None

    def watch_addresses(self, addresses: Sequence[str]) -> list[str]:
        """Make the wallet watch ``addresses`` (payout destinations) from now on, without a
        rescan, so the listing shows whoever pays them; return those it took. Optional."""
        return []

    def tip(self) -> ChainTip:
        """Return the :class:`ChainTip` of the node's main chain."""
        raise NotImplementedError

    def changes_since(self, cursor: str | None) -> Changes:
        """Return :class:`Changes` since the block hash ``cursor`` (None: everything)."""
        raise NotImplementedError

    def note_tip(self, tip: ChainTip) -> None:
        """Hear of a block the caller knows (the stored cursor): a backend that would
        ask the node for that block's height may use it instead. Optional."""

    def recheck(self, txids: Sequence[str]) -> dict[str, TxState | None]:
        """Return ``{txid: TxState or None}`` (None: the wallet does not know it).

        The sync asks for unconfirmed outputs that a listing no longer shows: a
        receive whose transaction lost to a double spend drops out of
        listsinceblock instead of being listed with negative confirmations.
        """
        raise NotImplementedError

    def ping(self) -> dict[str, Any]:
        """Return a dict about the node (chain, blocks, version) or raise a NodeError."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections."""

    def payment_uri(self, address: str, amount_units: int | None = None) -> str:
        """Return the BIP21 URI for ``address`` and an optional amount in base units."""
        uri = "%s:%s" % (self.uri_scheme, address)
        if amount_units:
            uri += "?amount=%s" % format_amount(amount_units, self.decimals)
        return uri
