"""The refresher: a small job of its own in each worker. Every few seconds it claims the
pairs that are due (the per-pair lease: one refresher for the whole cluster), asks each
source for its claimed pairs in one call and stores the quotes. Failing sources back off
and are logged once per change of state. Creating a payment never waits on it."""

import datetime
import logging
import threading

from . import store
from .logic import moved, parse_rate, text
from .sources import SourceError

log = logging.getLogger("transient.rates")
MAX_BACKOFF = 600  # seconds


class SourceState:
    """One source's failures in this process: back-off and logging once per state change."""

    def __init__(self, name):
        self.name = name
        self.failures = 0
        self.retry_at = None

    def ready(self, now):
        return self.retry_at is None or now >= self.retry_at

    def failed(self, error, interval, now, seconds):
        self.failures += 1
        delay = min(interval * 2 ** (self.failures - 1), MAX_BACKOFF)
        self.retry_at = now + seconds(delay)
        if self.failures == 1:
            log.warning("rates: %s failing (%s); retrying with back-off up to %ds", self.name, error, MAX_BACKOFF)

    def worked(self):
        if self.failures:
            log.info("rates: %s answering again after %d failed fetch(es)", self.name, self.failures)
        self.failures, self.retry_at = 0, None


class RateRefresher:
    """Keeps the stored quotes of ``plan`` (``{pair: [source names]}``) fresh from the
    ``sources`` (instances) every ``interval`` seconds; ``lease`` is a PairLease.

    ``max_move`` (a Decimal factor, 0: off): a quote more than that many times above or
    below the pair's last accepted rate (the median of its stored quotes) is refused, kept
    as the source's error: sources that all agree on an absurd rate make no rate (503),
    not a $1 000 invoice priced at one litoshi."""

    def __init__(self, plan, sources, db, interval, lease, clock, tick=None, max_move=0, saved=None):
        self.plan = plan
        self.saved = saved  # called after each save (the RateBook's forget: it prices from memory)
        self.sources = {s.name: s for s in sources}
        self.db = db
        self.interval = interval
        self.lease = lease
        self.clock = clock
        # How often the due pairs are looked at (one UPDATE per pair): a tenth of the interval.
        self.tick_seconds = tick or min(5.0, interval / 10)
        self.max_move = max_move
        self.states = {name: SourceState(name) for name in self.sources}
        self._refused = set()  # (source, pair) whose refusal was logged
        self.requests = 0  # fetch calls made by this process (the benchmark counts HTTP requests)
        self._stop = threading.Event()
        self._thread = None

    def tick(self):
        """Refresh the pairs that are due and that this process could claim; return them."""
        claimed = [pair for pair in sorted(self.plan) if self.lease.claim(pair)]
        if not claimed:
            return []
        now = self.clock()
        try:
            references = store.references({p: self.plan[p] for p in claimed}) if self.max_move else {}
            for name, source in self.sources.items():
                state = self.states[name]
                wanted = [p for p in claimed if name in self.plan[p]]
                if not wanted or not state.ready(now):
                    continue
                self._fetch(source, state, wanted, references)
        finally:
            for pair in claimed:
                self.lease.done(pair, self.interval)
        return claimed

    def _fetch(self, source, state, pairs, references):
        self.requests += 1
        try:
            rates, errors = source.fetch(pairs)
        except SourceError as exc:
            now = self.clock()
            store.save(self.db, source.name, {}, {p: str(exc) for p in pairs}, now)
            self._saved()
            state.failed(exc, self.interval, now, _seconds)
            return
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not stop the other sources
            log.exception("rates: %s raised", source.name)
            state.failed(exc.__class__.__name__, self.interval, self.clock(), _seconds)
            return
        _readable(rates, errors)
        if getattr(source, "bounded", True):
            self._bound(source.name, rates, errors, references)
        store.save(self.db, source.name, rates, errors, self.clock())
        self._saved()
        state.worked()

    def _saved(self):
        if self.saved is not None:
            self.saved()

    def _bound(self, name, rates, errors, references):
        """Move the quotes too far from their pair's last accepted rate to ``errors``."""
        for pair, (rate, _) in list(rates.items()):
            reference = references.get(pair)
            if reference is None or not moved(rate, reference, self.max_move):
                self._refused.discard((name, pair))
                continue
            del rates[pair]
            errors[pair] = "refused %s: more than %s times the last accepted rate %s ([rates] max_move)" % (
                text(rate),
                text(self.max_move),
                text(reference),
            )
            if (name, pair) not in self._refused:
                self._refused.add((name, pair))
                log.warning("rates: %s %s %s", name, pair, errors[pair])

    def start(self):
        """Run ``tick`` in a thread until ``stop()``."""
        self._thread = threading.Thread(target=self._loop, name="rates-refresher", daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the database may be down: log, go on
                log.exception("rates: refresh failed")
            self._stop.wait(self.tick_seconds)

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


def _readable(rates, errors):
    """Move the rates that are no rate (a plugin's 1e-20000000) to ``errors``: what is
    stored reads back, and is a few dozen digits."""
    for pair, (rate, _) in list(rates.items()):
        try:
            parse_rate(rate)
        except ValueError as exc:
            del rates[pair]
            errors[pair] = str(exc)


def _seconds(value):
    return datetime.timedelta(seconds=value)
