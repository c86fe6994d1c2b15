"""The row of the settings tables (``Setting``) and the parsers of its values: each
parser takes a TOML value or an environment string and returns the value, or raises
ValueError saying what is wrong (the loader adds the key)."""

import os
import re
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlsplit

from ..api.checkout.i18n import LANGUAGES as CHECKOUT_LANGUAGES
from ..api.checkout.page import read_logo as _read_logo
from ..core.errors import ValidationError
from ..core.text import email_address
from ..delivery.smtp_url import parse_smtp_url
from ..rates import logic as _rates


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


EMAIL_CUSTOMER_KINDS = ("paid", "underpaid", "paid_late", "refund_claim", "refund_sent")
EMAIL_ALERT_KINDS = (
    "delivery_given_up",
    "node_down",
    "node_behind",
    "rates_failing",
    "watch_gap",
    "payout_awaiting_approval",
)


def _smtp_url(value):
    value = _opt_str(value)
    if value is None:
        return None
    parse_smtp_url(value)  # raises ValueError naming what is wrong, never the password
    return value


def _address(key):
    def parse(value):
        value = _opt_str(value)
        try:
            return email_address(value, key)
        except ValidationError as exc:
            raise ValueError(exc.message) from None

    return parse


def _address_list(value):
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    if not isinstance(value, list):
        raise ValueError('must be a list of e-mail addresses such as ["ops@example.org"]')
    return [_address("email.merchant")(v.strip() if isinstance(v, str) else v) for v in value]


def _kinds(known):
    def parse(value):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list) or any(v not in known for v in value):
            raise ValueError("must be a list of %s" % ", ".join(known))
        return list(dict.fromkeys(value))

    return parse


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


def _language(value):
    """One of the checkout's five languages (en, de, es, fr, pt), lower case."""
    lang = _str(value).strip().lower()
    if lang not in CHECKOUT_LANGUAGES:
        raise ValueError("must be one of %s" % ", ".join(CHECKOUT_LANGUAGES))
    return lang


def _choice(value, choices):
    value = _str(value).upper()
    if value not in choices:
        raise ValueError("must be one of %s" % ", ".join(choices))
    return value


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
