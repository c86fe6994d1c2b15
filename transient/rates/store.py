"""The stored quotes and the per-pair refresh lease (one conditional UPDATE, as the
sync's ChainState lease): N workers or hosts make one refresh per pair per interval."""
import datetime

from ..store.db import write_transaction
from ..store.models import RatePair, RateQuote
from .logic import Quote, parse_rate, text


class PairLease:
    """``claim(pair)`` takes the pair's refresh when it is due and nobody else holds it;
    ``done(pair, interval)`` releases it and sets the next due time."""

    def __init__(self, holder, seconds, clock):
        self.holder = holder
        self.seconds = seconds
        self.clock = clock

    def claim(self, pair):
        """Return True when this holder must refresh ``pair`` now."""
        RatePair.insert(pair=pair).on_conflict_ignore().execute()
        now = self.clock()
        due = RatePair.due_at.is_null() | (RatePair.due_at <= now)
        free = RatePair.lease_holder.is_null() | (RatePair.lease_expires < now) | (RatePair.lease_holder == self.holder)
        return RatePair.update(lease_holder=self.holder, lease_expires=now + _s(self.seconds)).where(
            (RatePair.pair == pair) & due & free).execute() == 1

    def done(self, pair, interval):
        now = self.clock()
        RatePair.update(lease_holder=None, lease_expires=None, refreshed_at=now, due_at=now + _s(interval)).where(
            (RatePair.pair == pair) & (RatePair.lease_holder == self.holder)).execute()


def _s(seconds):
    return datetime.timedelta(seconds=seconds)


def save(db, source, rates, errors, now):
    """Store one source's fetch: ``rates`` maps a pair to ``(Decimal, at or None)``; ``errors``
    a pair to its error (the old rate is kept, and ages)."""
    with write_transaction(db):
        for pair, (rate, at) in rates.items():
            at = min(at, now) if at is not None else now
            RateQuote.insert(pair=pair, source=source, rate=text(rate), fetched_at=at, error=None, error_at=None
                             ).on_conflict(conflict_target=[RateQuote.pair, RateQuote.source],
                                           update={RateQuote.rate: text(rate), RateQuote.fetched_at: at,
                                                   RateQuote.error: None, RateQuote.error_at: None}).execute()
        for pair, error in errors.items():
            RateQuote.insert(pair=pair, source=source, error=error[:500], error_at=now).on_conflict(
                conflict_target=[RateQuote.pair, RateQuote.source],
                update={RateQuote.error: error[:500], RateQuote.error_at: now}).execute()


def load(pairs):
    """Return ``{pair: [Quote]}`` for ``pairs`` (pair -> source names), in one query; a
    source with no row yet gives a Quote without a rate."""
    found = {}
    if pairs:
        for row in RateQuote.select().where(RateQuote.pair.in_(list(pairs))):
            found[(row.pair, row.source)] = row
    out = {}
    for pair, names in pairs.items():
        quotes = []
        for name in names:
            row = found.get((pair, name))
            if row is None:
                quotes.append(Quote(name, pair, None, None))
            else:
                quotes.append(Quote(name, pair, parse_rate(row.rate) if row.rate else None, row.fetched_at, row.error))
        out[pair] = quotes
    return out
