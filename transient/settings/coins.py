"""The per-coin table (``[coins.<CODE>]``), the per-rate-source one (``[rates.<name>]``)
and the coin a fresh install uses: rows of the settings table, kept apart from the
main one so each stays readable."""

from .parsers import Setting, _choice, _int, _opt_str, _percent, _str, _url

# Each HTTP rate source's [rates.<name>] table (env TRANSIENT_RATES_<NAME>_<KEY>).
RATE_SOURCE_SETTINGS = [
    Setting(
        "url", None, _url(("http", "https")), "Base URL of the exchange's API (a proxy, or a local server in tests)."
    ),
    Setting("timeout", 5, _int(1, 60), "Seconds to wait for the exchange's answer."),
]


COIN_SETTINGS = [
    Setting("backend", None, _str, "Backend name: dogecoin (built in), bitcoin, litecoin (plugins)."),
    Setting(
        "rpc_url", None, _url(("http", "https")), "The node's JSON-RPC URL, e.g. http://127.0.0.1:22555.", secret=True
    ),
    Setting("rpc_user", None, _opt_str, "RPC user name (or use rpc_cookie_file)."),
    Setting("rpc_password", None, _opt_str, "RPC password.", secret=True),
    Setting("rpc_cookie_file", None, _opt_str, "Path of the node's .cookie file (read at each connection)."),
    Setting("rpc_timeout", 10, _int(1, 600), "Seconds to wait for one RPC answer."),
    Setting(
        "rpc_busy_timeout",
        30,
        _int(1, 600),
        "Seconds the sync's listing gets when asked again, at once, after it timed out (a node busy with a block,"
        " not a node that is down: that backs off).",
    ),
    Setting("wallet", None, _opt_str, "Wallet name on a multi-wallet node (/wallet/<name>)."),
    Setting(
        "address_type",
        None,
        _opt_str,
        "getnewaddress address type where the node supports it (legacy, p2sh-segwit, bech32).",
    ),
    Setting("confirmations", 1, _int(0, 1000), "Confirmations a payment needs to be PAID (BTCPay speeds: 0, 1, 2, 6)."),
    Setting("poll_interval", 5, _int(1, 3600), "Seconds between fallback syncs (pings from the node sync at once)."),
    Setting(
        "sync_coalesce_ms",
        300,
        _int(0, 1000),
        "Pings closer together than sync_quiet_ms (a block's walletnotify pings) share a sync started this many"
        " milliseconds after the previous one; 0: one sync per ping.",
    ),
    Setting(
        "sync_quiet_ms",
        200,
        _int(0, 1000),
        "A ping this many milliseconds after the last one (a payment in a steady stream) syncs at once.",
    ),
    Setting(
        "underpayment_tolerance",
        "0",
        _percent,
        "Percent of the amount a payment may fall short and still be PAID (up to 2 decimals, as a string).",
    ),
    Setting("expires_in", 0, _int(0, 365 * 86400), "Default seconds until a new payment expires; 0: never."),
    Setting(
        "address_pool",
        200,
        _int(0, 100000),
        "Fresh addresses fetched ahead so creating a payment needs no node round trip; 0: ask the node each time.",
    ),
    # Watch-only mode (issue 17): addresses derived from the merchant's public key.
    Setting(
        "xpub",
        None,
        _opt_str,
        "Watch-only: the account's extended public key (xpub/ypub/zpub, tpub/upub/vpub,"
        " Ltub/Mtub, dgub); addresses are its receive chain /0/i. Unset: the node's wallet makes them.",
    ),
    Setting(
        "derivation",
        None,
        lambda v: _opt_str(v) and _choice(v, ("WPKH", "SH-WPKH", "PKH")).lower(),
        "Watch-only: address type of the xpub: wpkh, sh-wpkh or pkh (default: BTC/LTC wpkh, DOGE pkh).",
    ),
    Setting(
        "descriptor",
        None,
        _opt_str,
        "Watch-only, instead of xpub: a ranged output descriptor such as wpkh([d34db33f/84h/0h/0h]xpub…/0/*)#checksum.",
    ),
    Setting(
        "gap_limit",
        20,
        _int(1, 100000),
        "Watch-only: the restoring wallet's gap limit; a longer run of"
        " handed-out addresses that never received anything is warned about (log, /healthz, doctor).",
    ),
]


# A fresh install talks to a local Dogecoin Core, as the original Transient did.
DEFAULT_COINS = {
    "DOGE": {"backend": "dogecoin", "rpc_url": "http://127.0.0.1:22555", "rpc_cookie_file": "~/.dogecoin/.cookie"}
}
