"""Fiat rates in the unit layer: sources as plugins (transient_register_rate_sources), the
settings, the stored quotes and their per-pair lease, the refresher's back-off, and priced
payments through the HTTP API (Falcon's TestClient) on the FakeBackend."""

import datetime
import json
from decimal import Decimal
from fractions import Fraction

import pytest
from _api import post
from fakes import fake_plugin_manager, fake_runtime

from transient import hookimpl, settings
from transient.core.clock import utcnow
from transient.core.errors import ConfigError, PluginError, RateUnavailable
from transient.plugin import RateSource, SourceError  # what a third-party source imports
from transient.rates import registry, store
from transient.rates.book import Policy, RateBook
from transient.rates.refresher import RateRefresher
from transient.runtime import plugins
from transient.store.models import Delivery, Payment, PooledAddress, RatePair, RateQuote


class Scripted(RateSource):
    """A rate source whose answers the test sets (``ANSWERS[name]``: {pair: "rate"} or an
    exception to raise); it counts its fetches."""

    name = "scripted"
    ANSWERS = {}
    CALLS = []

    def quotes(self, base, quote):
        return True

    def fetch(self, pairs):
        self.CALLS.append((self.name, tuple(pairs)))
        answer = self.ANSWERS.get(self.name, {})
        if isinstance(answer, Exception):
            raise answer
        return {p: (Decimal(answer[p]), None) for p in pairs if p in answer}, {
            p: "unknown pair" for p in pairs if p not in answer
        }


class Second(Scripted):
    name = "second"


class RatesPlugin:
    @hookimpl
    def transient_register_rate_sources(self):
        return [Scripted, Second]


def rates_pm():
    pm = fake_plugin_manager()
    pm.register(RatesPlugin(), name="tests.rates")
    return pm


@pytest.fixture(autouse=True)
def _answers():
    Scripted.ANSWERS.clear()
    Scripted.CALLS.clear()
    yield


def test_transient_register_rate_sources_gives_builtins_and_plugins():
    classes = registry.collect_sources(rates_pm())
    assert {"kraken", "coinbase", "bitstamp", "fixed", "scripted", "second"} <= set(classes)


def test_a_rate_source_registered_twice_fails_at_start():
    pm = rates_pm()

    class Again:
        @hookimpl
        def transient_register_rate_sources(self):
            return [Scripted]

    pm.register(Again(), name="again")
    with pytest.raises(PluginError, match="registered twice"):
        registry.collect_sources(pm)


def test_an_unknown_source_name_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError) as err:
        registry.build_sources(["kraken", "nope"], registry.collect_sources(plugins.get_plugin_manager(False)), {})
    assert err.value.field == "rates.sources" and "nope" in err.value.message


def _load(tmp_path, text, environ=None):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return settings.load(str(path), environ=environ or {})


def test_rate_settings_and_source_tables(tmp_path):
    config = _load(
        tmp_path,
        '[rates]\nfiat = ["usd", "EUR"]\nvia = ["btc"]\nspread = "1.5"\n'
        '[rates.kraken]\nurl = "http://127.0.0.1:9/"\ntimeout = 2\n'
        '[rates.fixed]\n"DOGE/USD" = "0.125"\n',
        {"TRANSIENT_RATES_COINBASE_URL": "http://127.0.0.1:8/"},
    )
    assert config["rates.fiat"] == ["USD", "EUR"] and config["rates.via"] == ["BTC"]
    assert config.rate_sources["kraken"] == {"url": "http://127.0.0.1:9/", "timeout": 2}
    assert config.rate_sources["coinbase"]["url"] == "http://127.0.0.1:8/"
    assert config.rate_sources["fixed"]["pairs"] == {"DOGE/USD": "0.125"}


@pytest.mark.parametrize(
    "text, key",
    [
        ('[rates]\nfiat = ["XYZ"]\n', "rates.fiat"),
        ('[rates]\nmax_age = "soon"\n', "rates.max_age"),
        ("[rates]\nmax_deviation = 3.5\n", "rates.max_deviation"),
        ('[rates]\nmax_move = "1"\n', "rates.max_move"),
        ('[rates]\nmax_move = "-5"\n', "rates.max_move"),
        ('[rates.kraken]\nurl = "ftp://x"\n', "rates.kraken.url"),
        ('[rates.kraken]\nproxy = "x"\n', "rates.kraken.proxy"),
        ('[rates.fixed]\n"DOGE/USD" = 0.125\n', "rates.fixed"),
        ('[rates.fixed]\n"DOGE/USD" = "cheap"\n', "rates.fixed"),
    ],
)
def test_bad_rate_settings_name_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    assert err.value.field == key


# -- the stored quotes, the lease, the refresher -------------------------------------------


class Clock:
    def __init__(self):
        self.now = datetime.datetime(2026, 1, 1, 12, 0, 0)

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += datetime.timedelta(seconds=seconds)


@pytest.fixture()
def db(tmp_path):
    from transient.store import migrations
    from transient.store.db import open_database

    database = open_database("sqlite:///%s" % (tmp_path / "rates.db"))
    migrations.apply(database)
    yield database
    database.close()


def _book(clock, names=("scripted", "second"), **policy):
    sources = [cls({}) for cls in (Scripted, Second) if cls.name in names]
    return RateBook(["DOGE"], ["USD", "EUR"], sources, Policy(**policy), via=["BTC"], clock=clock), sources


def _refresher(book, sources, db, clock, holder="h1", interval=60):
    return RateRefresher(book.plan(), sources, db, interval, store.PairLease(holder, 120, clock), clock)


def test_n_refreshers_make_one_fetch_per_source_per_interval(db):
    clock = Clock()
    book, sources = _book(clock)
    Scripted.ANSWERS.update(scripted={"DOGE/USD": "0.1"}, second={"DOGE/USD": "0.1"})
    workers = [_refresher(book, sources, db, clock, holder="w%d" % i) for i in range(5)]
    for _ in range(3):  # every worker ticks three times in the interval
        for w in workers:
            w.tick()
    assert sorted(name for name, _ in Scripted.CALLS) == ["scripted", "second"]  # one call each, all pairs
    assert set(Scripted.CALLS[0][1]) == set(book.plan())
    clock.advance(60)
    for w in workers:
        w.tick()
    assert len(Scripted.CALLS) == 4


def test_a_held_lease_is_not_taken_until_it_expires(db):
    clock = Clock()
    first, second = store.PairLease("a", 120, clock), store.PairLease("b", 120, clock)
    assert first.claim("DOGE/USD") and not second.claim("DOGE/USD")
    clock.advance(121)  # "a" died holding it
    assert second.claim("DOGE/USD")
    second.done("DOGE/USD", 60)
    assert not first.claim("DOGE/USD")  # refreshed: not due for 60 s
    assert RatePair.get_by_id("DOGE/USD").refreshed_at == clock.now


def test_a_failing_source_backs_off_and_keeps_its_old_quote(db, caplog):
    clock = Clock()
    book, sources = _book(clock)
    Scripted.ANSWERS.update(scripted={"DOGE/USD": "0.1"}, second={"DOGE/USD": "0.1"})
    worker = _refresher(book, sources, db, clock)
    worker.tick()
    assert book.price("DOGE", "USD").rate == Decimal("0.1")
    Scripted.ANSWERS["second"] = SourceError("no answer within 5 s")
    for _step in range(6):
        clock.advance(60)
        worker.tick()
    calls = [c for c in Scripted.CALLS if c[0] == "second"]
    assert len(calls) < 5  # backed off: 60, 120, 240 s... not every interval
    assert sum("second failing" in r.message for r in caplog.records) == 1  # logged once
    row = RateQuote.get(pair="DOGE/USD", source="second")
    assert row.rate == "0.1" and "no answer" in row.error
    # Its quote aged past max_age: with two sources required there is no rate.
    with pytest.raises(Exception) as err:
        book.price("DOGE", "USD")
    assert err.value.code == "rate_unavailable" and "second" in err.value.message


def test_a_kept_rate_expires_with_its_quotes(db):
    """The per-worker cache of an agreement is valid only while its rows are unchanged
    and its quotes are younger than max_age."""
    clock = Clock()
    book, sources = _book(clock)
    Scripted.ANSWERS.update(scripted={"DOGE/USD": "0.1"}, second={"DOGE/USD": "0.1"})
    _refresher(book, sources, db, clock).tick()
    assert book.price("DOGE", "USD") is book.price("DOGE", "USD")  # kept: same rows, still fresh
    clock.advance(300)
    assert book.price("DOGE", "USD").rate == Decimal("0.1")
    clock.advance(1)  # no new row, but the quotes are now 301 s old
    with pytest.raises(RateUnavailable, match="stale"):
        book.price("DOGE", "USD")
    RateQuote.update(rate="0.2", fetched_at=clock.now).execute()  # new rows: read again
    assert book.price("DOGE", "USD").rate == Decimal("0.2")


def test_a_pair_no_source_agrees_on_is_crossed_through_via(db):
    clock = Clock()
    book, sources = _book(clock)
    Scripted.ANSWERS.update(
        scripted={"DOGE/BTC": "0.000002", "BTC/EUR": "50000"},
        second={"DOGE/BTC": "0.000002", "BTC/EUR": "50000", "DOGE/EUR": "9"},
    )
    _refresher(book, sources, db, clock).tick()
    priced = book.price("DOGE", "EUR")  # DOGE/EUR direct: only one source quotes it
    assert priced.rate == Decimal("0.1")
    assert {(s["source"], s["pair"]) for s in priced.sources} == {
        ("scripted", "DOGE/BTC"),
        ("second", "DOGE/BTC"),
        ("scripted", "BTC/EUR"),
        ("second", "BTC/EUR"),
    }
    report = book.report("DOGE", "EUR")
    assert report["usable"] and report["rate"] == "0.1"
    assert any(q["pair"] == "DOGE/EUR" and q["state"] == "stale" for q in report["quotes"])


# -- priced payments through the API --------------------------------------------------------

RATES = '[rates]\nfiat = ["USD", "EUR"]\nsources = ["scripted", "second"]\n'


@pytest.fixture()
def priced(tmp_path):
    from fakes import fake_coin_config
    from falcon import testing

    from transient.runtime import Runtime
    from transient.store import migrations

    path = tmp_path / "config.toml"
    path.write_text(
        '[database]\nurl = "sqlite:///%s"\n[webhook]\nallowed_networks = ["127.0.0.0/8"]\n%s\n%s'
        % (tmp_path / "p.db", RATES, fake_coin_config())
    )
    runtime = Runtime(settings.load(str(path), environ={}), pm=rates_pm())
    migrations.apply(runtime.db)
    Scripted.ANSWERS.update(scripted={"LTC/USD": "80.10"}, second={"LTC/USD": "80.30"})
    runtime.rate_refresher.tick()
    yield testing.TestClient(runtime.app()), runtime
    runtime.close()


def test_a_priced_payment_is_converted_at_the_median_rounded_up(priced):
    client, runtime = priced
    resp = post(
        client,
        {"currency": "LTC", "price": "19.99", "price_currency": "usd", "callback_url": "http://127.0.0.1:9/hook"},
    )
    assert resp.status_code == 201, resp.text
    p = resp.json["payment"]
    assert (p["price"], p["price_currency"], p["rate"]) == ("19.99", "USD", "80.2")
    assert p["amount"] == "0.24925188"  # 19.99 / 80.2 = 0.249251870..., rounded up
    assert Fraction(Decimal(p["amount"])) * Fraction(Decimal(p["rate"])) >= Fraction(Decimal("19.99"))
    assert {s["source"] for s in p["rate_sources"]} == {"scripted", "second"}
    assert p["rate_at"].endswith("Z")
    created = datetime.datetime.fromisoformat(p["created_at"][:-1])
    assert datetime.datetime.fromisoformat(p["expires_at"][:-1]) - created == datetime.timedelta(minutes=15)
    assert client.simulate_get("/payments/%s" % p["id"]).json["payment"] == p
    # The webhook (and AMQP) body embeds the payment object, price and rate included.
    sent = json.loads(Delivery.get(Delivery.payment == p["id"]).body)
    assert {k: sent["payment"][k] for k in ("price", "price_currency", "rate", "rate_sources", "rate_at")} == {
        k: p[k] for k in ("price", "price_currency", "rate", "rate_sources", "rate_at")
    }


def test_an_explicit_expiry_wins_over_the_rate_lock(priced):
    client, _ = priced
    p = post(client, {"currency": "LTC", "price": "5", "price_currency": "USD", "expires_in": 60}).json["payment"]
    created = datetime.datetime.fromisoformat(p["created_at"][:-1])
    assert datetime.datetime.fromisoformat(p["expires_at"][:-1]) - created == datetime.timedelta(seconds=60)


def test_an_unpriced_payment_shows_nulls(priced):
    client, _ = priced
    p = post(client, {"currency": "LTC", "amount": "1"}).json["payment"]
    assert [p[k] for k in ("price", "price_currency", "rate", "rate_sources", "rate_at")] == [None] * 5


@pytest.mark.parametrize(
    "body, field",
    [
        ({"currency": "LTC", "amount": "1", "price": "5", "price_currency": "USD"}, "price"),
        ({"currency": "LTC"}, "amount"),
        ({"currency": "LTC", "price": "5"}, "price_currency"),
        ({"currency": "LTC", "price_currency": "USD"}, "price"),
        ({"currency": "LTC", "price": "5.001", "price_currency": "USD"}, "price"),
        ({"currency": "LTC", "price": True, "price_currency": "USD"}, "price"),
        ({"currency": "LTC", "price": "5", "price_currency": 840}, "price_currency"),
        ({"currency": "LTC", "price": "5", "price_currency": "DOLLARS"}, "price_currency"),
        ({"currency": "LTC", "price": "5", "price_currency": "GBP"}, "price_currency"),  # not in [rates] fiat
    ],
)
def test_bad_priced_requests_are_422_naming_the_field(priced, body, field):
    client, _ = priced
    before = Payment.select().count()
    resp = post(client, body)
    assert resp.status_code == 422, resp.text
    assert resp.json["error"]["field"] == field
    assert Payment.select().count() == before


def test_no_usable_rate_is_a_503_and_nothing_is_written(priced):
    client, runtime = priced
    fake = runtime.backends["LTC"]
    before = (Payment.select().count(), len(fake.labels), PooledAddress.select().count())
    RateQuote.update(fetched_at=utcnow() - datetime.timedelta(seconds=301)).where(
        RateQuote.source == "second"
    ).execute()
    resp = post(client, {"currency": "LTC", "price": "19.99", "price_currency": "USD"})
    assert resp.status_code == 503
    err = resp.json["error"]
    assert err["code"] == "rate_unavailable" and "LTC/USD" in err["message"] and "second stale" in err["message"]
    assert (Payment.select().count(), len(fake.labels), PooledAddress.select().count()) == before  # no address used
    health = client.simulate_get("/healthz").json
    assert health["rates"]["ok"] is False and health["rates"]["stale"][0]["pair"] == "LTC/USD"
    rate = client.simulate_get("/rates/LTC/USD")
    assert rate.status_code == 503 and rate.json["rate"]["usable"] is False
    assert "second stale" in rate.json["rate"]["reason"]


def test_get_rates_shows_the_rate_and_each_quote(priced):
    client, _ = priced
    resp = client.simulate_get("/rates/ltc/usd")
    assert resp.status_code == 200
    rate = resp.json["rate"]
    assert (rate["pair"], rate["rate"], rate["usable"], rate["reason"]) == ("LTC/USD", "80.2", True, None)
    assert sorted((q["source"], q["rate"], q["state"]) for q in rate["quotes"]) == [
        ("scripted", "80.1", "used"),
        ("second", "80.3", "used"),
    ]
    assert all(q["age_seconds"] is not None for q in rate["quotes"])
    assert client.simulate_get("/rates/LTC/GBP").status_code == 404
    assert client.simulate_get("/rates/XYZ/USD").status_code == 422
    # LTC/USD is fresh; LTC/EUR is configured but no source answers for it.
    stale = client.simulate_get("/healthz").json["rates"]["stale"]
    assert [s["pair"] for s in stale] == ["LTC/EUR"] and "scripted failing (unknown pair)" in stale[0]["reason"]


def test_the_fixed_source_prices_by_hand(tmp_path):
    client, runtime = fake_runtime(
        tmp_path, extra='[rates]\nfiat = ["EUR"]\nsources = ["fixed"]\n[rates.fixed]\n"LTC/EUR" = "64"\n'
    )
    try:
        runtime.rate_refresher.tick()
        p = post(client, {"currency": "LTC", "price": "16", "price_currency": "EUR"}).json["payment"]
        assert (p["amount"], p["rate"], p["rate_sources"][0]["source"]) == ("0.25", "64", "fixed")
    finally:
        runtime.close()


def test_the_checkout_page_shows_the_price_and_rate(priced):
    client, _ = priced
    p = post(client, {"currency": "LTC", "price": "19.99", "price_currency": "USD"}).json["payment"]
    page = client.simulate_get("/pay/%s" % p["id"]).text
    assert '<span id="price">19.99</span> USD' in page and "1 LTC = 80.2 USD" in page
    plain = post(client, {"currency": "LTC", "amount": "1"}).json["payment"]
    assert '<p class="requested price" hidden>' in client.simulate_get("/pay/%s" % plain["id"]).text


def test_the_cli_prints_every_pair(tmp_path, capsys):
    from transient.cli import commands
    from transient.runtime import Runtime

    path = tmp_path / "config.toml"
    path.write_text(
        '[database]\nurl = "sqlite:///%s"\nauto_migrate = true\n'
        '[rates]\nfiat = ["USD", "EUR"]\nsources = ["fixed"]\n[rates.fixed]\n"DOGE/USD" = "0.125"\n'
        '[coins.DOGE]\nbackend = "dogecoin"\nrpc_url = "http://127.0.0.1:9/"\naddress_pool = 0\n'
        % (tmp_path / "cli.db")
    )
    runtime = Runtime(settings.load(str(path), environ={}))
    runtime.prepare_schema()
    runtime.rate_refresher.tick()  # what the daemon's refresher does
    runtime.close()
    code = commands.main(["rates", "--config", str(path)])
    out = capsys.readouterr().out
    assert code == 1  # DOGE/EUR has no rate: no source quotes it
    assert "DOGE/USD" in out and "0.125" in out and "fixed" in out and "DOGE/EUR: no usable rate" in out
    assert commands.main(["--json", "rates", "--config", str(path)]) == 1
    reports = json.loads(capsys.readouterr().out)
    assert [r["pair"] for r in reports] == ["DOGE/USD", "DOGE/EUR"] and reports[0]["rate"] == "0.125"
    args = [
        "payments",
        "create",
        "--offline",
        "--currency",
        "DOGE",
        "--price",
        "1",
        "--price-currency",
        "EUR",
        "--config",
        str(path),
    ]
    assert commands.main(args) == 1
    assert "no usable rate for DOGE/EUR: no configured source quotes it" in capsys.readouterr().err
    assert (
        commands.main(
            [
                "payments",
                "create",
                "--offline",
                "--currency",
                "DOGE",
                "--price",
                "1.001",
                "--price-currency",
                "USD",
                "--config",
                str(path),
            ]
        )
        == 2
    )
    assert "--price has more than 2 decimal places" in capsys.readouterr().err


def test_the_spread_lowers_the_rate_and_more_sources_than_configured_is_a_config_error(tmp_path):
    client, runtime = fake_runtime(
        tmp_path, extra='[rates]\nfiat = ["EUR"]\nsources = ["fixed"]\nspread = "10"\n[rates.fixed]\n"LTC/EUR" = "64"\n'
    )
    try:
        runtime.rate_refresher.tick()
        p = post(client, {"currency": "LTC", "price": "16", "price_currency": "EUR"}).json["payment"]
        assert (p["rate"], p["amount"]) == ("57.6", "0.27777778")  # 64 less 10 %; 16 / 57.6 rounded up
        assert p["rate_sources"][0]["rate"] == "64"  # the quote as the source gave it
    finally:
        runtime.close()
    (tmp_path / "b").mkdir()
    with pytest.raises(ConfigError) as err:
        fake_runtime(tmp_path / "b", extra='[rates]\nfiat = ["EUR"]\nsources = ["fixed"]\nmin_sources = 2\n')
    assert err.value.field == "rates.min_sources"


def test_a_priced_replay_needs_no_rate(priced):
    client, runtime = priced
    body = {"currency": "LTC", "price": "5", "price_currency": "USD"}
    first = post(client, body, headers={"Idempotency-Key": "order-77"})
    assert first.status_code == 201
    RateQuote.delete().execute()  # every rate gone
    runtime.rates.forget()  # as a save by its refresher would (else seen within RECHECK)
    again = post(client, body, headers={"Idempotency-Key": "order-77"})
    assert again.status_code == 200 and again.json["payment"]["id"] == first.json["payment"]["id"]
    assert post(client, body).status_code == 503


# -- hostile quotes (issue 25) ----------------------------------------------------


class Third(Scripted):
    name = "third"


def _three(clock, **policy):
    sources = [Scripted({}), Second({}), Third({})]
    return RateBook(["LTC"], ["USD"], sources, Policy(**policy), clock=clock), sources


def test_an_absurd_number_from_an_exchange_is_no_rate_and_its_error_line_is_short():
    from transient.rates.logic import parse_rate

    for text in ("1e30", "1e-20000000", "1e13", "0.0000000000001", "1" * 31):
        with pytest.raises(ValueError):
            parse_rate(text)
    with pytest.raises(ValueError) as err:
        parse_rate("1" * 1_000_000)
    assert len(str(err.value)) < 200  # the line logged and stored, not the exchange's megabyte
    assert parse_rate("81.20") == Decimal("81.20") and parse_rate("0.000000000001") == Decimal("1e-12")


def test_one_exchange_answering_1e30_leaves_the_other_two_agreeing(db):
    # It was stored as 31 digits that could not be read back: every fiat price raised.
    clock = Clock()
    book, sources = _three(clock)
    Scripted.ANSWERS.update(scripted={"LTC/USD": "81.20"}, second={"LTC/USD": "80.90"}, third={"LTC/USD": "1e30"})
    RateRefresher(book.plan(), sources, db, 60, store.PairLease("h", 120, clock), clock).tick()
    assert book.price("LTC", "USD").rate == Decimal("81.05")
    row = RateQuote.get(pair="LTC/USD", source="third")
    assert row.rate is None and "out of range" in row.error


def test_a_stored_rate_that_does_not_read_back_is_no_rate_not_an_error(db):
    clock = Clock()
    book, sources = _three(clock)
    for name, rate in (("scripted", "81.20"), ("second", "80.90"), ("third", "1" + "0" * 30)):
        RateQuote.create(pair="LTC/USD", source=name, rate=rate, fetched_at=clock.now)
    assert book.price("LTC", "USD").rate == Decimal("81.05")


def test_sources_agreeing_on_an_absurd_rate_are_refused_by_max_move(db, caplog):
    # 1e12 USD per LTC from all three prices a $1 000 invoice at one litoshi.
    clock = Clock()
    book, sources = _three(clock)
    worker = RateRefresher(book.plan(), sources, db, 60, store.PairLease("h", 120, clock), clock, max_move=Decimal(10))
    Scripted.ANSWERS.update(scripted={"LTC/USD": "81.20"}, second={"LTC/USD": "80.90"}, third={"LTC/USD": "81"})
    worker.tick()
    assert book.price("LTC", "USD").rate == Decimal("81")
    Scripted.ANSWERS.update(scripted={"LTC/USD": "1e12"}, second={"LTC/USD": "1e12"}, third={"LTC/USD": "1e12"})
    for _ in range(6):
        clock.advance(60)
        worker.tick()
    with pytest.raises(RateUnavailable) as err:  # the accepted quotes aged out: no rate, a 503
        book.price("LTC", "USD")
    assert "max_move" in err.value.message
    assert sum("max_move" in r.message for r in caplog.records) == 3  # once per source
    # A real move within the bound is taken.
    Scripted.ANSWERS.update(scripted={"LTC/USD": "160"}, second={"LTC/USD": "161"}, third={"LTC/USD": "162"})
    clock.advance(60)
    worker.tick()
    assert book.price("LTC", "USD").rate == Decimal("161")


class Ticks:
    """A monotonic clock moved by hand."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_worker_prices_from_memory_and_reads_again_after_its_refresh_or_recheck(db):
    clock, ticks = Clock(), Ticks()
    sources = [Scripted({}), Second({})]
    book = RateBook(["DOGE"], ["USD"], sources, Policy(), clock=clock, recheck=1.0, monotonic=ticks)
    Scripted.ANSWERS.update(scripted={"DOGE/USD": "0.1"}, second={"DOGE/USD": "0.1"})
    own = RateRefresher(book.plan(), sources, db, 60, store.PairLease("own", 120, clock), clock, saved=book.forget)
    own.tick()
    assert book.price("DOGE", "USD").rate == Decimal("0.1")
    # Another daemon's refresher (no word to this book) stores new quotes: this worker
    # prices from what it read, with no query, until ``recheck`` has passed.
    clock.advance(61)
    Scripted.ANSWERS.update(scripted={"DOGE/USD": "0.2"}, second={"DOGE/USD": "0.2"})
    RateRefresher(book.plan(), sources, db, 60, store.PairLease("other", 120, clock), clock).tick()
    ticks.now += 0.5
    assert book.price("DOGE", "USD").rate == Decimal("0.1")
    ticks.now += 0.6
    assert book.price("DOGE", "USD").rate == Decimal("0.2")
    # This process's own refresher: its quotes count at once.
    clock.advance(61)
    Scripted.ANSWERS.update(scripted={"DOGE/USD": "0.3"}, second={"DOGE/USD": "0.3"})
    own.tick()
    assert book.price("DOGE", "USD").rate == Decimal("0.3")
