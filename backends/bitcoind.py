"""The bitcoind-family backend: what Bitcoin, Litecoin and Dogecoin Core have in common.

Subclasses set a name and a few class attributes for what their node differs in
(docs/ARCHITECTURE.md, "Node facts"). RPC calls per ``changes_since``: one in the common case
(listsinceblock alone; nodes that do not reject an unknown cursor get getblockheader of
the cursor in the same HTTP batch). The new tip's height comes from the cursor when no
block arrived, else from a confirmed entry of the listing; only a new block with no
wallet transaction in it costs one getblockheader more. One more listing when the cursor
is unknown on a node that rejects it (the listing is then made again from the beginning).
"""

import datetime
import logging

from transient.chain.backend import ChainTip, Changes, CoinBackend, Output, TxState
from transient.core import money
from transient.core.errors import ConfigError, NodeTimeout, RPCError

from . import sending
from .probe import NotifyProbe
from .rpc import RPCClient

NOT_FOUND = -5  # RPC_INVALID_ADDRESS_OR_KEY: unknown block hash or wallet txid
WALLET_NOT_FOUND = -18  # RPC_WALLET_NOT_FOUND: loadwallet of a wallet that does not exist
DESCRIPTOR_RANGE_LIMIT = 1_000_000  # Bitcoin Core: "Range is too large" from a million indexes on
WATCH_BATCH = 500  # addresses per importmulti on nodes without descriptors
KNOWN_TIPS = 16  # block heights remembered, so an unchanged tip costs no RPC call
log = logging.getLogger("transient.sync")


class BitcoindBackend(NotifyProbe, CoinBackend):
    """Base for bitcoind-family nodes; not registered itself (``name`` is None).

    Options read: ``rpc_url`` (required), ``rpc_user``, ``rpc_password``,
    ``rpc_cookie_file``, ``wallet``, ``rpc_timeout`` (seconds), ``rpc_busy_timeout``
    (seconds: the listing's second chance after a timeout), ``address_type``.
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
    #: How watch-only keys are imported: "auto" (by the wallet: importdescriptors or the
    #: ranged descriptor in importmulti) or "addresses" (importmulti of each address and key).
    WATCH_IMPORT = "auto"
    #: The node serves several wallets (``/wallet/<name>``, listwallets, createwallet);
    #: Dogecoin 1.14 has one wallet per node and none of these.
    MULTIWALLET = True

    def __init__(self, currency, options, rpc=None):
        super().__init__(currency, options)
        self.rpc = rpc or self._client(options, currency=currency)
        # The listings come on a new connection each: a reply of many TCP segments on a
        # kept-alive one stalls ~40 ms (the node's Nagle against our delayed ACK), which
        # cost a sync of 100 new txs 60 ms instead of 17; a loopback connect costs 0.1 ms
        # (bench/notify_burst.py measures both).
        self.listing_rpc = rpc or self._client(options, keep_alive=False, currency=currency)
        timeout = float(options.get("rpc_timeout", 10))
        self.busy_timeout = float(options.get("rpc_busy_timeout", 3 * timeout))
        self._chain = None
        self._heights = {}  # block hash -> height, of recent tips

    @staticmethod
    def _client(options, keep_alive=True, currency=None):
        if not options.get("rpc_url"):
            raise ConfigError("rpc_url is required", "rpc_url")
        return RPCClient(
            options["rpc_url"],
            options.get("rpc_user"),
            options.get("rpc_password"),
            cookie_file=options.get("rpc_cookie_file"),
            wallet=options.get("wallet"),
            timeout=float(options.get("rpc_timeout", 10)),
            keep_alive=keep_alive,
            currency=currency,
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
        chain, net, wallet = self.rpc.batch([("getblockchaininfo", []), ("getnetworkinfo", []), ("getwalletinfo", [])])
        return {
            "chain": chain["chain"],
            "blocks": chain["blocks"],
            "bestblockhash": chain["bestblockhash"],
            "version": net["version"],
            "subversion": net.get("subversion"),
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
        if info.get("ismine") is None:  # newer nodes answer ismine in getaddressinfo only
            info = self.rpc.call("getaddressinfo", address)
        # A watch-only wallet watches its addresses without owning a key to them.
        return bool(info.get("ismine") or info.get("iswatchonly"))

    def valid_address(self, address):
        return bool(self.rpc.call("validateaddress", address).get("isvalid"))

    # -- payouts (backends/sending.py) ------------------------------------------

    #: sendmany takes an explicit fee rate (Bitcoin Core, Litecoin Core 0.21+).
    SENDMANY_FEE_RATE = True
    #: walletcreatefundedpsbt and friends (Bitcoin Core, Litecoin Core; not Dogecoin Core 1.14).
    PSBT = True

    def send_many(self, outputs, comment, fee_rate):
        if not self.SENDMANY_FEE_RATE:
            raise NotImplementedError("%s: sendmany takes no fee rate on this node" % self.currency)
        return sending.send_many(self.rpc, outputs, comment, fee_rate, self.decimals)

    def fee_estimate(self, conf_target):
        return sending.estimate(self.rpc, conf_target, self.decimals)

    def find_sent(self, comment, since_unix, exclude=()):
        return sending.find_sent(self.rpc, comment, since_unix, exclude)

    def tx_state(self, txid):
        return sending.tx_state(self.rpc, txid)

    def tx_fee(self, txid):
        return sending.tx_fee(self.rpc, txid, self.decimals)

    def fund_psbt(self, outputs, fee_rate, change_address):
        return sending.fund_psbt(self.rpc, outputs, fee_rate, change_address, self.decimals)

    def psbt_txid(self, psbt):
        return sending.psbt_txid(self.rpc, psbt)

    def check_signed_psbt(self, unsigned, signed, outputs):
        return sending.check_signed(self.rpc, unsigned, signed, outputs, self.decimals)

    def broadcast(self, raw):
        return sending.broadcast(self.rpc, raw)

    def watch_addresses(self, addresses):
        descriptors = bool(self.rpc.call("getwalletinfo").get("descriptors"))
        return sending.watch(self.rpc, list(addresses), descriptors)

    def _address_params(self, label):
        params = [label or ""]
        if self.HAS_ADDRESS_TYPE and self.options.get("address_type"):
            params.append(self.options["address_type"])
        return params

    # -- watch-only keys (addresses derived by Transient, watched by the node) ----

    def create_watch_wallet(self, name):
        """Load the node's wallet ``name``, or create it without private keys (a descriptor
        wallet where the node has them, else a legacy one); return its getwalletinfo.
        Raises ConfigError when that wallet can hold private keys, NodeError otherwise."""
        if name not in self.rpc.call("listwallets"):
            try:
                self.rpc.call("loadwallet", name)
            except RPCError as exc:
                if exc.rpc_code != WALLET_NOT_FOUND:
                    raise
                self._create_keyless(name)
        info = self.rpc.call("getwalletinfo")
        self._keyless(info)
        return info

    def _create_keyless(self, name):
        # createwallet name disable_private_keys blank passphrase avoid_reuse descriptors load_on_startup
        try:
            self.rpc.call("createwallet", name, True, True, "", False, True, True)
        except RPCError as exc:
            # Litecoin Core 0.21 as Debian builds it: "Compiled without sqlite support".
            if "sqlite" not in exc.message.lower() and "descriptor" not in exc.message.lower():
                raise
            self.rpc.call("createwallet", name, True, True, "", False, False, True)

    def watch_only(self, addresses):
        """Return a sentence saying why the wallet is watch-only for ``addresses`` (``[(index,
        address)]`` of the key, registered); raise ConfigError when it holds a key to them."""
        info = self._keyless(self.rpc.call("getwalletinfo"))
        return "the wallet %r holds no private key (private_keys_enabled false)" % info.get("walletname")

    def _keyless(self, info):
        if info.get("private_keys_enabled", True):
            raise ConfigError(
                "coins.%s.wallet: the node's wallet %r can hold private keys: name a new wallet "
                "for the watch-only key" % (self.currency, info.get("walletname")),
                "coins.%s.wallet" % self.currency,
            )
        return info

    def watch_import(self):
        """Return how this wallet imports watch-only keys: "descriptors" (importdescriptors),
        "ranged" (importmulti of the ranged descriptor) or "addresses" (importmulti of each)."""
        if self.WATCH_IMPORT != "auto":
            return self.WATCH_IMPORT
        return "descriptors" if self.rpc.call("getwalletinfo").get("descriptors") else "ranged"

    def register_watch(self, watch, start, end, chain_name):
        """Make the node's wallet watch indexes ``start`` to ``end - 1`` of ``watch`` (a
        :class:`~transient.chain.hdkeys.WatchKey`), with no rescan: they were never
        handed out. Return the end (exclusive) of the range the node now watches when it
        is known to reach further (None otherwise). Raises NodeError when the node
        refuses any of it."""
        mode = self.watch_import()
        if mode == "descriptors":
            return self._import_descriptor(watch, end)
        if mode == "ranged":
            request = [
                {
                    "desc": watch.descriptor(),
                    "range": [start, end - 1],
                    "timestamp": "now",
                    "watchonly": True,
                    "keypool": False,
                }
            ]
            _check_items(self.rpc.call("importmulti", request, {"rescan": False}), "importmulti")
            return None
        for first in range(start, end, WATCH_BATCH):
            request = [
                {"scriptPubKey": {"address": address}, "pubkeys": [pubkey], "timestamp": "now", "watchonly": True}
                for _, address, pubkey in watch.addresses(first, min(WATCH_BATCH, end - first), chain_name)
            ]
            _check_items(self.rpc.call("importmulti", request, {"rescan": False}), "importmulti")
        return None

    def _import_descriptor(self, watch, end):
        """importdescriptors of the ranged descriptor from index 0 to past ``end - 1`` and
        the range the wallet holds: Bitcoin Core stores an imported range topped up to its
        keypool (``[0,999]`` by default) and refuses a later import of the descriptor
        whose range does not include the stored one (28: -8, 30: -4 "new range must
        include current range")."""
        stored = self.stored_range(watch)
        last = max(end - 1, stored[1] if stored else 0)
        # From index 0 where the node's range limit allows (what a restored wallet watches).
        first = max(0, last - DESCRIPTOR_RANGE_LIMIT + 1)
        if stored:
            first = min(first, stored[0])
        # No label: Bitcoin Core refuses a ranged descriptor with one (even "").
        request = [
            {"desc": watch.descriptor(), "range": [first, last], "timestamp": "now", "active": False, "internal": False}
        ]
        _check_items(self.rpc.call("importdescriptors", request), "importdescriptors")
        stored = self.stored_range(watch)  # the node's top-up: nothing to import until past it
        return max(last, stored[1] if stored else 0) + 1

    def stored_range(self, watch):
        """The ``[first, last]`` index range the wallet holds for ``watch``'s descriptor
        (listdescriptors), or None when it holds none."""
        ours = self.rpc.call("getdescriptorinfo", watch.descriptor())["descriptor"].partition("#")[0]
        for entry in self.rpc.call("listdescriptors")["descriptors"]:
            if entry["desc"].partition("#")[0] == ours:
                return entry.get("range")
        return None

    def watched_end(self, watch, start, chain_name):
        """The end (exclusive, at least ``start``) of the key's indexes the wallet watches:
        a descriptor wallet's stored range (topped up to its keypool: a gap, never a
        reuse); else the addresses imported one range after another from index 0, so the
        first one the wallet does not know, found by doubling then halving steps from
        ``start`` (about two RPC calls per doubling). The wallet's history is inside it:
        a wallet lists only receipts to addresses it watches."""
        if self.watch_import() == "descriptors":
            stored = self.stored_range(watch)
            return max(start, stored[1] + 1 if stored else 0)
        low, step = start, 1  # every index below low is watched (or below start)
        while self.owns(watch.address(low + step - 1, chain_name)):
            low, step = low + step, step * 2
        high = low + step - 1  # not watched
        while low < high:
            middle = (low + high) // 2
            if self.owns(watch.address(middle, chain_name)):
                low = middle + 1
            else:
                high = middle
        return low

    def verify_watch(self, watch, chain_name, count=3):
        """Return None when the node derives (or watches) the same first ``count`` addresses
        as Transient, else a sentence saying what differs."""
        ours = [a for _, a, _ in watch.addresses(0, count, chain_name)]
        if self.watch_import() != "addresses":
            theirs = self.rpc.call("deriveaddresses", watch.descriptor(), [0, count - 1])
            return None if theirs == ours else "the node derives %s, Transient %s" % (theirs[0], ours[0])
        info = self.rpc.call("validateaddress", ours[0])
        if "iswatchonly" not in info:  # newer nodes answer it in getaddressinfo only
            info = self.rpc.call("getaddressinfo", ours[0])
        if not info.get("iswatchonly"):
            return "the node does not watch %s (index 0): run `transient wallet init %s`" % (ours[0], self.currency)
        if info.get("pubkey") and info["pubkey"] != watch.pubkey(0).hex():
            return "the node holds another public key for %s" % ours[0]
        return None

    # -- sync ----------------------------------------------------------------

    def changes_since(self, cursor):
        """Return :class:`Changes` since ``cursor``, listed with the cursor at the tip
        (target_confirmations=1): the caller derives later confirmations from heights.

        Outputs in ``removed`` carry the node's current confirmations, negative when
        the transaction now conflicts with the main chain.
        """
        listing, cursor_known, stale = self._list_since(cursor)
        tip = self._tip_of(listing)
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
        replies = self.rpc.batch(
            [("gettransaction", [t, True]) for t in txids] + [("getblockcount", [])], return_errors=True
        )
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
        """Return (listing, cursor_known, stale_cursor): one RPC call in the common case."""
        check = bool(cursor) and self.UNKNOWN_CURSOR == "lists_all"
        calls = [self._since_call(cursor)]
        if check:
            calls.append(("getblockheader", [cursor]))
        replies = self._listing_batch(calls)
        listing = replies[0]
        stale = False
        if check:
            unknown = _not_found(replies[1])
            if not unknown:
                # confirmations -1: the cursor block was reorganised out of the main chain.
                stale = _raise_any(replies[1])["confirmations"] < 0
        else:
            unknown = bool(cursor) and _not_found(listing)
        if unknown and isinstance(listing, RPCError):
            # The node refused the cursor: list again from the beginning.
            listing = self._listing_batch([self._since_call(None)])[0]
        # A node that lists everything for an unknown cursor already gave the whole wallet.
        return _raise_any(listing), not unknown, stale

    def _listing_batch(self, calls):
        """Send the listing; a node that took it but did not answer in time is busy
        (connecting a block of many wallet transactions), not down: ask once more at
        once with a longer deadline (``rpc_busy_timeout``) rather than back off."""
        try:
            return self.listing_rpc.batch(calls, return_errors=True)
        except NodeTimeout as exc:
            log.info("%s: %s; asking again with %ss", self.currency, exc, self.busy_timeout)
            return self.listing_rpc.batch(calls, return_errors=True, timeout=self.busy_timeout)

    def note_tip(self, tip):
        if tip.hash and tip.height is not None:
            self._remember(tip.hash, tip.height)

    def _remember(self, block_hash, height):
        self._heights[block_hash] = height
        while len(self._heights) > KNOWN_TIPS:
            self._heights.pop(next(iter(self._heights)))

    def _tip_of(self, listing):
        """The listing's ``lastblock`` (the wallet's tip) and its height, without a
        getblockchaininfo: known when it is the cursor (no new block), read off a
        confirmed entry (blockheight + confirmations - 1, both taken under the
        wallet's lock with ``lastblock``), else one getblockheader."""
        lastblock = listing["lastblock"]
        height = self._heights.get(lastblock)
        if height is None:
            height = _height_from_entries(listing["transactions"])
        if height is None:
            height = self.rpc.call("getblockheader", lastblock)["height"]
        self._remember(lastblock, height)
        return ChainTip(lastblock, height)

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
            txid=entry["txid"],
            output=self.output_id(entry),
            address=entry.get("address", ""),
            amount=money.from_node(entry["amount"], self.decimals),
            confirmations=confs,
            block_hash=block_hash,
            block_height=block_height,
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


def _height_from_entries(entries):
    """The tip height a listing's confirmed entries imply, or None (none confirmed, or
    a node whose entries carry no ``blockheight``: Dogecoin 1.14)."""
    for entry in entries:
        confs, height = entry.get("confirmations", 0), entry.get("blockheight")
        if isinstance(height, int) and confs > 0:
            return height + confs - 1
    return None


def _not_found(reply):
    return isinstance(reply, RPCError) and reply.rpc_code == NOT_FOUND


def _raise_any(reply):
    if isinstance(reply, RPCError):
        raise reply
    return reply


def _check_items(replies, method):
    """Raise RPCError for the first refused item: the call succeeds even when items fail."""
    for reply in replies:
        if not reply.get("success"):
            error = reply.get("error") or {}
            raise RPCError(
                "%s refused: %s" % (method, error.get("message", "no reason given")), error.get("code"), method
            )
