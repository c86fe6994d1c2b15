"""Configuration: one table of every key, read from TOML, overridden by the environment.

Order of precedence (last wins): built-in defaults, the TOML file
(``TRANSIENT_CONFIG``, default ``./config.toml``), environment variables
(``TRANSIENT_<SECTION>_<KEY>``, also read from ``.env``), and the seed's
``PAYMENT_WEBHOOK_URL``.
"""

import difflib
import os
import re
import tomllib
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

from .api.checkout.page import read_logo as _read_logo
from .api.checkout.qr import OPTIONS as _QR
from .chain import hdkeys
from .core import redact as _redact
from .core.errors import ConfigError
from .delivery.targets import parse_networks
from .rates import logic as _rates
from .rates.sources import BUILTIN as _RATE_SOURCE_SETTINGS_CLASSES

# -- value parsers: each takes a TOML value or an environment string ---------


def _str(value):
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _opt_str(value):
    return None if value in (None, "") else _str(value)


def _int(lo, hi=None):
    def parse(value):
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be an integer")
        if value < lo or (hi is not None and value > hi):
            raise ValueError("must be between %s and %s" % (lo, hi if hi is not None else "∞"))
        return value

    return parse


def _bool(value):
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off", ""):
            return False
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _str_list(value):
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("must be a list of non-empty strings")
    return value


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(value):
    """Seconds from an integer or a string such as "90", "30s", "15m", "2h", "1d"."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 30s, 15m, 2h or 1d")
    if isinstance(value, int):
        seconds = value
    else:
        match = re.fullmatch(r"\s*([0-9]+)\s*([smhd]?)\s*", str(value))
        if not match:
            raise ValueError("must be a duration such as 30s, 15m, 2h or 1d")
        seconds = int(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds < 1:
        raise ValueError("must be at least 1 second")
    return seconds


def _duration_or_off(value):
    """0 (off) or a duration."""
    return 0 if value in (0, "0") else duration(value)


def _schedule(value):
    """A retry schedule: a list of durations (or a comma-separated string of them)."""
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not value or len(value) > 50:
        raise ValueError('must be a list of 1 to 50 durations such as ["10s", "1m", "1h"]')
    return [duration(v) for v in value]


def _log_format(value):
    value = _str(value).strip().lower()
    if value not in ("text", "json"):
        raise ValueError('must be "text" or "json"')
    return value


def _bind(value):
    value = _str(value)
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("must be host:port, e.g. 127.0.0.1:8080")
    return value


def _url(schemes):
    def parse(value):
        value = _opt_str(value)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in schemes or not (parts.netloc or parts.path):
            raise ValueError("must be a URL starting with %s" % " or ".join(s + "://" for s in schemes))
        return value

    return parse


def _public_url(value):
    """The base of the links payments give out: an http(s) URL with a host, maybe a path
    (a proxy's prefix), no query, fragment or credentials; kept without a trailing slash."""
    value = _opt_str(value)
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host, e.g. https://pay.example.com")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise ValueError("must not have a query (?) or fragment (#): links are appended to it")
    if parts.username or parts.password:
        raise ValueError("must not hold credentials: customers see it")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number or out of range
    except ValueError:
        raise ValueError("has an invalid port") from None
    return value.strip().rstrip("/")


def _logo(value):
    """A logo file the checkout page can serve: checked when the config loads."""
    value = _opt_str(value)
    if value is not None:
        _read_logo(os.path.expanduser(value))
        value = os.path.expanduser(value)
    return value


def _db_url(value):
    value = _str(value)
    if not re.match(r"^(sqlite|postgres|postgresql)(\+pool)?://", value):
        raise ValueError("must be sqlite:///PATH or postgresql://USER@HOST/DB")
    return value


def _percent(value):
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError('must be a percentage written as a string, e.g. "1.5"')
    if not re.fullmatch(r"[0-9]{1,2}(\.[0-9]{1,2})?", str(value).strip()):
        raise ValueError("must be a percentage from 0 to 99.99 with at most 2 decimals")
    return str(value).strip()


def _move_factor(value):
    text = str(value).strip() if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    if not re.fullmatch(r"[0-9]{1,4}(\.[0-9]{1,2})?", text) or (Decimal(text) != 0 and Decimal(text) <= 1):
        raise ValueError('must be a factor above 1 written as a string, e.g. "10" (or "0": off)')
    return text


def _amqp_name(optional=False):
    """An AMQP exchange or queue name (``optional``: "" turns the feature off)."""

    def parse(value):
        value = _str(value).strip()
        if optional and not value:
            return None
        if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,200}", value) or value.startswith("amq."):
            raise ValueError("must be 1-200 letters, digits, '-', '_', '.' or ':', not starting with amq.")
        return value

    return parse


def _speed(value):
    speeds = ("HighSpeed", "MediumSpeed", "LowMediumSpeed", "LowSpeed")
    if _str(value) not in speeds:
        raise ValueError("must be one of %s" % ", ".join(speeds))
    return value


def _store_id(value):
    value = _str(value).strip()
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value):
        raise ValueError("must be 1-64 letters, digits, '-' or '_' (the plugin keeps no other character)")
    return value


def _dashboard_path(value):
    value = _str(value).rstrip("/")
    if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", value) or value.startswith(("/api", "/pay/", "/payments")):
        raise ValueError("must be a path such as /dashboard, not one the API uses")
    return value


def _time_zone(value):
    value = _str(value)
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("is not an IANA time zone such as Europe/Berlin") from None
    return value


def _currency(value):
    if not re.fullmatch(r"[A-Z][A-Z0-9]{1,9}", value):
        raise ValueError("must be an upper-case currency code such as DOGE")
    return value


def _fiat_list(value):
    codes = _str_list(value)
    try:
        return [_rates.fiat_code(c, "rates.fiat") for c in codes]
    except Exception as exc:  # a ValidationError: its message names the code
        raise ValueError(getattr(exc, "message", str(exc))) from None


def _code_list(value):
    codes = [c.upper() for c in _str_list(value)]
    for code in codes:
        _currency(code)
    return codes


def _fixed_pairs(value):
    """``{"DOGE/USD": "0.125"}`` (or "DOGE/USD=0.125,LTC/EUR=60" from the environment)."""
    if isinstance(value, str):
        value = dict(item.split("=", 1) for item in value.split(",") if "=" in item)
    if not isinstance(value, dict):
        raise ValueError('must be a table of pairs such as "DOGE/USD" = "0.125"')
    out = {}
    for pair, rate in value.items():
        base, _, quote = pair.strip().upper().partition("/")
        if not re.fullmatch(r"[A-Z][A-Z0-9]{1,9}", base) or not re.fullmatch(r"[A-Z][A-Z0-9]{1,9}", quote):
            raise ValueError("%r is not a pair such as DOGE/USD" % pair)
        if not isinstance(rate, str):
            raise ValueError('%s: write the rate as a string, e.g. "0.125"' % pair)
        _rates.parse_rate(rate)
        out["%s/%s" % (base, quote)] = rate.strip()
    return out


def _coin_amounts(value):
    """``{"LTC": "0.01"}`` (or "LTC=0.01,BTC=0.001" from the environment): an exact decimal
    per coin code, kept as text (each coin's backend knows its decimals)."""
    if isinstance(value, str):
        value = dict(item.split("=", 1) for item in value.split(",") if "=" in item)
    if not isinstance(value, dict):
        raise ValueError('must be a table of coin amounts such as LTC = "0.01"')
    out = {}
    for code, amount in value.items():
        code = _currency(code.strip().upper())
        if not isinstance(amount, str) or not re.fullmatch(r"[0-9]{1,12}(\.[0-9]{1,18})?", amount.strip()):
            raise ValueError('%s: write the amount as a decimal string, e.g. "0.01"' % code)
        out[code] = amount.strip()
    return out


@dataclass(frozen=True)
class Setting:
    key: str
    default: object
    parse: object
    help: str
    env_alias: str = None
    secret: bool = False  # never echoed (URLs: only with their credentials redacted)

    @property
    def env(self):
        return "TRANSIENT_" + self.key.upper().replace(".", "_")


SETTINGS = [
    Setting("server.bind", "127.0.0.1:8080", _bind, "Address the HTTP API listens on (host:port)."),
    Setting("server.workers", 1, _int(1, 64), "gunicorn worker processes; syncs stay one per coin (lease)."),
    Setting("server.threads", 8, _int(1, 256), "Threads per worker serving requests."),
    Setting(
        "server.request_timeout",
        10,
        _int(1, 300),
        "Seconds a client has to send a request's headers and body;"
        " slower ones get 408 and are closed (they never hold a thread).",
    ),
    Setting(
        "server.worker_memory_limit",
        64,
        _int(0, 1_000_000),
        "MB: a worker still larger than this once a"
        " burst of transactions is over is replaced by a fresh one (gracefully); 0: never.",
    ),
    Setting(
        "server.public_url",
        None,
        _public_url,
        "Base URL customers reach, e.g. https://pay.example.com: every payment's checkout_url"
        " and qrcode_url start with it. Unset, those links are relative (/pay/<id>).",
    ),
    Setting(
        "database.url",
        "sqlite:///transient.db",
        _db_url,
        "sqlite:///PATH (default: transient.db in the working directory, or in $STATE_DIRECTORY"
        " under systemd) or postgresql://USER:PASS@HOST:PORT/DB.",
        secret=True,
    ),
    Setting(
        "database.auto_migrate", False, _bool, "Apply pending migrations at start-up instead of refusing to start."
    ),
    Setting(
        "api.keys",
        [],
        _str_list,
        "API keys holding every scope; with any key (here or made with `transient keys"
        " create`), requests need 'Authorization: Bearer KEY' and anonymous reads get the public view.",
        secret=True,
    ),
    Setting("api.max_body", 65536, _int(1024, 10 * 2**20), "Largest request body accepted, in bytes."),
    Setting(
        "api.read_cache",
        1024,
        _int(0, 1_000_000),
        "Payments whose GET /payments/{id} body each worker keeps"
        " (about 2 KB each), served while the payment is unchanged; 0 turns it off.",
    ),
    Setting(
        "api.allow_anonymous",
        False,
        _bool,
        "Serve without API keys on a non-loopback [server] bind (anyone"
        " may then create and list payments); without it such a daemon refuses to start.",
    ),
    Setting(
        "notify.token",
        None,
        _opt_str,
        "Token for /notify from non-loopback clients (?token= or X-Transient-Token).",
        secret=True,
    ),
    Setting(
        "webhook.url",
        None,
        _url(("http", "https")),
        "URL that receives payment events.",
        env_alias="PAYMENT_WEBHOOK_URL",
        secret=True,
    ),
    Setting(
        "webhook.secret",
        None,
        _opt_str,
        "Secret used to sign webhook bodies (HMAC-SHA256); unset: unsigned.",
        secret=True,
    ),
    Setting(
        "webhook.retry_schedule",
        ["10s", "30s", "2m", "5m", "15m", "30m", "1h", "2h", "4h", "8h", "12h", "12h", "8h"],
        _schedule,
        "Waits before each retry (±20 % jitter); after the last one a delivery fails (default: ~2 days).",
    ),
    Setting(
        "webhook.timeout",
        10,
        _int(1, 120),
        "Seconds an attempt may take in all (connect, send, answer); also /webhooks/test.",
    ),
    Setting("webhook.concurrency", 8, _int(1, 128), "Deliveries sent at once by each process."),
    Setting(
        "webhook.allowed_networks",
        [],
        parse_networks,
        "Networks (CIDR) that per-payment callback_url,"
        ' redirect_url and test URLs may reach besides public addresses, e.g. ["127.0.0.0/8", "::1/128"]'
        " for a receiver on this host; [webhook] url itself is always trusted.",
    ),
    Setting(
        "webhook.per_target_concurrency",
        2,
        _int(1, 128),
        "Attempts at once to one receiver (scheme://host:port)"
        " that hangs or is new; hanging ones share half of concurrency.",
    ),
    Setting(
        "amqp.url",
        None,
        _url(("amqp", "amqps")),
        "AMQP broker, e.g. amqp://USER:PASS@127.0.0.1:5672/ (vhost after the slash, %2F for /); unset: AMQP off.",
        secret=True,
    ),
    Setting(
        "amqp.exchange",
        "transient.events",
        _amqp_name(),
        "Durable topic exchange for payment events (routing key payment.<CURRENCY>.<event>).",
    ),
    Setting(
        "amqp.rpc_queue",
        "transient.rpc",
        _amqp_name(optional=True),
        "Durable queue of payment commands (create, get, list); empty: no commands.",
    ),
    Setting(
        "amqp.retry_schedule",
        ["1s", "5s", "15s", "30s", "1m"],
        _schedule,
        "Waits before publishing again an event the broker did not confirm; the last repeats (never fails).",
    ),
    Setting("amqp.confirm_timeout", 30, _int(1, 600), "Seconds to wait for the broker's confirms before reconnecting."),
    Setting(
        "reconcile.interval",
        0,
        _duration_or_off,
        "How often the daemon reconciles each coin's ledger with its node's wallet (e.g. 1h; 0: never);"
        " the differences go to the transient_reconcile_differences gauge.",
    ),
    Setting("reconcile.window", "7d", duration, "How far back a scheduled reconciliation looks."),
    Setting(
        "reconcile.grace",
        120,
        duration,
        "Seconds a new wallet output may wait for its sync before a reconciliation calls it missing.",
    ),
    Setting(
        "sync.lease_seconds",
        60,
        _int(2, 3600),
        "How long a coin's sync lease lasts before another process may take it.",
    ),
    Setting(
        "rates.fiat",
        [],
        _fiat_list,
        "Fiat codes payments may be priced in (price + price_currency),"
        ' e.g. ["USD", "EUR"]; each coin\'s rate in each is kept fresh. Empty: no priced payments.',
    ),
    Setting(
        "rates.sources",
        ["kraken", "coinbase", "bitstamp"],
        _str_list,
        "Rate sources (built in: kraken, coinbase, bitstamp, fixed; plugins add more); each has [rates.<name>].",
    ),
    Setting(
        "rates.via",
        [],
        _code_list,
        "Currencies a pair no source agrees on is crossed through"
        ' (DOGE/EUR = DOGE/BTC x BTC/EUR), in order, e.g. ["BTC", "USDT", "USD"].',
    ),
    Setting(
        "rates.refresh_interval", 60, duration, "How often each pair's quotes are fetched (once for the whole cluster)."
    ),
    Setting("rates.max_age", 300, duration, "A quote older than this is never used (no rate: create answers 503)."),
    Setting(
        "rates.max_deviation", "3", _percent, "Percent from the median beyond which a quote is dropped (and logged)."
    ),
    Setting(
        "rates.min_sources",
        0,
        _int(0, 20),
        "Fresh agreeing quotes needed for a rate; 0: 2 when two or more sources are configured, else 1.",
    ),
    Setting(
        "rates.max_move",
        "10",
        _move_factor,
        "How far a quote may move from its pair's last accepted rate: at most this many times above"
        ' or below (a quote beyond is refused and logged; absurd rates make no rate, 503). "0": off.',
    ),
    Setting(
        "rates.spread", "0", _percent, "Percent taken off the rate: the customer pays that much more coin (margin)."
    ),
    Setting(
        "rates.lock",
        900,
        duration,
        "Default expiry of a priced payment: how long its rate holds; an explicit expires_in/expires_at wins.",
    ),
    Setting("rates.fixed", {}, _fixed_pairs, 'The fixed source\'s prices, e.g. [rates.fixed] "DOGE/USD" = "0.125".'),
    Setting("qrcode.size", 320, _QR["size"], "QR code image size in pixels (32-2048); ?size= overrides."),
    Setting(
        "qrcode.border", 4, _QR["border"], "Quiet zone around the code, in modules (0-16; scanners want 4); ?border=."
    ),
    Setting("qrcode.foreground", "#000000", _QR["foreground"], "Colour of the dark modules (hex); ?foreground=."),
    Setting(
        "qrcode.background",
        "#ffffff",
        _QR["background"],
        "Colour of the light ground (hex; lighter than foreground, contrast >= 3:1); ?background=.",
    ),
    Setting(
        "qrcode.error_correction",
        "M",
        _QR["error_correction"],
        "Error correction level: L, M, Q or H; ?error_correction=.",
    ),
    Setting(
        "qrcode.content",
        "uri",
        _QR["content"],
        "What the code holds: uri (BIP21 URI for the amount due) or address; ?content=.",
    ),
    Setting(
        "checkout.refresh_interval",
        5,
        _int(1, 300),
        "Seconds between status checks on the /pay/{id} page (fetch with JS, page refresh without).",
    ),
    Setting(
        "checkout.store_name", None, _opt_str, "The shop's name at the top of the /pay/{id} page (none by default)."
    ),
    Setting(
        "checkout.logo",
        None,
        _logo,
        "A logo file (.png, .svg, .jpg, .webp, .gif; at most 256 KiB) for the /pay/{id} page, served by Transient.",
    ),
    Setting("log.level", "INFO", lambda v: _choice(v, ("DEBUG", "INFO", "WARNING", "ERROR")), "Log level."),
    Setting(
        "log.format",
        "text",
        _log_format,
        'Every line (the daemon\'s and gunicorn\'s): "text" (one readable line) or "json" (one object a line).',
    ),
    Setting("log.access_log", False, _bool, "Log each HTTP request (gunicorn's access log) in the same format."),
    # Refunds and payouts (issue 27): money leaving, approved, batched, sent once.
    Setting(
        "payouts.auto_approve_below",
        {},
        _coin_amounts,
        'Per coin: a payout or claim below this amount is approved at once, e.g. LTC = "0.01" (unset: never).',
    ),
    Setting(
        "payouts.daily_cap",
        {},
        _coin_amounts,
        'Per coin: the most approved in one UTC day, by hand or at once, e.g. LTC = "1" (unset: no cap).',
    ),
    Setting(
        "payouts.fee_rate_cap",
        {},
        _coin_amounts,
        "Per coin: the highest fee rate a batch may pay, in base units per virtual byte (sat/vB), e.g."
        ' LTC = "20"; a coin without one sends nothing (approved payouts wait).',
    ),
    Setting(
        "payouts.conf_target",
        6,
        _int(1, 1008),
        "Blocks within which a batch should confirm: its fee rate is the node's estimate for it, capped.",
    ),
    Setting(
        "payouts.interval",
        30,
        duration,
        "Seconds between rounds of the sender (approved payouts of a coin go out in one transaction);"
        " an approval wakes it sooner.",
    ),
    Setting("payouts.batch_max", 1000, _int(1, 5000), "Most payouts in one transaction (one sendmany)."),
    # The merchant's dashboard (issue 28): pages in the browser, users of its own.
    Setting(
        "dashboard.enabled", True, _bool, "Serve the merchant's dashboard (sign-in with `transient users create`)."
    ),
    Setting("dashboard.path", "/dashboard", _dashboard_path, "Where the dashboard is served; sign-in at {path}/login."),
    Setting("dashboard.require_2fa", True, _bool, "Owners must sign in with a TOTP code (set up at first sign-in)."),
    Setting("dashboard.session_hours", 12, _int(1, 24 * 30), "Hours a dashboard session lasts without use."),
    Setting("dashboard.time_zone", "UTC", _time_zone, "The IANA time zone the dashboard shows times and days in."),
    Setting(
        "dashboard.lockout_failures",
        5,
        _int(1, 1000),
        "Failed sign-ins in a row that lock an account (and 4x that from one address) for lockout_minutes.",
    ),
    Setting("dashboard.lockout_minutes", 15, _int(1, 24 * 60), "Minutes a locked account or address waits."),
    # BTCPay Greenfield compatibility (/api/v1): the gateway is one store.
    Setting(
        "greenfield.store_id",
        None,
        _store_id,
        "The store id Greenfield clients use; default: one generated once and kept in the database.",
    ),
    Setting("greenfield.store_name", "Transient", _str, "The store's name (GET /api/v1/stores)."),
    Setting("greenfield.default_currency", "USD", lambda v: _str(v).strip().upper(), "The store's default currency."),
    Setting(
        "greenfield.speed_policy",
        "MediumSpeed",
        _speed,
        "Confirmations of an invoice that names none: HighSpeed 0, MediumSpeed 1, LowMediumSpeed 2, LowSpeed 6.",
    ),
    Setting("greenfield.expiration_minutes", 15, _int(1, 525600), "Minutes until an invoice expires (default)."),
    Setting(
        "greenfield.monitoring_minutes",
        60,
        _int(0, 525600),
        "Minutes after expiry an invoice reports as monitored (late funds are always credited).",
    ),
    Setting(
        "greenfield.payment_tolerance", "0", _percent, "Percent an invoice may be underpaid and still settle (default)."
    ),
]

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
        500,
        _int(0, 1000),
        "A sync starts at most this many milliseconds after the previous one began, so a stream of pings shares"
        " listings (a ping after a quiet spell syncs at once); 0: one sync per ping.",
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


def _choice(value, choices):
    value = _str(value).upper()
    if value not in choices:
        raise ValueError("must be one of %s" % ", ".join(choices))
    return value


_BY_KEY = {s.key: s for s in SETTINGS}
_COIN_BY_KEY = {s.key: s for s in COIN_SETTINGS}


class Config:
    """The effective configuration: ``config["server.bind"]`` and ``config.coins["DOGE"]["rpc_url"]``."""

    def __init__(self, values, coins, source=None, rate_sources=None):
        self.values = values
        self.coins = coins
        self.source = source
        self.rate_sources = rate_sources or {}  # source name -> {"url", "timeout"} ([rates.<name>])

    def __getitem__(self, key):
        return self.values[key]

    def coin(self, currency):
        return self.coins[currency]


def load(path=None, environ=None, dotenv=True):
    """Return the :class:`Config` from defaults, the TOML file and the environment.

    Raises ConfigError naming the key for an unknown key, a wrong type or a bad value.
    """
    if environ is None:
        if dotenv:
            from dotenv import load_dotenv

            load_dotenv(os.path.join(os.getcwd(), ".env"), override=False)
        environ = os.environ
    # Who named the file, for the error when it is missing: the caller's --config, or the variable.
    explicit = "--config" if path else "TRANSIENT_CONFIG" if environ.get("TRANSIENT_CONFIG") else None
    path = path or environ.get("TRANSIENT_CONFIG") or "config.toml"
    data = _read_toml(path, explicit)
    values = {s.key: s.default if s.default is None else s.parse(s.default) for s in SETTINGS}
    coins, sources = {}, {}
    _apply_file(data, values, coins, sources)
    _apply_env(environ, values, coins, sources)
    _default_database_in_state_directory(data, environ, values)
    if not coins:
        coins = {code: dict(opts) for code, opts in DEFAULT_COINS.items()}
    for code, opts in coins.items():
        _complete_coin(code, opts)
    for name in set(values["rates.sources"]) | set(sources):
        opts = sources.setdefault(name, {})
        for setting in RATE_SOURCE_SETTINGS:
            opts.setdefault(setting.key, setting.default)
    sources.setdefault("fixed", {})["pairs"] = values["rates.fixed"]
    return Config(values, coins, source=path if os.path.exists(path) else None, rate_sources=sources)


def _read_toml(path, explicit):
    if not os.path.exists(path):
        if explicit:
            raise ConfigError("config file %s does not exist (%s)" % (path, explicit), field=explicit)
        return {}
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config file %s is not valid TOML: %s" % (path, exc)) from None
    except OSError as exc:
        raise ConfigError("config file %s cannot be read: %s" % (path, exc.strerror)) from None


def _set(setting, name, raw, target):
    try:
        target[setting.key] = setting.parse(raw)
    except ValueError as exc:
        raise ConfigError("%s %s%s" % (name, exc, _shown(setting, raw)), field=name) from None


def _shown(setting, raw):
    """What a config error may echo of the value ``raw``: all of it, or for a secret
    setting only the scheme of a URL (its credentials might be anywhere in a bad one)."""
    if not setting.secret:
        return " (got %r)" % (raw,)
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]{0,15})://", raw) if isinstance(raw, str) else None
    if scheme:
        return " (got a %s:// URL; the rest is not shown)" % scheme.group(1)
    return " (the value is not shown: it is a secret)"


def secret_values(config):
    """Every configured secret (plain values and URLs that may hold credentials), for
    :class:`transient.core.redact.ScrubFilter` and ``scrub``."""
    found = []
    for setting in SETTINGS:
        value = config.values.get(setting.key) if setting.secret else None
        found.extend(value if isinstance(value, list) else [value] if value else [])
    for opts in config.coins.values():
        found.extend(opts.get(s.key) for s in COIN_SETTINGS if s.secret and opts.get(s.key))
    return found


def shown(config):
    """``[(key, value as text, help)]`` of the running configuration for the dashboard's
    settings page: secrets never shown (only whether they are set), URLs redacted, and
    anything that could hold a known secret scrubbed."""
    known = secret_values(config)

    def text(setting, value):
        if setting.secret:
            return "(set, not shown)" if value else "(not set)"
        if isinstance(value, dict | list):
            value = (
                ", ".join("%s=%s" % kv for kv in value.items())
                if isinstance(value, dict)
                else ", ".join(map(str, value))
            )
        return _redact.scrub(str(value), *known) if value not in (None, "") else ""

    rows = [(s.key, text(s, config.values.get(s.key)), s.help) for s in SETTINGS]
    for code, opts in sorted(config.coins.items()):
        rows.extend(("coins.%s.%s" % (code, s.key), text(s, opts.get(s.key)), s.help) for s in COIN_SETTINGS)
    return rows


def _apply_file(data, values, coins, sources):
    for section, table in data.items():
        if section == "coins":
            if not isinstance(table, dict):
                raise ConfigError("coins must be a table of [coins.<CODE>] sections", field="coins")
            for code, opts in table.items():
                _file_coin(code, opts, coins)
            continue
        if not isinstance(table, dict) or section not in _section_names():
            close = _did_you_mean(section, _section_names()).strip(" ()")
            raise ConfigError(
                "%s: unknown %s (%ssections are %s)"
                % (
                    section,
                    "section" if isinstance(table, dict) else "key",
                    close + "; " if close else "",
                    _sections(),
                ),
                field=section,
            )
        for key, raw in table.items():
            name = "%s.%s" % (section, key)
            if section == "rates" and name not in _BY_KEY and isinstance(raw, dict):
                _file_rate_source(key, raw, sources)
                continue
            if name not in _BY_KEY:
                known = [k.split(".", 1)[1] for k in _BY_KEY if k.startswith(section + ".")]
                raise ConfigError("%s: unknown key%s" % (name, _did_you_mean(key, known)), field=name)
            _set(_BY_KEY[name], name, raw, values)


def _file_coin(code, opts, coins):
    try:
        _currency(code)
    except ValueError as exc:
        raise ConfigError("coins.%s: %s" % (code, exc), field="coins.%s" % code) from None
    if not isinstance(opts, dict):
        raise ConfigError("coins.%s must be a table" % code, field="coins.%s" % code)
    target = coins.setdefault(code, {})
    for key, raw in opts.items():
        name = "coins.%s.%s" % (code, key)
        if key not in _COIN_BY_KEY:
            raise ConfigError("%s: unknown key%s" % (name, _did_you_mean(key, _COIN_BY_KEY)), field=name)
        _set(_COIN_BY_KEY[key], name, raw, target)


def _file_rate_source(name, opts, sources):
    target = sources.setdefault(name, {})
    for key, raw in opts.items():
        full = "rates.%s.%s" % (name, key)
        if key not in _SOURCE_BY_KEY:
            raise ConfigError(
                "%s: unknown key (a source's table has %s)" % (full, ", ".join(_SOURCE_BY_KEY)), field=full
            )
        _set(_SOURCE_BY_KEY[key], full, raw, target)


_SOURCE_BY_KEY = {s.key: s for s in RATE_SOURCE_SETTINGS}
_SOURCE_ENV = re.compile(r"^TRANSIENT_RATES_([A-Z0-9]+)_(%s)$" % "|".join(k.upper() for k in _SOURCE_BY_KEY))
_COIN_ENV = re.compile(r"^TRANSIENT_COINS_([A-Z][A-Z0-9]{1,9})_(%s)$" % "|".join(k.upper() for k in _COIN_BY_KEY))


# TRANSIENT_ variables that are not settings: the config file's path, switches of the
# plugin manager, the devnet, the fault points, and the tests' and scripts' own.
NOT_SETTINGS = frozenset(
    {
        "TRANSIENT_CONFIG",
        "TRANSIENT_DISABLE_PLUGIN_AUTOLOAD",
        "TRANSIENT_DEVNET_DIR",
        "TRANSIENT_FAULTS",
        "TRANSIENT_REQUIRE_SERVICES",
        "TRANSIENT_ARTIFACTS",
        "TRANSIENT_CHROMIUM",
        "TRANSIENT_CHROMEDRIVER",
    }
)
NOT_SETTINGS_PREFIXES = ("TRANSIENT_TEST_", "TRANSIENT_BOOTSTRAP_")


def _apply_env(environ, values, coins, sources):
    _refuse_unknown_env(environ)
    for setting in SETTINGS:
        for name in (setting.env, setting.env_alias):
            if name and environ.get(name, "") != "":
                _set(setting, name, _env_list(setting, name, environ[name]), values)
                break
    for name, raw in environ.items():
        match = _COIN_ENV.match(name)
        if match:
            code, key = match.group(1), match.group(2).lower()
            _set(_COIN_BY_KEY[key], name, _env_list(_COIN_BY_KEY[key], name, raw), coins.setdefault(code, {}))
        elif _SOURCE_ENV.match(name) and environ[name] != "":
            source, key = _SOURCE_ENV.match(name).groups()
            _set(_SOURCE_BY_KEY[key.lower()], name, environ[name], sources.setdefault(source.lower(), {}))
        elif name.startswith("TRANSIENT_COINS_"):
            raise ConfigError(
                "%s: unknown coin setting (TRANSIENT_COINS_<CODE>_<KEY>)%s"
                % (
                    name,
                    _did_you_mean(
                        name, ["TRANSIENT_COINS_%s_%s" % (name.split("_")[2], k.upper()) for k in _COIN_BY_KEY]
                    ),
                ),
                field=name,
            )


def _default_database_in_state_directory(data, environ, values):
    """Under systemd (``StateDirectory=transient``: ``$STATE_DIRECTORY=/var/lib/transient``)
    the default SQLite file goes there: the working directory is read-only under
    ``ProtectSystem=strict``. A configured database.url is never changed."""
    state = environ.get("STATE_DIRECTORY", "").split(":")[0]
    configured = "url" in (data.get("database") or {}) or environ.get("TRANSIENT_DATABASE_URL")
    if state and not configured:
        values["database.url"] = "sqlite:///" + os.path.join(os.path.abspath(state), "transient.db")


def _refuse_unknown_env(environ):
    """A misspelt TRANSIENT_ variable is an error naming it: silently ignored, it would
    leave the setting it meant at its default."""
    known = {n for s in SETTINGS for n in (s.env, s.env_alias) if n}
    for name in sorted(environ):
        if not name.startswith("TRANSIENT_") or name in known or name in NOT_SETTINGS:
            continue
        if name.startswith(NOT_SETTINGS_PREFIXES + ("TRANSIENT_COINS_",)) or _SOURCE_ENV.match(name):
            continue
        raise ConfigError(
            "%s: unknown environment variable%s; settings are TRANSIENT_<SECTION>_<KEY> (see config.example.toml)"
            % (name, _did_you_mean(name, known | NOT_SETTINGS)),
            field=name,
        )


def _env_list(setting, name, raw):
    """A list setting's value from the environment: TOML/JSON list syntax
    (``["10s", "1m"]``) or, as before, comma-separated (``10s,1m``)."""
    if not isinstance(setting.default, list) or not raw.strip().startswith("["):
        return raw
    try:
        return tomllib.loads("value = " + raw)["value"]
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError('%s is not a list such as ["a", "b"] (or a,b): %s' % (name, exc), field=name) from None


def _complete_coin(code, opts):
    for setting in COIN_SETTINGS:
        opts.setdefault(setting.key, setting.default)
    for key in ("backend", "rpc_url"):
        if not opts.get(key):
            raise ConfigError("coins.%s.%s is required" % (code, key), field="coins.%s.%s" % (code, key))
    if opts["rpc_user"] and opts["rpc_cookie_file"]:
        raise ConfigError(
            "coins.%s: give rpc_user/rpc_password or rpc_cookie_file, not both" % code,
            field="coins.%s.rpc_cookie_file" % code,
        )
    if opts["rpc_cookie_file"]:
        opts["rpc_cookie_file"] = os.path.expanduser(opts["rpc_cookie_file"])
    if opts["xpub"] or opts["descriptor"]:
        # Read offline here (garbage, checksum, private key, coin); the node's chain is
        # checked at start-up. The messages never quote the key.
        hdkeys.parse(
            code,
            opts["xpub"],
            opts["derivation"],
            opts["descriptor"],
            field="coins.%s.%s" % (code, "descriptor" if opts["descriptor"] else "xpub"),
        )


def _did_you_mean(name, known):
    """ " (did you mean rpc_password?)" for the known name closest to a misspelt ``name``, or ""."""
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), sorted(by_lower), n=1, cutoff=0.6)
    return " (did you mean %s?)" % by_lower[close[0]] if close else ""


def _section_names():
    return sorted({s.key.split(".")[0] for s in SETTINGS} | {"coins"})


def _sections():
    return ", ".join(sorted({s.key.split(".")[0] for s in SETTINGS} | {"coins"}))


def example_toml():
    """Return the text of config.example.toml, generated from the settings table."""
    lines = [
        "# Transient configuration. Every key, its default and its environment variable.",
        "# Copy to config.toml (or point TRANSIENT_CONFIG at it) and edit.",
        "",
    ]
    section = None
    for s in SETTINGS:
        sec, key = s.key.split(".")
        if sec != section:
            lines += ["", "[%s]" % sec] if section else ["[%s]" % sec]
            section = sec
        env = s.env + (" or " + s.env_alias if s.env_alias else "")
        lines.append("# %s  (env %s)" % (s.help, env))
        lines.append(_toml_line(key, s.default) if s.key != "rates.fixed" else '# fixed = { "DOGE/USD" = "0.125" }')
        if s.key == "rates.fixed":
            lines += _rate_source_lines()
    lines += [
        "",
        "# One section per coin. Environment: TRANSIENT_COINS_<CODE>_<KEY>.",
        "# With no [coins.*] at all, a local Dogecoin Core (cookie auth) is used.",
        "[coins.DOGE]",
    ]
    for s in COIN_SETTINGS:
        lines.append("# %s" % s.help)
        value = DEFAULT_COINS["DOGE"].get(s.key, s.default)
        lines.append(_toml_line(s.key, value))
    return "\n".join(lines) + "\n"


def _rate_source_lines():
    lines = []
    for cls in _RATE_SOURCE_SETTINGS_CLASSES:
        if cls.default_url:
            lines += ["", "[rates.%s]" % cls.name]
            for s in RATE_SOURCE_SETTINGS:
                lines.append("# %s  (env TRANSIENT_RATES_%s_%s)" % (s.help, cls.name.upper(), s.key.upper()))
                lines.append(_toml_line(s.key, cls.default_url if s.key == "url" else s.default))
    return lines


def _toml_line(key, value):
    if isinstance(value, dict):  # a per-coin table: shown commented out, with an example
        return '# %s = { LTC = "0.01" }' % key
    if value is None:
        return '# %s = ""' % key
    if isinstance(value, bool):
        return "%s = %s" % (key, "true" if value else "false")
    if isinstance(value, int):
        return "%s = %d" % (key, value)
    if isinstance(value, list):
        return "%s = [%s]" % (key, ", ".join('"%s"' % v for v in value))
    return '%s = "%s"' % (key, value)
