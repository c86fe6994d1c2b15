"""Money leaving the node's wallet (payouts): one ``sendmany`` per batch with the batch's
id as the wallet transaction's comment, the search of the wallet for that comment (after
a crash, before anything is sent again) and the state of a sent transaction.

Functions of an RPC client, so each bitcoind-family backend keeps its thin methods.
"""

from decimal import ROUND_DOWN, Decimal

from transient.core import money
from transient.core.errors import RPCError

PAGE = 500  # listtransactions entries per call while searching for a batch


def send_many(rpc, outputs, comment, fee_rate, decimals=8, fee_rate_param=True):
    """Send ``{address: base units}`` in one transaction whose wallet comment is
    ``comment``, at ``fee_rate`` (base units per vbyte, a Decimal); return its txid.

    Bitcoin Core and Litecoin Core (0.21+) take the fee rate as sendmany's ``fee_rate``
    (sat/vB): the wallet pays exactly that rate, never its own estimate above it.
    """
    amounts = {address: money.to_decimal(units, decimals) for address, units in outputs.items()}
    params = ["", amounts, 1, comment]
    if fee_rate_param:
        rate = Decimal(fee_rate).quantize(Decimal("0.001"), rounding=ROUND_DOWN)
        # subtractfeefrom none, replaceable (a stuck batch can be bumped), no conf_target:
        # the explicit rate wins.
        params += [[], True, None, "unset", rate]
    return rpc.call("sendmany", *params)


def estimate(rpc, conf_target, decimals=8):
    """Return the node's fee estimate for ``conf_target`` blocks in base units per vbyte
    (a Decimal), or None when it has none (a fresh regtest chain has none)."""
    try:
        reply = rpc.call("estimatesmartfee", conf_target)
    except RPCError:
        return None
    rate = reply.get("feerate")
    if rate is None or rate <= 0:
        return None
    return Decimal(rate) * 10**decimals / 1000  # coin per kvB -> base units per vB


def find_sent(rpc, comment, since_unix, exclude=()):
    """Return the txid of the wallet's send whose comment is ``comment``, or None.

    Pages back through ``listtransactions`` (newest last in each page) until the entries
    are older than ``since_unix`` (when the batch was recorded, less a margin): a batch is
    sent after it is recorded, so nothing older can be it. ``exclude``: txids that do not
    count (a conflicted one: its replacement, a fee bump, carries the same comment).
    """
    skip = 0
    while True:
        page = rpc.call("listtransactions", "*", PAGE, skip, True)
        for entry in page:
            mine = entry.get("comment") == comment and entry.get("category") == "send"
            if mine and entry["txid"] not in exclude and entry.get("confirmations", 0) >= 0:
                return entry["txid"]
        if len(page) < PAGE or min(e.get("time", 0) for e in page) < since_unix:
            return None
        skip += PAGE


def tx_state(rpc, txid):
    """Return ``(confirmations, block hash, block height)`` of a wallet transaction, or
    None when the wallet does not know it. Confirmations are negative when it lost to a
    conflicting transaction in the main chain."""
    try:
        reply = rpc.call("gettransaction", txid, True)
    except RPCError as exc:
        if exc.rpc_code == -5:
            return None
        raise
    confs = reply["confirmations"]
    if confs <= 0:
        return confs, None, None
    height = reply.get("blockheight")
    if height is None:  # Dogecoin 1.14 gives no height: the block's header does
        height = rpc.call("getblockheader", reply["blockhash"])["height"]
    return confs, reply["blockhash"], height


def tx_fee(rpc, txid, decimals=8):
    """Return the fee the wallet's transaction ``txid`` paid (gettransaction's ``fee``,
    negative for a send) in base units, or None when the wallet does not know it or
    cannot tell (a transaction whose inputs are not all its own has no fee there)."""
    try:
        reply = rpc.call("gettransaction", txid, True)
    except RPCError as exc:
        if exc.rpc_code == -5:
            return None
        raise
    fee = reply.get("fee")
    return None if fee is None else money.from_node(-fee, decimals)


def watch(rpc, addresses, descriptors):
    """Make the wallet watch ``addresses`` (a payout's destination: whoever pays it, the
    listing shows it) from now on, with no rescan; return the addresses it took.

    A descriptor wallet imports ``addr()`` descriptors, which only one without private
    keys accepts (Bitcoin Core refuses watch-only descriptors in a wallet with keys: those
    are refused per item and not returned); a legacy wallet (Litecoin Core 0.21, Dogecoin
    Core 1.14) imports each address with importmulti.
    """
    if not addresses:
        return []
    if descriptors:
        infos = rpc.batch([("getdescriptorinfo", ["addr(%s)" % a]) for a in addresses])
        request = [{"desc": info["descriptor"], "timestamp": "now", "label": ""} for info in infos]
        replies = rpc.call("importdescriptors", request)
    else:
        request = [{"scriptPubKey": {"address": a}, "timestamp": "now", "watchonly": True} for a in addresses]
        replies = rpc.call("importmulti", request, {"rescan": False})
    return [a for a, reply in zip(addresses, replies) if reply.get("success")]


def fund_psbt(rpc, outputs, fee_rate, change_address, decimals=8):
    """Return an unsigned PSBT (base64) paying ``{address: base units}`` from the watch-only
    wallet's coins at ``fee_rate`` (base units per vbyte), change to ``change_address``."""
    amounts = [{address: money.to_decimal(units, decimals)} for address, units in outputs.items()]
    rate = Decimal(fee_rate).quantize(Decimal("0.001"), rounding=ROUND_DOWN)
    options = {"fee_rate": rate, "replaceable": True, "includeWatching": True, "changeAddress": change_address}
    return rpc.call("walletcreatefundedpsbt", [], amounts, 0, options)["psbt"]


def psbt_txid(rpc, psbt):
    """The txid of a PSBT's transaction (fixed once signed, for segwit inputs)."""
    return rpc.call("decodepsbt", psbt)["tx"]["txid"]


def check_signed(rpc, unsigned, signed, outputs, decimals=8):
    """Return the raw transaction (hex) of the signed PSBT ``signed`` when it spends exactly
    the inputs of ``unsigned`` and pays exactly ``outputs`` ({address: base units}) plus
    change to the wallet's own addresses, and nothing else; else raise ValueError saying why."""
    try:
        before, after = rpc.call("decodepsbt", unsigned), rpc.call("decodepsbt", signed)
    except RPCError as exc:
        raise ValueError("is not a PSBT: %s" % exc.message) from None
    if after["tx"]["txid"] != before["tx"]["txid"]:
        # The transaction signed must be the one offered: no output, amount or fee changed.
        raise ValueError("is not a signature of the batch's transaction (its outputs or inputs differ)")
    spent = sorted((i["txid"], i["vout"]) for i in before["tx"]["vin"])
    if sorted((i["txid"], i["vout"]) for i in after["tx"]["vin"]) != spent:
        raise ValueError("spends other inputs than the batch's PSBT")
    want = dict(outputs)
    for out in after["tx"]["vout"]:
        address = out["scriptPubKey"].get("address") or (out["scriptPubKey"].get("addresses") or [None])[0]
        units = money.from_node(out["value"], decimals)
        if want.get(address) == units:
            del want[address]
            continue
        info = rpc.call("getaddressinfo", address) if address else {}
        if not (info.get("ismine") or info.get("iswatchonly")):
            raise ValueError("pays %s to %s, which is not one of the batch's outputs" % (out["value"], address))
    if want:
        raise ValueError("does not pay %s" % ", ".join(sorted(want)))
    final = rpc.call("finalizepsbt", signed)
    if not final.get("complete"):
        raise ValueError("is not fully signed")
    return final["hex"]


def broadcast(rpc, raw):
    return rpc.call("sendrawtransaction", raw)
