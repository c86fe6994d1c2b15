"""Backends against recorded node answers whose shapes follow each node's source:
what no local node can produce (Dogecoin 1.14, Bitcoin Core 27-29, MWEB)."""

import datetime
import json
from decimal import Decimal

import pytest
import responses

from transient.chain import hdkeys
from transient.chain.backend import ChainTip, Output
from transient.core.errors import ConfigError, RPCError
from transient.runtime.plugins import collect_backends, get_plugin_manager
from transient_backends.dogecoin import DogecoinBackend
from transient_bitcoin import BitcoinBackend
from transient_litecoin import LitecoinBackend

URL = "http://127.0.0.1:8332"
TIP = "aa" * 32
CURSOR = "cc" * 32
NOT_FOUND = {"code": -5, "message": "Block not found"}


class FakeNode:
    """Answers JSON-RPC (single or batch) from ``handlers``: method -> result, or a
    callable(params) returning a result or raising RPCError. Records every call."""

    def __init__(self, **handlers):
        self.handlers = handlers
        self.calls = []
        self.urls = []

    @property
    def requests(self):
        return len(self.urls)

    def __call__(self, request):
        self.urls.append(request.url)
        body = json.loads(request.body, parse_float=Decimal)
        replies = [self.answer(c) for c in (body if isinstance(body, list) else [body])]
        return 200, {}, json.dumps(replies if isinstance(body, list) else replies[0], default=str)

    def answer(self, call):
        self.calls.append((call["method"], call["params"]))
        handler = self.handlers[call["method"]]
        try:
            result = handler(call["params"]) if callable(handler) else handler
        except RPCError as exc:
            return {"result": None, "error": {"code": exc.rpc_code, "message": str(exc)}, "id": call["id"]}
        return {"result": result, "error": None, "id": call["id"]}

    def methods(self):
        return [m for m, _ in self.calls]


def chaininfo(height=120, best=TIP, chain="main"):
    return {"chain": chain, "blocks": height, "bestblockhash": best}


def not_found(params):
    raise RPCError("Block not found", -5)


def headers(**heights):
    """getblockheader answering the blocks of ``heights`` (name -> (hash, height)), the
    tip's confirmations counted from the highest; any other hash is not found."""
    top = max(h for _, h in heights.values())

    def answer(params):
        for block, height in heights.values():
            if params[0] == block:
                return {"hash": block, "height": height, "confirmations": top - height + 1}
        return not_found(params)

    return answer


@pytest.fixture
def node():
    """Install a FakeNode for URL; the test sets its handlers."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeNode()
        mock.add_callback("POST", URL, callback=fake)
        mock.add_callback("POST", URL + "/wallet/shop", callback=fake)
        yield fake


def backend(cls, **options):
    return cls(cls.currency, {"rpc_url": URL, "rpc_user": "u", "rpc_password": "p", **options})


# Raw JSON so amounts are exact decimals, as nodes send them.
DOGE_LISTING = """{"transactions": [
  {"account": "order-1", "address": "DRF7yvmFHR5gMXRtijkbkPzmLYnMfTYMGZ", "category": "receive",
   "amount": 9999999999.99999999, "vout": 1, "confirmations": 3, "blockhash": "%s",
   "blockindex": 2, "blocktime": 1700000000, "txid": "t1", "walletconflicts": [],
   "time": 1700000000, "timereceived": 1700000000, "bip125-replaceable": "no"},
  {"account": "", "address": "DRF7yvmFHR5gMXRtijkbkPzmLYnMfTYMGZ", "category": "send",
   "amount": -1.00000000, "vout": 0, "fee": -0.01000000, "confirmations": 0, "txid": "t2",
   "trusted": true, "walletconflicts": [], "time": 1, "timereceived": 1, "abandoned": false},
  {"account": "order-2", "address": "DBXu2kgc3xtvCUWFcxFE3r9hEYgmuaaCyD", "category": "receive",
   "amount": 0.00000001, "vout": 0, "confirmations": 0, "trusted": false, "txid": "t3",
   "walletconflicts": [], "time": 1700000100, "timereceived": 1700000050, "bip125-replaceable": "no"}
], "lastblock": "%s"}""" % ("bb" * 32, TIP)


def raw(text):
    return json.loads(text, parse_float=Decimal)


# -- Dogecoin 1.14 ---------------------------------------------------------------


def test_doge_listing_without_removed_and_with_account(node):
    node.handlers.update(listsinceblock=raw(DOGE_LISTING), getblockheader=headers(cursor=(CURSOR, 110), tip=(TIP, 120)))
    changes = backend(DogecoinBackend).changes_since(CURSOR)
    assert changes.tip == ChainTip(TIP, 120) and changes.cursor_known and changes.removed == []
    assert changes.outputs == [
        Output(
            "t1",
            "1",
            "DRF7yvmFHR5gMXRtijkbkPzmLYnMfTYMGZ",
            999999999999999999,
            3,
            "bb" * 32,
            118,
            "order-1",
            seen_at=datetime.datetime(2023, 11, 14, 22, 13, 20),
        ),
        Output(
            "t3",
            "0",
            "DBXu2kgc3xtvCUWFcxFE3r9hEYgmuaaCyD",
            1,
            0,
            None,
            None,
            "order-2",
            seen_at=datetime.datetime(2023, 11, 14, 22, 14, 10),
        ),  # the earlier of time and timereceived
    ]
    # Three params only, and the cursor check rides in the same HTTP request; entries
    # without blockheight: the new tip's height costs one getblockheader.
    assert ("listsinceblock", [CURSOR, 1, True]) in node.calls
    assert node.requests == 2 and node.calls[1:] == [("getblockheader", [CURSOR]), ("getblockheader", [TIP])]


def test_doge_unknown_cursor_lists_all_silently_and_is_reported(node):
    node.handlers.update(listsinceblock=raw(DOGE_LISTING), getblockheader=headers(tip=(TIP, 120)))
    changes = backend(DogecoinBackend).changes_since(CURSOR)
    assert changes.cursor_known is False
    assert [o.txid for o in changes.outputs] == ["t1", "t3"]  # the whole wallet, kept
    assert node.requests == 2 and changes.tip == ChainTip(TIP, 120)


def test_doge_first_sync_needs_no_cursor_check(node):
    node.handlers.update(listsinceblock=raw(DOGE_LISTING), getblockheader=headers(tip=(TIP, 120)))
    changes = backend(DogecoinBackend).changes_since(None)
    assert changes.cursor_known and node.calls[0] == ("listsinceblock", ["", 1, True])


def test_doge_getnewaddress_takes_the_account_only(node):
    node.handlers.update(getnewaddress=lambda params: "D%d" % len(params))
    doge = backend(DogecoinBackend, address_type="bech32")
    assert doge.new_addresses(3, label="order-9") == ["D1", "D1", "D1"]
    assert node.requests == 1 and node.calls[0] == ("getnewaddress", ["order-9"])


def test_doge_max_money_is_beyond_float_precision():
    assert DogecoinBackend.max_money == 10**18 and float(DogecoinBackend.max_money - 1) == 1e18


# -- Bitcoin Core 27-29 ----------------------------------------------------------

BTC_LISTING = """{"transactions": [
  {"address": "bc1qexample", "parent_descs": ["wpkh(...)#abcd"], "category": "receive",
   "amount": 0.00012345, "label": "order-7", "vout": 0, "abandoned": false, "confirmations": 2,
   "blockhash": "%s", "blockheight": 119, "blockindex": 1, "blocktime": 1700000000,
   "txid": "b1", "wtxid": "w1", "walletconflicts": [], "mempoolconflicts": [], "time": 1,
   "timereceived": 1, "bip125-replaceable": "no"},
  {"address": "bc1qminer", "category": "generate", "amount": 3.125, "vout": 0,
   "confirmations": 101, "txid": "cb", "generated": true, "blockheight": 20}
], "removed": [
  {"address": "bc1qexample", "category": "receive", "amount": 0.5, "label": "order-8",
   "vout": 1, "confirmations": 0, "txid": "b2", "trusted": false, "walletconflicts": []},
  {"address": "bc1qexample", "category": "receive", "amount": 0.00012345, "label": "order-7",
   "vout": 0, "confirmations": 2, "blockhash": "%s", "blockheight": 119, "txid": "b1"}
], "lastblock": "%s"}""" % ("bb" * 32, "bb" * 32, TIP)


def test_btc_newer_fields_and_removed_unless_listed_again(node):
    node.handlers.update(listsinceblock=raw(BTC_LISTING), getblockchaininfo=chaininfo(120))
    changes = backend(BitcoinBackend, wallet="shop").changes_since(CURSOR)
    assert changes.outputs == [
        Output(
            "b1",
            "0",
            "bc1qexample",
            12345,
            2,
            "bb" * 32,
            119,
            "order-7",
            seen_at=datetime.datetime(1970, 1, 1, 0, 0, 1),
        )
    ]
    # b1 was disconnected and mined again: it is listed, so it is not removed.
    assert changes.removed == [Output("b2", "1", "bc1qexample", 50000000, 0, None, None, "order-8")]
    assert node.calls[0] == ("listsinceblock", [CURSOR, 1, True, True, False])
    assert node.urls == [URL + "/wallet/shop"]


def test_btc_unknown_cursor_error_lists_again_from_the_beginning(node):
    node.handlers.update(
        listsinceblock=lambda params: not_found(params) if params[0] else raw(BTC_LISTING),
        getblockchaininfo=chaininfo(120),
    )
    changes = backend(BitcoinBackend).changes_since(CURSOR)
    assert changes.cursor_known is False and [o.txid for o in changes.outputs] == ["b1"]
    assert node.requests == 2 and "getblockheader" not in node.methods()


def test_btc_other_errors_are_raised(node):
    def broken(params):
        raise RPCError("Wallet file not specified", -19)

    node.handlers.update(listsinceblock=broken, getblockchaininfo=chaininfo(120))
    with pytest.raises(RPCError) as exc:
        backend(BitcoinBackend).changes_since(CURSOR)
    assert exc.value.rpc_code == -19


def test_the_tip_height_comes_from_a_confirmed_entry_without_another_call(node):
    node.handlers.update(listsinceblock=raw(BTC_LISTING))
    changes = backend(BitcoinBackend).changes_since(CURSOR)
    # b1: blockheight 119 with 2 confirmations, so the listing's lastblock is 120.
    assert changes.tip == ChainTip(TIP, 120) and node.methods() == ["listsinceblock"]


MEMPOOL_ONLY = """{"transactions": [
  {"address": "ltc1qexample", "category": "receive", "amount": 0.1, "label": "order-4",
   "vout": 3, "confirmations": 0, "txid": "l2"}
], "removed": [], "lastblock": "%s"}"""


def test_an_unchanged_tip_costs_the_listing_alone(node):
    """A stream of wallet transactions between blocks: the listing's lastblock is the
    stored cursor, whose height the sync passes in; no getblockchaininfo."""
    node.handlers.update(listsinceblock=raw(MEMPOOL_ONLY % CURSOR), getblockheader=headers(c=(CURSOR, 119)))
    ltc = backend(LitecoinBackend)
    ltc.note_tip(ChainTip(CURSOR, 119))
    changes = ltc.changes_since(CURSOR)
    assert changes.tip == ChainTip(CURSOR, 119) and node.methods() == ["listsinceblock"]


def test_a_new_block_without_wallet_entries_costs_one_header(node):
    node.handlers.update(listsinceblock=raw(MEMPOOL_ONLY % TIP), getblockheader=headers(tip=(TIP, 120)))
    ltc = backend(LitecoinBackend)
    ltc.note_tip(ChainTip(CURSOR, 119))
    assert ltc.changes_since(CURSOR).tip == ChainTip(TIP, 120)
    assert node.methods() == ["listsinceblock", "getblockheader"]
    assert ltc.changes_since(TIP).tip == ChainTip(TIP, 120)  # remembered: the listing alone
    assert node.methods() == ["listsinceblock", "getblockheader", "listsinceblock"]


def test_btc_getnewaddress_with_address_type(node):
    node.handlers.update(getnewaddress="bc1qnew")
    assert backend(BitcoinBackend, address_type="bech32m").new_address("order-1") == "bc1qnew"
    assert node.calls == [("getnewaddress", ["order-1", "bech32m"])]


def test_ping_and_network(node):
    node.handlers.update(
        getblockchaininfo=chaininfo(5, chain="regtest"),
        getnetworkinfo={"version": 280000, "subversion": "/Satoshi:28.0.0/"},
        getwalletinfo={"walletname": "shop"},
    )
    btc = backend(BitcoinBackend)
    assert btc.ping() == {
        "chain": "regtest",
        "blocks": 5,
        "bestblockhash": TIP,
        "version": 280000,
        "subversion": "/Satoshi:28.0.0/",
        "wallet": "shop",
    }
    assert btc.network() == btc.network() == "regtest"
    assert node.methods().count("getblockchaininfo") == 2  # network() is cached


def test_recheck_reports_conflicts_and_unknown_txids(node):
    def gettransaction(params):
        if params[0] == "gone":
            raise RPCError("Invalid or non-wallet transaction id", -5)
        confs = {"c": -2, "m": 0, "k": 4}[params[0]]
        return {
            "txid": params[0],
            "confirmations": confs,
            "details": [],
            **({"blockhash": "bb" * 32} if confs > 0 else {}),
        }

    node.handlers.update(gettransaction=gettransaction, getblockcount=120)
    states = backend(DogecoinBackend).recheck(["c", "m", "k", "gone"])
    assert states["c"].confirmations == -2 and states["c"].block_hash is None
    assert states["m"].confirmations == 0 and states["gone"] is None
    assert (states["k"].block_hash, states["k"].block_height) == ("bb" * 32, 117)
    assert node.requests == 1


def test_missing_rpc_url_is_a_config_error():
    with pytest.raises(ConfigError) as exc:
        DogecoinBackend("DOGE", {})
    assert exc.value.field == "rpc_url"


# -- Litecoin Core 0.21 ------------------------------------------------------------

LTC_LISTING = """{"transactions": [
  {"address": "ltcmweb1qqexample", "category": "receive", "amount": 2.5, "label": "order-3",
   "mweb_out": "%s", "confirmations": 1, "blockhash": "%s", "blockheight": 120, "txid": "l1"},
  {"category": "hogex", "amount": 0.0, "vout": 0, "confirmations": 1, "txid": "hx"},
  {"address": "ltc1qexample", "category": "receive", "amount": 0.1, "label": "order-4",
   "vout": 3, "confirmations": 0, "txid": "l2"}
], "removed": [], "lastblock": "%s"}""" % ("ee" * 32, TIP, TIP)


def test_ltc_mweb_outputs_and_hogex_skipped(node):
    node.handlers.update(listsinceblock=raw(LTC_LISTING), getblockchaininfo=chaininfo(120))
    changes = backend(LitecoinBackend).changes_since(CURSOR)
    assert [(o.txid, o.output, o.amount) for o in changes.outputs] == [
        ("l1", "mweb:" + "ee" * 32, 250000000),
        ("l2", "3", 10000000),
    ]
    assert node.calls[0] == ("listsinceblock", [CURSOR, 1, True, True])


def test_plugins_register_the_three_backends():
    found = collect_backends(get_plugin_manager())
    assert found["dogecoin"] is DogecoinBackend
    assert found["bitcoin"] is BitcoinBackend and found["litecoin"] is LitecoinBackend
    for cls in found.values():
        assert cls.max_money > 0 and cls.uri_scheme == cls.name


# -- watch-only keys: Bitcoin Core's descriptor wallet and Dogecoin 1.14's importmulti ------

# An account key (m/84h/1h/0h of seed 00..1f) as a testnet key.
WATCH_TPUB = (
    "tpubDDH1ndozCcuGXjVaXnB4NHUWbKfMTYfxH3wuU1GFvCXtEZZqsMY6NxBdgdaebExgDAVicckGNJDU8wVfRUWWMaov5jX4zPaDorqe75QwjAC"
)


def watch_key(currency="BTC"):
    return hdkeys.parse(currency, WATCH_TPUB)


def test_bitcoin_core_creates_a_keyless_descriptor_wallet(node):
    def loadwallet(params):
        raise RPCError("Path does not exist", -18)

    node.handlers.update(
        listwallets=[],
        loadwallet=loadwallet,
        createwallet={"name": "shop", "warning": ""},
        getwalletinfo={"walletname": "shop", "private_keys_enabled": False, "descriptors": True, "format": "sqlite"},
    )
    btc = backend(BitcoinBackend, wallet="shop")
    assert btc.create_watch_wallet("shop")["private_keys_enabled"] is False
    assert ("createwallet", ["shop", True, True, "", False, True, True]) in node.calls
    assert btc.watch_import() == "descriptors"


def test_a_wallet_with_private_keys_is_refused_for_a_watch_only_key(node):
    node.handlers.update(listwallets=["shop"], getwalletinfo={"walletname": "shop", "private_keys_enabled": True})
    with pytest.raises(ConfigError, match="coins.BTC.wallet: the node's wallet 'shop' can hold private keys"):
        backend(BitcoinBackend, wallet="shop").create_watch_wallet("shop")


def test_importdescriptors_covers_the_stored_range_has_no_label_and_each_item_is_checked(node):
    watch = watch_key()
    stored = []  # the wallet holds no range of the descriptor yet
    node.handlers.update(
        getwalletinfo={"descriptors": True},
        importdescriptors=[{"success": True}],
        getdescriptorinfo=lambda params: {"descriptor": params[0]},
        listdescriptors=lambda params: {
            "descriptors": [{"desc": "wpkh(tpubOther/0/*)#abcdefgh", "range": [0, 5000]}]
            + [{"desc": watch.descriptor(), "range": r} for r in stored]
        },
    )
    btc = backend(BitcoinBackend, wallet="shop")
    assert btc.register_watch(watch, 0, 20, "regtest") == 20
    requests = [p[0] for m, p in node.calls if m == "importdescriptors"]
    assert requests == [
        [{"desc": watch.descriptor(), "range": [0, 19], "timestamp": "now", "active": False, "internal": False}]
    ]
    # Bitcoin Core stored it topped up to its keypool: the next import covers that range
    # (a range that does not include it is refused), and the node watches up to 999.
    stored.append([0, 999])
    assert btc.register_watch(watch, 20, 40, "regtest") == 1000
    assert [p[0][0]["range"] for m, p in node.calls if m == "importdescriptors"][-1] == [0, 999]
    assert btc.register_watch(watch, 1000, 1240, "regtest") == 1240  # past the stored range
    assert [p[0][0]["range"] for m, p in node.calls if m == "importdescriptors"][-1] == [0, 1239]
    # The call succeeds while an item fails (Bitcoin Core 28: a ranged descriptor with a label).
    node.handlers["importdescriptors"] = [
        {"success": False, "error": {"code": -8, "message": "Ranged descriptors should not have a label"}}
    ]
    with pytest.raises(RPCError, match="importdescriptors refused: Ranged descriptors should not have a label"):
        btc.register_watch(watch, 1240, 1260, "regtest")


def test_bitcoin_core_and_transient_must_derive_the_same_addresses(node):
    watch = watch_key()
    ours = [watch.address(i, "regtest") for i in range(3)]
    node.handlers.update(getwalletinfo={"descriptors": True}, deriveaddresses=ours)
    btc = backend(BitcoinBackend, wallet="shop")
    assert btc.verify_watch(watch, "regtest") is None
    node.handlers["deriveaddresses"] = ["bcrt1qother"] + ours[1:]
    assert "the node derives bcrt1qother" in btc.verify_watch(watch, "regtest")


def test_dogecoin_watch_only_on_a_locked_wallet_and_a_wallet_holding_a_key(node):
    """What a regtest node needs a wallet of its own for: an encrypted, locked wallet
    (dumpprivkey -13: validateaddress decides) and any other dumpprivkey error."""
    watched = {"isvalid": True, "ismine": False, "iswatchonly": True}
    locked = RPCError("Error: Please enter the wallet passphrase with walletpassphrase first.", -13)
    node.handlers.update(validateaddress=watched, dumpprivkey=lambda params: (_ for _ in ()).throw(locked))
    doge = backend(DogecoinBackend)
    assert doge.watch_only([(0, "n1"), (7, "n2")]).startswith("no private key to the payment addresses (indexes 0, 7")
    node.handlers["validateaddress"] = lambda params: dict(
        watched, ismine=params[0] == "n2", iswatchonly=params[0] != "n2"
    )
    with pytest.raises(ConfigError, match=r"holds the private key of payment address n2 \(index 7\)"):
        doge.watch_only([(0, "n1"), (7, "n2")])
    node.handlers.update(validateaddress=watched, dumpprivkey="cSECRETWIF")
    with pytest.raises(ConfigError) as exc:
        doge.watch_only([(3, "n3")])
    assert "index 3" in exc.value.message and "cSECRETWIF" not in exc.value.message
    node.handlers["dumpprivkey"] = lambda params: (_ for _ in ()).throw(RPCError("disabled", -32601))
    with pytest.raises(RPCError, match="disabled"):
        doge.watch_only([(0, "n1")])
    assert [m for m in node.methods() if m not in ("validateaddress", "dumpprivkey")] == []


def test_dogecoin_imports_each_address_with_its_public_key_in_batches(node):
    watch = watch_key("DOGE")
    node.handlers.update(importmulti=lambda params: [{"success": True}] * len(params[0]))
    doge = backend(DogecoinBackend)
    doge.register_watch(watch, 0, 1200, "regtest")
    batches = [p for m, p in node.calls if m == "importmulti"]
    assert [len(b[0]) for b in batches] == [500, 500, 200] and all(b[1] == {"rescan": False} for b in batches)
    first = batches[0][0][0]
    assert first == {
        "scriptPubKey": {"address": watch.address(0, "regtest")},
        "pubkeys": [watch.pubkey(0).hex()],
        "timestamp": "now",
        "watchonly": True,
    }
    assert "getwalletinfo" not in node.methods()  # 1.14 has no descriptors: no need to ask
    # Dogecoin 1.14's validateaddress of an imported watch-only address.
    node.handlers["validateaddress"] = {
        "isvalid": True,
        "address": watch.address(0, "regtest"),
        "ismine": False,
        "iswatchonly": True,
        "isscript": False,
        "pubkey": watch.pubkey(0).hex(),
        "iscompressed": True,
        "account": "",
    }
    assert doge.verify_watch(watch, "regtest") is None
    assert doge.owns(watch.address(0, "regtest")) is True
    node.handlers["validateaddress"] = dict(node.handlers["validateaddress"], pubkey="02" + "11" * 32)
    assert "another public key" in doge.verify_watch(watch, "regtest")
