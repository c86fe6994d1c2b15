"""The stored quotes and the per-pair refresh lease (one conditional UPDATE, as the
sync's ChainState lease): N workers or hosts make one refresh per pair per interval."""

import datetime

from ..store.db import write_transaction
from ..store.leases import LeaseRow
from ..store.models import RatePair, RateQuote
from .logic import Quote, median, parse_rate, text

PAIRS = LeaseRow(RatePair.pair, RatePair.lease_holder, RatePair.lease_expires)


class PairLease:
    """``claim(pair)`` takes the pair's refresh when it is due and nobody else holds it;
    ``done(pair, interval)`` releases it and sets the next due time."""

    def __init__(self, holder, seconds, clock):
        self.holder = holder
        self.seconds = seconds
        self.clock = clock
        self._claimed = {}  # pair -> when this holder claimed it

    def claim(self, pair):
        """Return True when this holder must refresh ``pair`` now."""
        now = self.clock()
        due = RatePair.due_at.is_null() | (RatePair.due_at <= now)
        if not PAIRS.take(pair, self.holder, self.seconds, now, where=due):
            return False
        self._claimed[pair] = now
        return True

    def done(self, pair, interval):
        # The next refresh is due an interval after this one started, so the period does
        # not drift by the fetch's duration and the refresher's tick.
        now = self.clock()
        started = self._claimed.pop(pair, now)
        PAIRS.give_up(pair, self.holder, refreshed_at=now, due_at=started + _s(interval))


def _s(seconds):
    return datetime.timedelta(seconds=seconds)


def save(db, source, rates, errors, now):
    """Store one source's fetch: ``rates`` maps a pair to ``(Decimal, at or None)``; ``errors``
    a pair to its error (the old rate is kept, and ages)."""
    with write_transaction(db):
        for pair, (rate, at) in rates.items():
            at = min(at, now) if at is not None else now
            RateQuote.insert(
                pair=pair, source=source, rate=text(rate), fetched_at=at, error=None, error_at=None
            ).on_conflict(
                conflict_target=[RateQuote.pair, RateQuote.source],
                update={
                    RateQuote.rate: text(rate),
                    RateQuote.fetched_at: at,
                    RateQuote.error: None,
                    RateQuote.error_at: None,
                },
            ).execute()
        for pair, error in errors.items():
            RateQuote.insert(pair=pair, source=source, error=error[:500], error_at=now).on_conflict(
                conflict_target=[RateQuote.pair, RateQuote.source],
                update={RateQuote.error: error[:500], RateQuote.error_at: now},
            ).execute()


_SQL = {}


def rows(pairs):
    """Return the stored rows ``(pair, source, rate, fetched_at, error)`` of the ``pairs``
    (names), sorted, from one indexed query (its text made once: building it with peewee
    cost more than running it)."""
    names = sorted(pairs)
    if not names:
        return ()
    db = RateQuote._meta.database
    key = (len(names), db.param)
    sql = _SQL.get(key)
    if sql is None:
        sql = _SQL[key] = 'SELECT "pair", "source", "rate", "fetched_at", "error" FROM "%s" WHERE "pair" IN (%s)' % (
            RateQuote._meta.table_name,
            ", ".join([db.param] * len(names)),
        )
    return tuple(sorted(tuple(r) for r in db.execute_sql(sql, names).fetchall()))


def quotes(found_rows, pairs):
    """Return ``{pair: [Quote]}`` for ``pairs`` (pair -> source names) from ``rows(...)``; a
    source with no row yet gives a Quote without a rate."""
    at = RateQuote.fetched_at.python_value
    found = {
        (pair, source): _quote(source, pair, rate, at(fetched_at), error)
        for pair, source, rate, fetched_at, error in found_rows
    }
    return {pair: [found.get((pair, name)) or Quote(name, pair, None, None) for name in pairs[pair]] for pair in pairs}


def _quote(source, pair, rate, at, error):
    # A row stored before rates were bounded may not read back as one: it is no rate (the
    # pair's other sources may still agree), never an error that fails every priced payment.
    try:
        return Quote(source, pair, parse_rate(rate) if rate else None, at, error)
    except ValueError as exc:
        return Quote(source, pair, None, at, str(exc))


def references(pairs):
    """Return ``{pair: Decimal}``: the median of each pair's stored rates (each source's
    last accepted quote, whatever its age), for the pairs that have any."""
    out = {}
    for pair, qs in load(pairs).items():
        rates = [q.rate for q in qs if q.rate is not None]
        if rates:
            out[pair] = median(rates)
    return out


def load(pairs):
    """Return ``{pair: [Quote]}`` for ``pairs`` (pair -> source names), in one query."""
    return quotes(rows(pairs), pairs)
