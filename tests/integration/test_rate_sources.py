"""The built-in HTTP rate sources against a real HTTP server on loopback that answers with
the exchanges' documented shapes (tests/_exchange.py): prices, several pairs in one
Kraken request, and each documented failure (an error list with HTTP 200, a 4xx for an
unknown pair, an HTML error page, a non-numeric price, a timeout, a refused connection)."""

from decimal import Decimal

import pytest
from _exchange import Exchange

from transient.rates.sources import Bitstamp, Coinbase, Kraken, SourceError


@pytest.fixture()
def exchange():
    server = Exchange().start()
    server.set("DOGE/USD", "0.12345678")
    server.set("BTC/USD", "61000.5")
    yield server
    server.stop()


def _source(cls, exchange, timeout=2):
    return cls({"url": exchange.url(cls.name), "timeout": timeout})


@pytest.mark.parametrize("cls", [Kraken, Coinbase, Bitstamp])
def test_each_source_reads_exact_prices(exchange, cls):
    rates, errors = _source(cls, exchange).fetch(["DOGE/USD", "BTC/USD"])
    assert errors == {}
    assert {p: r for p, (r, _) in rates.items()} == {"DOGE/USD": Decimal("0.12345678"), "BTC/USD": Decimal("61000.5")}
    assert all(isinstance(r, Decimal) for r, _ in rates.values())


def test_kraken_asks_for_every_pair_in_one_request(exchange):
    _source(Kraken, exchange).fetch(["DOGE/USD", "BTC/USD"])
    assert exchange.requests["kraken"] == 1  # XBTUSD answered as XXBTZUSD is matched too


def test_kraken_unknown_pair_is_reported_per_pair(exchange):
    rates, errors = _source(Kraken, exchange).fetch(["DOGE/USD", "DOGE/CHF"])
    assert set(rates) == {"DOGE/USD"} and "Unknown asset pair" in errors["DOGE/CHF"]


def test_kraken_error_list_with_http_200_is_a_failure(exchange):
    exchange.mode["kraken"] = "error"
    with pytest.raises(SourceError, match="EService:Unavailable"):
        _source(Kraken, exchange).fetch(["DOGE/USD"])


@pytest.mark.parametrize(
    "cls, words", [(Coinbase, "HTTP 400: invalid_request"), (Bitstamp, "HTTP 404: Currency pair not found")]
)
def test_an_unknown_pair_is_a_4xx_reported_per_pair(exchange, cls, words):
    rates, errors = _source(cls, exchange).fetch(["DOGE/USD", "DOGE/CHF"])
    assert set(rates) == {"DOGE/USD"} and words in errors["DOGE/CHF"]


@pytest.mark.parametrize("cls", [Coinbase, Bitstamp])
def test_a_server_error_body_is_an_error(exchange, cls):
    exchange.mode[cls.name] = "error"
    rates, errors = _source(cls, exchange).fetch(["DOGE/USD"])
    assert rates == {} and errors["DOGE/USD"].startswith("HTTP 5")


@pytest.mark.parametrize("cls", [Kraken, Coinbase, Bitstamp])
def test_an_html_error_page_is_a_failure(exchange, cls):
    exchange.mode[cls.name] = "html"
    with pytest.raises(SourceError, match="HTTP 502 with a body that is not JSON \\(text/html\\)"):
        _source(cls, exchange).fetch(["DOGE/USD"])


@pytest.mark.parametrize("cls", [Kraken, Coinbase, Bitstamp])
def test_a_non_numeric_price_is_refused(exchange, cls):
    exchange.mode[cls.name] = "nan"
    rates, errors = _source(cls, exchange).fetch(["DOGE/USD"])
    assert rates == {} and "DOGE/USD" in errors


@pytest.mark.parametrize("cls", [Kraken, Coinbase, Bitstamp])
def test_a_slow_exchange_times_out(exchange, cls):
    exchange.mode[cls.name] = "slow"
    with pytest.raises(SourceError, match="no answer within 1 s"):
        _source(cls, exchange, timeout=1).fetch(["DOGE/USD"])


@pytest.mark.parametrize("cls", [Kraken, Coinbase, Bitstamp])
def test_a_refused_connection_is_a_failure_without_the_url(exchange, cls):
    source = _source(cls, exchange)
    exchange.stop()
    with pytest.raises(SourceError) as err:
        source.fetch(["DOGE/USD"])
    assert "cannot connect" in str(err.value) and "127.0.0.1" not in str(err.value)


def test_bitstamp_quotes_are_as_old_as_its_ticker(exchange):
    rates, _ = _source(Bitstamp, exchange).fetch(["DOGE/USD"])
    assert rates["DOGE/USD"][1] is not None
