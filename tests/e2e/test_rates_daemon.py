"""Priced payments end to end: a real transientd on the litecoind regtest node, its rate
sources (kraken, coinbase, bitstamp) pointed at a local exchange server (tests/_exchange.py).
The server stops: once the quotes pass max_age, create is a 503 and nothing is written;
it comes back: create works again without a restart."""

from decimal import Decimal
from fractions import Fraction

import pytest
from _cli import as_json, run
from _daemon import wait_for
from _exchange import Exchange

pytestmark = pytest.mark.regtest


@pytest.fixture()
def exchange():
    server = Exchange().start()
    server.set("LTC/USD", "80.10", only=["kraken"])
    server.set("LTC/USD", "80.20", only=["coinbase"])
    server.set("LTC/USD", "80.40", only=["bitstamp"])
    yield server
    server.stop()


def rates_config(exchange, max_age=4):
    return '[rates]\nfiat = ["USD"]\nrefresh_interval = 1\nmax_age = %d\n' % max_age + "".join(
        '[rates.%s]\nurl = "%s"\ntimeout = 5\n' % (n, exchange.url(n)) for n in ("kraken", "coinbase", "bitstamp")
    )


def _count(d):
    return len(d.get("/payments?limit=500").json()["payments"])


def _create(d, **body):
    return d.post("/payments", json={"currency": "LTC", "price": "19.99", "price_currency": "USD", **body})


def _until(d, status, timeout, path=None):
    """Poll (create, or GET ``path``) until the answer has ``status``; return it. (A requests
    Response is falsy for a 4xx/5xx, so wait_for gets it in a list.)"""

    def poll():
        resp = d.get(path) if path else _create(d)
        return [resp] if resp.status_code == status else None

    return wait_for(poll, timeout=timeout, interval=0.5)[0]


def test_a_priced_payment_fails_closed_and_recovers(start_daemon, regtest, exchange):
    d = start_daemon(extra=rates_config(exchange))

    # Two sources already make a usable rate (their median): create until a payment is
    # priced by all three (a loaded machine can leave one a refresh behind for a moment).
    made = []

    def priced_by_three():
        resp = _create(d)
        assert resp.status_code in (201, 503), resp.text
        made.extend([resp] if resp.status_code == 201 else [])
        return [resp] if resp.status_code == 201 and len(resp.json()["payment"]["rate_sources"]) == 3 else None

    resp = wait_for(priced_by_three, timeout=30, interval=0.5)[0]
    p = resp.json()["payment"]
    assert (p["price"], p["price_currency"], p["rate"]) == ("19.99", "USD", "80.2")  # the median of three
    assert p["amount"] == "0.24925188"
    assert Fraction(Decimal(p["amount"])) * Fraction(Decimal(p["rate"])) >= Fraction(Decimal("19.99"))
    assert sorted(s["source"] for s in p["rate_sources"]) == ["bitstamp", "coinbase", "kraken"]

    # The customer pays the amount on the real node: the payment is PAID and keeps its price.
    regtest.pay(p["payment_address"], p["amount"])
    regtest.mine(1)
    paid = d.wait_status(p["id"], "PAID", timeout=30)
    assert (paid["price"], paid["rate"], paid["rate_sources"]) == (p["price"], p["rate"], p["rate_sources"])

    # The exchanges go away: after max_age there is no rate, create is a 503 and writes nothing.
    exchange.stop()
    _until(d, 503, 30, "/rates/LTC/USD")
    before = _count(d)

    def all_stale():
        # A quote refreshed just before the stop is fresh a little longer than the others.
        resp = _create(d)
        assert resp.status_code == 503, resp.text  # never a payment while there is no rate
        words = resp.json()["error"]["message"]
        return [resp] if all("%s stale" % n in words for n in ("kraken", "coinbase", "bitstamp")) else None

    refused = wait_for(all_stale, timeout=30, interval=0.5)[0]
    error = refused.json()["error"]
    assert error["code"] == "rate_unavailable" and "LTC/USD" in error["message"]
    assert _count(d) == before
    assert d.get("/rates/LTC/USD").status_code == 503
    health = d.get("/healthz").json()
    assert health["rates"]["ok"] is False and health["rates"]["stale"][0]["pair"] == "LTC/USD"

    # They come back: the refresher picks them up again, no restart needed.
    exchange.start()
    _until(d, 200, 60, "/rates/LTC/USD")
    made.clear()  # as at the start, a source may be a refresh behind the others for a moment
    again = wait_for(priced_by_three, timeout=30, interval=0.5)[0]
    assert again.json()["payment"]["rate"] == "80.2"
    assert _count(d) == before + len(made)  # each 201 a payment, each 503 nothing
    assert d.get("/healthz").json()["rates"] == {"ok": True, "stale": []}
    # Each failing source was logged once, not once per attempt.
    log = d.log()
    assert log.count("rates: kraken failing") == 1, log[-3000:]


def test_one_exchange_disagreeing_is_dropped_and_the_cli_shows_it(start_daemon, regtest, exchange):
    exchange.set("LTC/USD", "95", only=["bitstamp"])  # 18 % above the others
    d = start_daemon(extra=rates_config(exchange, max_age=30))

    def all_fetched():
        resp = d.get("/rates/LTC/USD")
        rate = resp.json()["rate"] if resp.status_code == 200 else None
        return rate if rate and all(q["state"] != "stale" for q in rate["quotes"]) else None

    rate = wait_for(all_fetched, timeout=30, interval=0.5)
    assert rate["rate"] == "80.15"
    states = {q["source"]: q["state"] for q in rate["quotes"]}
    assert states == {"kraken": "used", "coinbase": "used", "bitstamp": "dropped"}
    # The CLI on the same config: the table, and a priced payment from the real node.
    shown = as_json(run("--json", "rates", "--config", d.config_path, cwd=d.workdir))
    assert shown[0]["pair"] == "LTC/USD" and shown[0]["rate"] == "80.15"
    created = as_json(
        run(
            "--json",
            "payments",
            "create",
            "--currency",
            "LTC",
            "--price",
            "16.03",
            "--price-currency",
            "USD",
            "--config",
            d.config_path,
            cwd=d.workdir,
        )
    )
    assert (created["price"], created["rate"], created["amount"]) == ("16.03", "80.15", "0.2")
    assert created["payment_address"].startswith("rltc1")
