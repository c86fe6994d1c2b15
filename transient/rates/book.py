"""The read side of rates: the pairs to keep, and the usable rate of a pair from the
stored quotes (one query), crossed through ``via`` when no source agrees on it directly."""

import datetime
import time
from dataclasses import dataclass

from ..core.clock import iso, utcnow
from ..core.errors import RateUnavailable, ValidationError
from . import logic, store


@dataclass(frozen=True)
class Policy:
    """``[rates]``: ``max_age`` seconds, ``max_deviation`` and ``spread`` percent strings,
    ``min_sources`` (0: 2 when two or more sources are configured, else 1)."""

    max_age: int = 300
    max_deviation: str = "3"
    min_sources: int = 0
    spread: str = "0"


@dataclass(frozen=True)
class Priced:
    """The rate a payment is priced with: ``rate`` (Decimal), the quotes used, the oldest fetch."""

    pair: str
    rate: object
    sources: list
    at: object


class RateBook:
    """Rates of the ``coins`` in the ``fiat`` codes, from the ``sources`` (instances), crossed
    through ``via``; ``policy`` is a :class:`Policy`.

    ``recheck`` seconds (0: every time): how long a pair's stored quotes, once read, are
    priced from memory without reading them again. This process's refresher calls
    :meth:`forget` after each save, so its own quotes count at once; another daemon's are
    seen within ``recheck``. A create then reads no quote at all. A pair priced from fewer
    than all its sources, or with no rate, is read every time (rare, and a source that is
    back must count at once)."""

    def __init__(self, coins, fiat, sources, policy, via=(), clock=utcnow, recheck=0.0, monotonic=time.monotonic):
        self.coins = sorted(coins)
        self.fiat = list(fiat)
        self.sources = list(sources)
        self.policy = policy
        self.via = list(via)
        self.clock = clock
        self.min_sources = policy.min_sources or (2 if len(self.sources) >= 2 else 1)
        self._plan = None
        self.recheck = recheck
        self.monotonic = monotonic
        self._cache = {}  # (coin, fiat) -> (stored rows, valid until, evaluation, read at, all sources agreed)
        self._priced = {}  # (pair, spread) -> (the evaluation it was priced from, Priced)

    def pairs(self):
        """Return the configured pairs ("DOGE/USD"), coins × fiat."""
        return ["%s/%s" % (c, f) for c in self.coins for f in self.fiat if c != f]

    def legs(self, coin, fiat):
        """Return ``[[pair], [leg, leg], ...]``: the direct pair, then each cross through ``via``."""
        routes = [["%s/%s" % (coin, fiat)]]
        for mid in self.via:
            if mid not in (coin, fiat):
                routes.append(["%s/%s" % (coin, mid), "%s/%s" % (mid, fiat)])
        return routes

    def plan(self):
        """Return ``{pair: [source names quoting it]}`` of every pair to fetch (direct and legs)."""
        if self._plan is not None:
            return self._plan
        out = {}
        for pair in self.pairs():
            for route in self.legs(*pair.split("/")):
                for leg in route:
                    base, quote = leg.split("/")
                    names = [s.name for s in self.sources if s.quotes(base, quote)]
                    if names:
                        out[leg] = names
        self._plan = out
        return out

    def evaluate(self, coin, fiat):
        """Return ``(route agreements, usable route or None)`` from the stored quotes.

        One indexed query each time; the agreement is kept per worker while the rows are
        the same and no quote it used has aged past ``max_age`` (the validated cache)."""
        now, read_at = self.clock(), self.monotonic()
        kept = self._cache.get((coin, fiat))
        if kept is not None and now < kept[1] and kept[4] and read_at - kept[3] < self.recheck:
            # Every source agreed, read less than ``recheck`` ago, nothing saved here since.
            # Anything less (no rate, a source missing) is read every time: a source that
            # comes back counts at once in every worker.
            return kept[2]
        plan = self.plan()
        routes = self.legs(coin, fiat)
        wanted = {leg: plan.get(leg, []) for route in routes for leg in route}
        found = store.rows(wanted)
        if kept is not None and kept[0] == found and now < kept[1]:
            self._cache[(coin, fiat)] = kept[:3] + (read_at,) + kept[4:]
            return kept[2]
        quotes = store.quotes(found, wanted)
        result = self._agree(routes, quotes, now)
        fresh = [q.at for qs in quotes.values() for q in qs if logic.is_fresh(q, now, self.policy.max_age)]
        until = min(fresh) + datetime.timedelta(seconds=self.policy.max_age) if fresh else now
        results, route = result
        complete = route is not None and all(
            len(agreed.used) == len(wanted[leg]) for agreed, leg in zip(route, routes[len(results) - 1])
        )
        self._cache[(coin, fiat)] = (found, until, result, read_at, complete)
        return result

    def forget(self):
        """Quotes were saved by this process: the next price reads them."""
        self._cache = {key: kept[:3] + (float("-inf"),) + kept[4:] for key, kept in self._cache.items()}

    def _agree(self, routes, quotes, now):
        p = self.policy
        results = []
        for route in routes:
            agreed = [logic.agree(leg, quotes[leg], now, p.max_age, p.max_deviation, self.min_sources) for leg in route]
            results.append(agreed)
            if all(a.rate is not None for a in agreed):
                return results, agreed
        return results, None

    def price(self, coin, fiat, spread=True):
        """Return the :class:`Priced` rate of ``coin`` in ``fiat``, or raise RateUnavailable naming
        the pair and why (which sources are stale or disagree). ``spread`` False: the agreed
        market rate, without the merchant's margin (a refund: fewer coins per fiat unit)."""
        pair = "%s/%s" % (coin, fiat)
        if fiat not in self.fiat or coin not in self.coins:
            raise ValidationError(
                "%s is not priced here ([rates] fiat: %s)" % (pair, ", ".join(self.fiat) or "none"), "price_currency"
            )
        evaluation = self.evaluate(coin, fiat)
        kept = self._priced.get((pair, spread))
        if kept is not None and kept[0] is evaluation:
            return kept[1]
        results, route = evaluation
        if route is None:
            reasons = [
                a.reason[len(pair) + 2 :] if a.reason.startswith(pair + ": ") else a.reason
                for agreed in results
                for a in agreed
                if a.reason
            ]
            raise RateUnavailable("no usable rate for %s: %s" % (pair, "; ".join(reasons)), "price_currency")
        rate = route[0].rate
        for leg in route[1:]:
            rate = logic.cross(rate, leg.rate)
        if spread:
            rate = logic.with_spread(rate, self.policy.spread)
        used = [q for a in route for q in a.used]
        priced = Priced(pair, rate, [_quote(q) for q in used], min(q.at for q in used))
        self._priced[(pair, spread)] = (evaluation, priced)
        return priced

    def report(self, coin, fiat):
        """Return the JSON-ready state of a pair: the rate (or null and why), each source's
        quote and age, for ``GET /rates/{currency}/{fiat}`` and ``transient rates``."""
        pair = "%s/%s" % (coin, fiat)
        now = self.clock()
        try:
            priced, reason = self.price(coin, fiat), None
        except (RateUnavailable, ValidationError) as exc:
            priced, reason = None, exc.message
        results, _ = self.evaluate(coin, fiat) if fiat in self.fiat else ([], None)
        quotes = []
        for agreed in results:
            for a in agreed:
                for q in a.used + a.dropped + a.stale:
                    state = "used" if q in a.used else "dropped" if q in a.dropped else "stale"
                    quotes.append(
                        {
                            **_quote(q),
                            "state": state,
                            "error": q.error,
                            "age_seconds": int((now - q.at).total_seconds()) if q.at else None,
                        }
                    )
        return {
            "pair": pair,
            "currency": coin,
            "fiat": fiat,
            "usable": priced is not None,
            "rate": logic.text(priced.rate) if priced else None,
            "rate_at": iso(priced.at) if priced else None,
            "spread": self.policy.spread,
            "max_age": self.policy.max_age,
            "min_sources": self.min_sources,
            "reason": reason,
            "quotes": quotes,
        }

    def stale_pairs(self):
        """Return ``[(pair, reason)]`` of the configured pairs that have no usable rate now."""
        out = []
        for pair in self.pairs():
            try:
                self.price(*pair.split("/"))
            except RateUnavailable as exc:
                out.append((pair, exc.message))
        return out


def _quote(q):
    return {
        "source": q.source,
        "pair": q.pair,
        "rate": logic.text(q.rate) if q.rate is not None else None,
        "at": iso(q.at),
    }
