"""The one table of settings: every config key, its default, its parser, its environment
variable and its help text (the example file and the docs are written from it). Each
room's keys are rows here; how they are read is ``loading``'s, their parsers ``parsers``'."""

from ..api.checkout.qr import OPTIONS as _QR
from ..delivery.targets import parse_networks
from .coins import COIN_SETTINGS, DEFAULT_COINS, RATE_SOURCE_SETTINGS  # noqa: F401  (rows of the table)
from .parsers import (
    EMAIL_ALERT_KINDS,
    EMAIL_CUSTOMER_KINDS,
    Setting,
    _address,
    _address_list,
    _amqp_name,
    _bind,
    _bool,
    _choice,
    _code_list,
    _coin_amounts,
    _dashboard_path,
    _db_url,
    _duration_or_off,
    _fiat_list,
    _fixed_pairs,
    _int,
    _kinds,
    _language,
    _log_format,
    _logo,
    _move_factor,
    _opt_str,
    _percent,
    _public_url,
    _schedule,
    _smtp_url,
    _speed,
    _store_id,
    _str,
    _str_list,
    _time_zone,
    _url,
    duration,
)

SETTINGS = [
    Setting("server.bind", "127.0.0.1:8080", _bind, "Address the HTTP API listens on (host:port)."),
    Setting(
        "server.trusted_proxies",
        [],
        parse_networks,
        'Reverse proxies in front of the daemon (addresses or networks, e.g. ["127.0.0.1"]): a request'
        " from one is its client's, told by Forwarded/X-Forwarded-For/X-Real-IP (none: not local),"
        " for /metrics and /notify's keyless loopback access. See docs/guides/behind-a-proxy.md.",
    ),
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
        "database.group_commit",
        True,
        _bool,
        "SQLite: a worker's concurrent creates share one write transaction (each answered"
        " after the commit holding it) instead of queueing one by one behind SQLite's one writer.",
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
        "email.smtp_url",
        None,
        _smtp_url,
        "Where e-mail goes: smtp://user:password@host:587 (STARTTLS required) or smtps://...:465; unset: no e-mail.",
        secret=True,
    ),
    Setting("email.insecure", False, _bool, "Send over smtp:// without STARTTLS (a loopback server only)."),
    Setting("email.ca_file", None, _opt_str, "A CA certificate file the SMTP server's certificate is checked with."),
    Setting("email.sender", None, _address("email.sender"), "The From: address, e.g. shop@example.org."),
    Setting("email.merchant", [], _address_list, 'The merchant\'s addresses for alerts, e.g. ["ops@example.org"].'),
    Setting(
        "email.merchant_language",
        "en",
        _language,
        "The language of the merchant's alerts: en, de, es, fr or pt (the checkout's five).",
    ),
    Setting(
        "email.customer",
        list(EMAIL_CUSTOMER_KINDS),
        _kinds(EMAIL_CUSTOMER_KINDS),
        "The customer's e-mails sent (a payment with an email): " + ", ".join(EMAIL_CUSTOMER_KINDS) + "; [] for none.",
    ),
    Setting(
        "email.alerts",
        list(EMAIL_ALERT_KINDS),
        _kinds(EMAIL_ALERT_KINDS),
        "The merchant's alerts sent to [email] merchant: " + ", ".join(EMAIL_ALERT_KINDS) + "; [] for none.",
    ),
    Setting("email.alert_interval", 60, _int(5, 86400), "Seconds between looks for what to alert the merchant of."),
    Setting("email.rate_limit", 10, _int(1, 10000), "E-mails to one address per hour at most; more wait."),
    Setting("email.timeout", 30, _int(1, 300), "Seconds an SMTP attempt may take."),
    Setting(
        "email.retry_schedule",
        ["1m", "5m", "15m", "1h", "2h", "4h", "8h", "12h", "12h"],
        _schedule,
        "Waits before each retry of an e-mail (±20 % jitter); after the last one it is given up (~2 days).",
    ),
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
    Setting(
        "greenfield.max_webhooks",
        100,
        _int(1, 10000),
        "Greenfield webhooks a store may have (each gets every event: more is refused, 400 webhook-limit).",
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


_BY_KEY = {s.key: s for s in SETTINGS}


_COIN_BY_KEY = {s.key: s for s in COIN_SETTINGS}


def _section_names():
    return sorted({s.key.split(".")[0] for s in SETTINGS} | {"coins"})


def _sections():
    return ", ".join(sorted({s.key.split(".")[0] for s in SETTINGS} | {"coins"}))
