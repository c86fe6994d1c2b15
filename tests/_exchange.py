"""A real HTTP server on loopback answering as Kraken, Coinbase and Bitstamp's public ticker
APIs do (the shapes of their public docs, recorded below), with the price of each pair set
by the test. ``mode`` makes it fail as exchanges do: an error list with HTTP 200 (Kraken),
a 4xx JSON error, an HTML error page, a non-numeric price, or no answer in time.
``stop()`` and ``start()`` keep the port; ``requests`` counts what each exchange was asked."""

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from _http import close, serve

from transient.devnet.node import find_free_port

KRAKEN_NAMES = {"BTC": "XBT", "DOGE": "XDG"}
# Kraken's answer names older pairs with X/Z prefixes (XBTUSD -> XXBTZUSD).
KRAKEN_RESULT_KEY = {"XBTUSD": "XXBTZUSD", "XBTEUR": "XXBTZEUR", "LTCUSD": "XLTCZUSD", "LTCEUR": "XLTCZEUR"}
HTML_PAGE = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


def kraken_ticker(price):
    """One pair's entry of Kraken's Ticker result (a: ask, b: bid, c: last trade [price, volume], ...)."""
    return {
        "a": [price, "1", "1.000"],
        "b": [price, "1", "1.000"],
        "c": [price, "100.00000000"],
        "v": ["1000", "5000"],
        "p": [price, price],
        "t": [10, 50],
        "l": [price, price],
        "h": [price, price],
        "o": price,
    }


class Exchange:
    """``prices`` maps an exchange name and a pair to a price string: ``prices["kraken"]["DOGE/USD"]``."""

    def __init__(self, port=None):
        self.port = port or find_free_port()
        self.prices = {"kraken": {}, "coinbase": {}, "bitstamp": {}}
        self.mode = {}  # exchange name -> "error" | "html" | "nan" | "slow"
        self.requests = Counter()
        self.lock = threading.Lock()
        self.server = None

    def url(self, name):
        return "http://127.0.0.1:%d/%s" % (self.port, name)

    def set(self, pair, price, only=None):
        for name in only or self.prices:
            self.prices[name][pair] = price

    def start(self):
        exchange = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                name, _, rest = urlsplit(self.path).path.lstrip("/").partition("/")
                with exchange.lock:
                    exchange.requests[name] += 1
                    mode = exchange.mode.get(name)
                if mode == "slow":
                    time.sleep(3)
                if mode == "html":
                    return self._send(502, HTML_PAGE, "text/html")
                status, body = exchange.answer(name, "/" + rest, parse_qs(urlsplit(self.path).query), mode)
                self._send(status, json.dumps(body).encode(), "application/json")

            def _send(self, status, body, kind):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

        self.server = serve(self.port, Handler)
        return self

    def stop(self):
        close(self.server)
        self.server = None

    def answer(self, name, path, query, mode):
        prices = self.prices.get(name, {})
        if name == "kraken":
            return self._kraken(path, query, prices, mode)
        if name == "coinbase":
            return self._coinbase(path, prices, mode)
        if name == "bitstamp":
            return self._bitstamp(path, prices, mode)
        return 404, {"error": "no such exchange"}

    def _kraken(self, path, query, prices, mode):
        if path != "/0/public/Ticker":
            return 404, {"error": ["EGeneral:Unknown method"]}
        if mode == "error":
            return 200, {"error": ["EService:Unavailable"]}
        by_symbol = {
            KRAKEN_NAMES.get(b, b) + KRAKEN_NAMES.get(q, q): p
            for b, q, p in ((*pair.split("/"), p) for pair, p in prices.items())
        }
        result = {}
        for symbol in query.get("pair", [""])[0].split(","):
            if symbol not in by_symbol:
                return 200, {"error": ["EQuery:Unknown asset pair"]}
            result[KRAKEN_RESULT_KEY.get(symbol, symbol)] = kraken_ticker("abc" if mode == "nan" else by_symbol[symbol])
        return 200, {"error": [], "result": result}

    def _coinbase(self, path, prices, mode):
        parts = path.strip("/").split("/")  # v2/prices/DOGE-USD/spot
        if len(parts) != 4 or parts[:2] != ["v2", "prices"] or parts[3] != "spot":
            return 404, {"errors": [{"id": "not_found", "message": "Not found"}]}
        if mode == "error":
            return 503, {"errors": [{"id": "internal_server_error", "message": "Service unavailable"}]}
        base, _, quote = parts[2].partition("-")
        pair = "%s/%s" % (base, quote)
        if pair not in prices:
            return 400, {"errors": [{"id": "invalid_request", "message": "Invalid base currency"}]}
        return 200, {"data": {"amount": "NaN" if mode == "nan" else prices[pair], "base": base, "currency": quote}}

    def _bitstamp(self, path, prices, mode):
        parts = path.strip("/").split("/")  # api/v2/ticker/dogeusd
        if len(parts) != 4 or parts[:3] != ["api", "v2", "ticker"]:
            return 404, {"status": "error", "reason": "Not found", "code": "404"}
        if mode == "error":
            return 500, {"status": "error", "reason": "Internal error", "code": "API0000"}
        symbols = {pair.replace("/", "").lower(): p for pair, p in prices.items()}
        if parts[3] not in symbols:
            return 404, {"status": "error", "reason": "Currency pair not found", "code": "404"}
        price = "n/a" if mode == "nan" else symbols[parts[3]]
        return 200, {
            "timestamp": str(int(time.time())),
            "open": price,
            "high": price,
            "low": price,
            "last": price,
            "volume": "1000.0",
            "vwap": price,
            "bid": price,
            "ask": price,
            "side": "0",
            "open_24": price,
            "percent_change_24": "0.00",
        }
