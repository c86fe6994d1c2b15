"""Cost of one sync: listsinceblock with target_confirmations=T vs cursor at the tip.

Starts a throwaway litecoind regtest node, pays N transactions to a merchant wallet
spread over B blocks, then times each way of following confirmations from its
steady state (docs/ARCHITECTURE.md, "The path of a txid"):

- target T: ``listsinceblock(lastblock, T)`` re-lists every tx of the last T blocks;
- tip: ``changes_since(tip)`` (listsinceblock + getblockchaininfo, one batch) plus
  one batch of getblockheader for the blocks that hold unfinished receipts.

    python bench/sync_methods.py --n 300 --blocks 10
"""

import argparse
import statistics
import tempfile
import time
from decimal import Decimal

from transient.devnet.node import RegtestNode
from transient_backends.rpc import RPCClient
from transient_litecoin import LitecoinBackend

FEE = Decimal("0.0001")


def make_load(node, n, blocks):
    """Pay ``n`` single-input transactions to the merchant, mining every n/blocks."""
    funder, merchant = node.create_wallet("funder"), node.create_wallet("bench-merchant")
    fund = _client(node, funder)
    # One split tx gives the funder n coins, so each payment spends its own input.
    split = {a: Decimal("0.01") for a in fund.batch([("getnewaddress", [])] * n)}
    split_txid = node.sendmany(split)
    node.mine(1)
    vouts = {
        o["scriptPubKey"]["addresses"][0]: o["n"]
        for o in node.rpc("decoderawtransaction", node.rpc("gettransaction", split_txid, wallet="payer")["hex"])["vout"]
        if "addresses" in o["scriptPubKey"]
    }
    payees = _client(node, merchant).batch([("getnewaddress", ["order"])] * n)
    per_block = max(1, n // blocks)
    for start in range(0, n, per_block):
        chunk = list(zip(list(split)[start : start + per_block], payees[start : start + per_block]))
        raws = fund.batch(
            [
                ("createrawtransaction", [[{"txid": split_txid, "vout": vouts[src]}], {dst: Decimal("0.01") - FEE}])
                for src, dst in chunk
            ]
        )
        signed = fund.batch([("signrawtransactionwithwallet", [r]) for r in raws])
        fund.batch([("sendrawtransaction", [s["hex"]]) for s in signed])
        node.mine(1)
    return merchant


def _client(node, wallet, keep_alive=True):
    return RPCClient(node.rpc_url, node.rpc_user, node.rpc_password, wallet=wallet, timeout=120, keep_alive=keep_alive)


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def measure(node, wallet, target, repeat):
    rpc, fresh = _client(node, wallet), _client(node, wallet, keep_alive=False)
    backend = LitecoinBackend(
        "LTC", {"rpc_url": node.rpc_url, "rpc_user": node.rpc_user, "rpc_password": node.rpc_password, "wallet": wallet}
    )
    # Steady state of the target-T loop: the cursor is the lastblock it was last given.
    cursor_t = rpc.call("listsinceblock", "", target, True, True)["lastblock"]
    t_time, listing = timed(lambda: rpc.call("listsinceblock", cursor_t, target, True, True), repeat)
    t_fresh, _ = timed(lambda: fresh.call("listsinceblock", cursor_t, target, True, True), repeat)
    tip = backend.tip()
    recent = [node.rpc("getblockhash", tip.height - d) for d in range(target - 1)]

    def tip_sync():
        changes = backend.changes_since(tip.hash)
        rpc.batch([("getblockheader", [h]) for h in recent])  # still on the main chain?
        return changes

    tip_time, changes = timed(tip_sync, repeat)
    return [
        ("target T=%d" % target, len(listing["transactions"]), t_time),
        ("cursor at tip", len(changes.outputs), tip_time),
        ("T=%d, no keep-alive" % target, len(listing["transactions"]), t_fresh),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300, help="transactions paid to the merchant")
    parser.add_argument("--blocks", type=int, default=10, help="blocks they are spread over")
    parser.add_argument("--target", type=int, default=6, help="target confirmations T")
    parser.add_argument("--repeat", type=int, default=20, help="timed syncs per method (median)")
    parser.add_argument("--smoke", action="store_true", help="tiny size: proves the bench runs (CI)")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.blocks, args.repeat = 20, 2, 3
    with tempfile.TemporaryDirectory(prefix="transient-bench-") as datadir:
        node = RegtestNode(datadir).start()
        try:
            node.setup()
            started = time.perf_counter()
            wallet = make_load(node, args.n, args.blocks)
            print("load: %d txs over %d blocks in %.1f s" % (args.n, args.blocks, time.perf_counter() - started))
            rows = measure(node, wallet, args.target, args.repeat)
        finally:
            node.stop()
    print("%-22s %10s %12s" % ("method", "txs listed", "ms per sync"))
    for name, listed, seconds in rows:
        print("%-22s %10d %12.2f" % (name, listed, seconds * 1000))
    print("ratio target/tip: %.1fx (%.1fx without keep-alive)" % (rows[0][2] / rows[1][2], rows[2][2] / rows[1][2]))


if __name__ == "__main__":
    main()
