"""The doctor's notify round trip on a regtest node: a block that pays no wallet (so
blocknotify alone fires), then a wallet that learns that block's coinbase with no new
block (so walletnotify alone fires).

:class:`NotifyProbe` is how nodes of several wallets do it (Bitcoin Core, Litecoin Core):
the doctor's own keyless wallet watches ``raw(51)`` and rescans the block. A backend whose
node has other RPCs overrides both methods (Dogecoin Core 1.14: backends/dogecoin.py).
"""

from transient.core.errors import NodeError, RPCError

DOCTOR_WALLET = "transient-doctor"  # the doctor's own wallet, for its walletnotify round trip
OP_TRUE = "51"  # an output script no wallet owns, until the doctor's own wallet watches it


class NotifyProbe:
    """The round trip's two steps, for a backend with ``rpc``, ``options`` and ``_client``."""

    def mine_test_block(self):
        """Mine one regtest block whose coinbase pays no wallet; return ``{"hash", "height",
        "payee"}`` (payee: what the coinbase pays, for :meth:`wallet_test_transaction`)."""
        block = self.rpc.call("generatetodescriptor", 1, "raw(%s)" % OP_TRUE)[0]
        return {"hash": block, "height": self.rpc.call("getblockheader", block)["height"], "payee": OP_TRUE}

    def wallet_test_transaction(self, block):
        """Make a wallet learn the coinbase of ``block`` (from :meth:`mine_test_block`) with
        no new block; return which wallet. The doctor's wallet is unloaded again, so the
        next test block is new to it. Raises RPCError when the node cannot."""
        wallet = self._doctor_wallet()
        try:
            if wallet.call("getwalletinfo").get("descriptors"):  # Bitcoin Core 28+: no importaddress
                desc = wallet.call("getdescriptorinfo", "raw(%s)" % block["payee"])["descriptor"]
                (reply,) = wallet.call("importdescriptors", [{"desc": desc, "timestamp": "now"}])
                if not reply.get("success"):
                    error = reply.get("error") or {}
                    raise RPCError("importdescriptors refused: %s" % error.get("message"), error.get("code"))
            else:  # a legacy wallet (Litecoin Core 0.21 as Debian builds it)
                wallet.call("importaddress", block["payee"], "", False)
            wallet.call("rescanblockchain", block["height"], block["height"])
        finally:
            try:
                wallet.call("unloadwallet")
            except NodeError:
                pass  # still loaded: harmless, and the next run reuses it
            wallet.close()
        return "wallet %s" % DOCTOR_WALLET

    def _doctor_wallet(self):
        """Load (or create, without private keys) the doctor's wallet; return its client."""
        base = self._client(dict(self.options, wallet=None))
        try:
            if DOCTOR_WALLET not in base.call("listwallets"):
                if DOCTOR_WALLET in [w["name"] for w in base.call("listwalletdir")["wallets"]]:
                    base.call("loadwallet", DOCTOR_WALLET)
                else:
                    base.call("createwallet", DOCTOR_WALLET, True)
        finally:
            base.close()
        return self._client(dict(self.options, wallet=DOCTOR_WALLET))
