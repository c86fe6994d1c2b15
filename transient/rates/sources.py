"""Rate sources: the base class a plugin subclasses, and the built-in ones (the key-less
public tickers of Kraken, Coinbase and Bitstamp, and ``fixed`` prices from the config).

A source is built with its options (``url``, ``timeout``, and for ``fixed`` its pairs)
and a requests session; ``fetch(pairs)`` asks the exchange for as many of them at once
as it allows and returns ``({pair: (Decimal rate, fetched-at or None)}, {pair: error})``.
Exchange JSON is read with ``parse_float=Decimal``: a rate is never a float.
"""

import datetime
import json
from decimal import Decimal

import requests

from .logic import parse_rate


class SourceError(Exception):
    """The source could not answer at all (down, timeout, not JSON, an error body)."""


class RateSource:
    """Base class of a rate source. A subclass defines ``name`` (what ``[rates] sources``
    lists), ``default_url`` (None for sources without HTTP), ``quotes(base, quote)``
    (whether it prices the pair) and ``fetch(pairs)``."""

    name = None
    default_url = None
    REQUIRED = ("name",)
    bounded = True  # its quotes may move at most [rates] max_move from the last accepted rate

    def __init__(self, options, session=None):
        self.options = options
        self.url = (options.get("url") or self.default_url or "").rstrip("/")
        self.timeout = options.get("timeout") or 10
        self.session = session or requests.Session()

    def quotes(self, base, quote):
        """Return True when this source prices ``base`` in ``quote``."""
        raise NotImplementedError

    def fetch(self, pairs):
        """Return ``(rates, errors)`` for the ``pairs`` ("DOGE/USD", ...) or raise SourceError."""
        raise NotImplementedError

    def get_json(self, path, params=None):
        """GET ``url + path`` and return its JSON (exact decimals) and the HTTP status.
        Raises SourceError for a timeout, a refused connection or a body that is not JSON."""
        try:
            resp = self.session.get(
                self.url + path,
                params=params,
                timeout=self.timeout,
                headers={"Accept": "application/json", "User-Agent": "transient-rates"},
            )
        except requests.Timeout:
            raise SourceError("no answer within %s s" % self.timeout) from None
        except requests.RequestException as exc:
            raise SourceError("cannot connect (%s)" % exc.__class__.__name__) from None
        try:
            body = json.loads(resp.content.decode("utf-8"), parse_float=Decimal, parse_constant=_refuse)
        except (ValueError, UnicodeDecodeError):
            kind = resp.headers.get("Content-Type", "?").split(";")[0]
            raise SourceError("HTTP %d with a body that is not JSON (%s)" % (resp.status_code, kind)) from None
        return body, resp.status_code


def _refuse(name):
    raise ValueError(name)


def split(pair):
    base, _, quote = pair.partition("/")
    return base, quote


# What the exchanges call the coins and the fiat they trade against.
_CRYPTO = {"BTC", "LTC", "DOGE", "ETH", "BCH", "USDT", "USDC"}
_FIAT = {"USD", "EUR", "GBP", "CHF", "JPY", "CAD", "AUD"}


class Kraken(RateSource):
    """Kraken's public ticker: ``GET /0/public/Ticker?pair=XDGUSD,XBTEUR`` (one request
    for every pair) -> ``{"error": [], "result": {PAIR: {"c": [price, volume], ...}}}``;
    errors come as HTTP 200 with ``{"error": ["EQuery:Unknown asset pair"]}``."""

    name = "kraken"
    default_url = "https://api.kraken.com"
    ASSETS = {"BTC": "XBT", "DOGE": "XDG"}

    def quotes(self, base, quote):
        return base in _CRYPTO and (quote in _FIAT or quote in ("BTC", "USDT")) and base != quote

    def symbol(self, pair):
        base, quote = split(pair)
        return self.ASSETS.get(base, base) + self.ASSETS.get(quote, quote)

    def fetch(self, pairs):
        if not pairs:
            return {}, {}
        try:
            return self._ticker(pairs)
        except SourceError as exc:
            if len(pairs) == 1 or "Unknown asset pair" not in str(exc):
                raise
        # One unknown pair fails the whole request: ask for each alone.
        rates, errors = {}, {}
        for pair in pairs:
            try:
                got, _ = self._ticker([pair])
                rates.update(got)
            except SourceError as exc:
                errors[pair] = str(exc)
        return rates, errors

    def _ticker(self, pairs):
        body, status = self.get_json("/0/public/Ticker", {"pair": ",".join(self.symbol(p) for p in pairs)})
        if not isinstance(body, dict):
            raise SourceError("HTTP %d with an unexpected body" % status)
        if body.get("error"):
            raise SourceError("kraken: %s" % "; ".join(str(e)[:100] for e in body["error"][:3]))
        result = body.get("result")
        if status != 200 or not isinstance(result, dict):
            raise SourceError("HTTP %d without a result" % status)
        rates, errors = {}, {}
        for pair in pairs:
            entry = self._entry(result, pair, len(pairs))
            try:
                rates[pair] = (parse_rate(entry["c"][0]), None)
            except (TypeError, KeyError, IndexError, ValueError) as exc:
                errors[pair] = "no last trade price in the answer (%s)" % (
                    exc if isinstance(exc, ValueError) else "missing c[0]"
                )
        return rates, errors

    def _entry(self, result, pair, asked):
        base, quote = split(pair)
        wanted = self.symbol(pair)
        b, q = self.ASSETS.get(base, base), self.ASSETS.get(quote, quote)
        # Kraken names older pairs with X/Z prefixes in its answer: XBTUSD -> XXBTZUSD.
        for key in (wanted, "X%sZ%s" % (b, q), "X%sX%s" % (b, q)):
            if key in result:
                return result[key]
        if asked == 1 and len(result) == 1:
            return next(iter(result.values()))
        return None


class Coinbase(RateSource):
    """Coinbase's spot price: ``GET /v2/prices/DOGE-USD/spot`` -> ``{"data": {"amount":
    "0.12", "base": "DOGE", "currency": "USD"}}``; errors: 4xx with ``{"errors": [{"id",
    "message"}]}``. One request per pair."""

    name = "coinbase"
    default_url = "https://api.coinbase.com"

    def quotes(self, base, quote):
        return base in _CRYPTO and (quote in _FIAT or quote == "BTC") and base != quote

    def fetch(self, pairs):
        rates, errors = {}, {}
        for pair in pairs:
            base, quote = split(pair)
            body, status = self.get_json("/v2/prices/%s-%s/spot" % (base, quote))
            if status != 200 or not isinstance(body, dict) or not isinstance(body.get("data"), dict):
                errors[pair] = "HTTP %d: %s" % (status, _coinbase_error(body))
                continue
            data = body["data"]
            if data.get("base", base) != base or data.get("currency", quote) != quote:
                errors[pair] = "answered for %s-%s" % (data.get("base"), data.get("currency"))
                continue
            try:
                rates[pair] = (parse_rate(data.get("amount")), None)
            except ValueError as exc:
                errors[pair] = str(exc)
        return rates, errors


def _coinbase_error(body):
    try:
        return "; ".join("%s: %s" % (e.get("id"), str(e.get("message"))[:100]) for e in body["errors"][:3])
    except (TypeError, KeyError, AttributeError):
        return "unexpected body"


class Bitstamp(RateSource):
    """Bitstamp's ticker: ``GET /api/v2/ticker/dogeusd/`` -> ``{"last": "0.12", "timestamp":
    "1700000000", ...}``; an unknown pair is a 404. One request per pair; the quote is as
    old as the ticker's own timestamp."""

    name = "bitstamp"
    default_url = "https://www.bitstamp.net"

    def quotes(self, base, quote):
        return base in _CRYPTO and (quote in {"USD", "EUR", "GBP"} or quote in ("BTC", "USDT")) and base != quote

    def fetch(self, pairs):
        rates, errors = {}, {}
        for pair in pairs:
            base, quote = split(pair)
            body, status = self.get_json("/api/v2/ticker/%s%s/" % (base.lower(), quote.lower()))
            if status != 200 or not isinstance(body, dict) or "last" not in body:
                reason = body.get("reason") or body.get("message") if isinstance(body, dict) else None
                errors[pair] = "HTTP %d%s" % (status, ": %s" % str(reason)[:100] if reason else "")
                continue
            try:
                rates[pair] = (parse_rate(body["last"]), _timestamp(body.get("timestamp")))
            except ValueError as exc:
                errors[pair] = str(exc)
        return rates, errors


def _timestamp(value):
    try:
        return datetime.datetime.fromtimestamp(int(value), datetime.timezone.utc).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


class Fixed(RateSource):
    """Prices set by hand in ``[rates.fixed]`` (``"DOGE/USD" = "0.125"``): for the devnet,
    the tests, and merchants who price by hand. Always fresh."""

    name = "fixed"
    bounded = False  # the operator's own price: a new one is meant

    def quotes(self, base, quote):
        return "%s/%s" % (base, quote) in self.options.get("pairs", {})

    def fetch(self, pairs):
        table = self.options.get("pairs", {})
        return {p: (parse_rate(table[p]), None) for p in pairs if p in table}, {}


BUILTIN = [Kraken, Coinbase, Bitstamp, Fixed]
