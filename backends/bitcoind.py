"""The bitcoind-family backend: what Bitcoin, Litecoin and Dogecoin Core have in common.

Subclasses set a name and a few class attributes for what their node differs in
(docs/ARCHITECTURE.md, "Node facts"). RPC round trips per ``changes_since``: one in the common case
(listsinceblock and getblockchaininfo in one HTTP batch, plus getblockheader of the
cursor for nodes that do not reject an unknown cursor); one more when a block
arrived between the two calls, and one more when the cursor is unknown on a node
that rejects it (the listing is then made again from the beginning).
"""
import datetime

from transient.core import money
from transient.chain.backend import Changes, ChainTip, CoinBackend, Output, TxState
from transient.core.errors import ConfigError, RPCError

from .rpc import RPCClient

NOT_FOUND = -5  # RPC_INVALID_ADDRESS_OR_KEY: unknown block hash or wallet txid


class BitcoindBackend(CoinBackend):
    """Base for bitcoind-family nodes; not registered itself (``name`` is None).

    Options read: ``rpc_url`` (required), ``rpc_user``, ``rpc_password``,
    ``rpc_cookie_file``, ``wallet``, ``rpc_timeout`` (seconds), ``address_type``.
    """

    #: listsinceblock takes include_removed (4th param) and answers with ``removed``.
    HAS_INCLUDE_REMOVED = True
    #: Further listsinceblock params after include_removed (Bitcoin Core: include_change).
    EXTRA_SINCE_PARAMS = ()
    #: getnewaddress takes an address type after the label.
    HAS_ADDRESS_TYPE = True
    #: The RPC that labels an address (Dogecoin 1.14 has accounts: setaccount).
    SET_LABEL = "setlabel"
    #: How the node treats a cursor hash it does not know: "error" (RPC error -5) or
    #: "lists_all" (lists the whole wallet without a word; checked with getblockheader).
    UNKNOWN_CURSOR = "error"

    def __init__(self, currency, options, rpc=None):
        super().__init__(currency, options)
        self.rpc = rpc or self._client(options)
        # The listings come on a new connection each: a reply of many TCP segments on a
        # kept-alive one stalls ~40 ms (the node's Nagle against our delayed ACK), which
        # cost a sync of 100 new txs 60 ms instead of 17; a loopback connect costs 0.1 ms
        # (bench/notify_burst.py measures both).
        self.listing_rpc = rpc or self._client(options, keep_alive=False)
        self._chain = None

    @staticmethod
    def _client(options, keep_alive=True):
        if not options.get("rpc_url"):
            raise ConfigError("rpc_url is required", "rpc_url")
        return RPCClient(
            options["rpc_url"], options.get("rpc_user"), options.get("rpc_password"),
            cookie_file=options.get("rpc_cookie_file"), wallet=options.get("wallet"),
            timeout=float(options.get("rpc_timeout", 10)), keep_alive=keep_alive,
        )

    # -- node ----------------------------------------------------------------

    def network(self):
        if self._chain is None:
            self._chain = self.rpc.call("getblockchaininfo")["chain"]
        return self._chain

    def tip(self):
        info = self.rpc.call("getblockchaininfo")
        return ChainTip(info["bestblockhash"], info["blocks"])

    def ping(self):
        chain, net, wallet = self.rpc.batch(
            [("getblockchaininfo", []), ("getnetworkinfo", []), ("getwalletinfo", [])])
        return {
            "chain": chain["chain"], "blocks": chain["blocks"], "bestblockhash": chain["bestblockhash"],
            "version": net["version"], "subversion": net.get("subversion"),
            "wallet": wallet.get("walletname"),
        }

    def close(self):
        self.rpc.close()
        self.listing_rpc.close()

    # -- addresses -----------------------------------------------------------

    def new_address(self, label=None):
        return self.rpc.call("getnewaddress", *self._address_params(label))

    def new_addresses(self, count, label=None):
        params = self._address_params(label)
        return self.rpc.batch([("getnewaddress", params)] * count)

    def set_labels(self, labels):
        self.rpc.batch([(self.SET_LABEL, [address, label]) for address, label in labels.items()])

    def owns(self, address):
        info = self.rpc.call("validateaddress", address)
        if not info.get("isvalid"):
            return False
        mine = info.get("ismine")
        if mine is None:  # newer nodes answer ismine in getaddressinfo only
            mine = self.rpc.call("getaddressinfo", address).get("ismine")
        return bool(mine)

    def _address_params(self, label):
        params = [label or ""]
        if self.HAS_ADDRESS_TYPE and self.options.get("address_type"):
            params.append(self.options["address_type"])
        return params

    # -- sync ----------------------------------------------------------------

    def changes_since(self, cursor):
        """Return :class:`Changes` since ``cursor``, listed with the cursor at the tip
        (target_confirmations=1): the caller derives later confirmations from heights.

        Outputs in ``removed`` carry the node's current confirmations, negative when
        the transaction now conflicts with the main chain.
        """
        listing, info, cursor_known, stale = self._list_since(cursor)
        tip = self._tip_of(listing, info)
        outputs = self._outputs(listing["transactions"], tip)
        listed = {o.key for o in outputs}
        # A node without include_removed never sends it (a newer node might by default).
        entries = listing.get("removed", ()) if self.HAS_INCLUDE_REMOVED else ()
        removed = [o for o in self._outputs(entries, tip) if o.key not in listed]
        return Changes(tip, outputs, removed, cursor_known, stale_cursor=stale)

    def recheck(self, txids):
        """Return ``{txid: TxState or None}`` for wallet transactions, in one batch.

        Needed because listsinceblock drops a *receive* whose transaction became
        conflicted (negative depth) unless its block was disconnected since the
        cursor; None means the wallet does not know the txid.
        """
        txids = list(txids)
        if not txids:
            return {}
        replies = self.rpc.batch([("gettransaction", [t, True]) for t in txids]
                                 + [("getblockcount", [])], return_errors=True)
        height = _raise_any(replies.pop())
        return {txid: self._tx_state(txid, reply, height) for txid, reply in zip(txids, replies)}

    def _tx_state(self, txid, reply, height):
        if _not_found(reply):
            return None
        confs = _raise_any(reply)["confirmations"]
        if confs <= 0:
            return TxState(txid, confs)
        return TxState(txid, confs, reply.get("blockhash"), reply.get("blockheight", height - confs + 1))

    def _since_call(self, cursor):
        # "" (not null) means "from the beginning": Dogecoin 1.14 cannot read a null hash.
        params = [cursor or "", 1, True]
        if self.HAS_INCLUDE_REMOVED:
            params += [True, *self.EXTRA_SINCE_PARAMS]
        return ("listsinceblock", params)

    def _list_since(self, cursor):
        """Return (listing, getblockchaininfo, cursor_known, stale_cursor), usually in one batch."""
        check = bool(cursor) and self.UNKNOWN_CURSOR == "lists_all"
        calls = [self._since_call(cursor), ("getblockchaininfo", [])]
        if check:
            calls.append(("getblockheader", [cursor]))
        replies = self.listing_rpc.batch(calls, return_errors=True)
        listing, info = replies[0], replies[1]
        stale = False
        if check:
            unknown = _not_found(replies[2])
            if not unknown:
                # confirmations -1: the cursor block was reorganised out of the main chain.
                stale = _raise_any(replies[2])["confirmations"] < 0
        else:
            unknown = bool(cursor) and _not_found(listing)
        if unknown and isinstance(listing, RPCError):
            # The node refused the cursor: list again from the beginning.
            listing, info = self.listing_rpc.batch([self._since_call(None), ("getblockchaininfo", [])])
        # A node that lists everything for an unknown cursor already gave the whole wallet.
        return _raise_any(listing), _raise_any(info), not unknown, stale

    def _tip_of(self, listing, info):
        lastblock = listing["lastblock"]
        if info["bestblockhash"] == lastblock:
            return ChainTip(lastblock, info["blocks"])
        # A block arrived between the two calls, or the wallet lags the chain.
        return ChainTip(lastblock, self.rpc.call("getblockheader", lastblock)["height"])

    def _outputs(self, entries, tip):
        return [o for o in (self.parse_entry(e, tip) for e in entries) if o is not None]

    def parse_entry(self, entry, tip):
        """Return the :class:`Output` of a listsinceblock entry, or None to skip it."""
        if entry.get("category") != "receive":
            return None  # send, generate, immature, orphan, hogex...
        confs = int(entry.get("confirmations", 0))
        block_hash = block_height = None
        if confs > 0:
            block_hash = entry.get("blockhash")
            block_height = entry.get("blockheight", tip.height - confs + 1)
        return Output(
            txid=entry["txid"], output=self.output_id(entry), address=entry.get("address", ""),
            amount=money.from_node(entry["amount"], self.decimals), confirmations=confs,
            block_hash=block_hash, block_height=block_height,
            label=entry.get("label", entry.get("account")),
            seen_at=_seen_at(entry),
        )

    def output_id(self, entry):
        """Return the Output.output of an entry: its vout as a string."""
        return str(entry["vout"])


def _seen_at(entry):
    """When the wallet first saw the entry: the earlier of ``time`` and ``timereceived``."""
    stamps = [t for t in (entry.get("time"), entry.get("timereceived")) if isinstance(t, int) and t > 0]
    if not stamps:
        return None
    return datetime.datetime.fromtimestamp(min(stamps), datetime.timezone.utc).replace(tzinfo=None)


def _not_found(reply):
    return isinstance(reply, RPCError) and reply.rpc_code == NOT_FOUND


def _raise_any(reply):
    if isinstance(reply, RPCError):
        raise reply
    return reply
