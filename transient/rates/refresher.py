"""The refresher: a small job of its own in each worker. Every few seconds it claims the
pairs that are due (the per-pair lease: one refresher for the whole cluster), asks each
source for its claimed pairs in one call and stores the quotes. Failing sources back off
and are logged once per change of state. Creating a payment never waits on it."""

import datetime
import logging
import threading

from . import store
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
    ``sources`` (instances) every ``interval`` seconds; ``lease`` is a PairLease."""

    def __init__(self, plan, sources, db, interval, lease, clock, tick=None):
        self.plan = plan
        self.sources = {s.name: s for s in sources}
        self.db = db
        self.interval = interval
        self.lease = lease
        self.clock = clock
        # How often the due pairs are looked at (one UPDATE per pair): a tenth of the interval.
        self.tick_seconds = tick or min(5.0, interval / 10)
        self.states = {name: SourceState(name) for name in self.sources}
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
            for name, source in self.sources.items():
                state = self.states[name]
                wanted = [p for p in claimed if name in self.plan[p]]
                if not wanted or not state.ready(now):
                    continue
                self._fetch(source, state, wanted)
        finally:
            for pair in claimed:
                self.lease.done(pair, self.interval)
        return claimed

    def _fetch(self, source, state, pairs):
        self.requests += 1
        try:
            rates, errors = source.fetch(pairs)
        except SourceError as exc:
            now = self.clock()
            store.save(self.db, source.name, {}, {p: str(exc) for p in pairs}, now)
            state.failed(exc, self.interval, now, _seconds)
            return
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not stop the other sources
            log.exception("rates: %s raised", source.name)
            state.failed(exc.__class__.__name__, self.interval, self.clock(), _seconds)
            return
        store.save(self.db, source.name, rates, errors, self.clock())
        state.worked()

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


def _seconds(value):
    return datetime.timedelta(seconds=value)
