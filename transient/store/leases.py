"""Leases: the one helper every lease goes through (``LeaseRow``: a coin's sync, a rate
pair's refresh, a cluster job), and cluster job leases: a job that every daemon could run
(the address pool keeper) runs in one process of the cluster at a time, the one holding
its row in ``job_lease``.

One conditional UPDATE takes the row when it is free, expired or already ours (works on
SQLite and PostgreSQL, inside or outside a PgBouncer transaction pool: no session state).
The holder renews it each round; a holder killed with ``kill -9`` loses it when it expires.
"""

import datetime

from ..core.clock import utcnow
from .models import JobLease


class LeaseRow:
    """Where a lease is kept: a row keyed by the field ``key`` (created on first use), with
    its ``holder`` and ``expires`` fields. Every lease of the house (a coin's sync, a
    cluster job, a rate pair's refresh) is taken and given back through one of these."""

    def __init__(self, key, holder, expires):
        self.key, self.holder, self.expires = key, holder, expires
        self.model = key.model

    def take(self, value, holder, seconds, now, where=None, free=None):
        """Take or renew the lease of the row ``value`` for ``holder`` until ``seconds`` from
        ``now`` when it is ``free`` (default: nobody's, ``holder``'s or expired) and ``where``
        holds; return True when ``holder`` has it now. One conditional UPDATE."""
        self.model.insert({self.key: value}).on_conflict_ignore().execute()
        if free is None:
            free = self.holder.is_null() | (self.holder == holder) | (self.expires < now)
        condition = (self.key == value) & free & (where if where is not None else True)
        until = now + datetime.timedelta(seconds=seconds)
        return self.model.update({self.holder: holder, self.expires: until}).where(condition).execute() == 1

    def give_up(self, value, holder, where=None, **changes):
        """Release ``holder``'s lease of ``value`` (with ``changes`` to other fields) when
        ``where`` holds; return how many rows changed (0: not held, or ``where`` false)."""
        condition = (self.key == value) & (self.holder == holder) & (where if where is not None else True)
        fields = {self.holder: None, self.expires: None, **{getattr(self.model, k): v for k, v in changes.items()}}
        return self.model.update(fields).where(condition).execute()


JOBS = LeaseRow(JobLease.name, JobLease.holder, JobLease.expires_at)


class ClusterLease:
    """``claim()`` returns True while this holder may run the job ``name``."""

    def __init__(self, name, holder, seconds, clock=utcnow):
        self.name = name
        self.holder = holder
        self.seconds = seconds
        self.clock = clock

    def claim(self):
        """Take or renew the lease; return True when this holder has it now."""
        return JOBS.take(self.name, self.holder, self.seconds, self.clock())

    def release(self):
        """Give the lease up (at a clean stop), so another process takes the job at once."""
        JOBS.give_up(self.name, self.holder)

    def unreleased(self):
        """Return the holder of the lease when one holds it or held it without giving it
        back (expired or not): a process that did not stop cleanly, another one that runs,
        or a database copied while its holder ran. None: nobody's."""
        row = JobLease.get_or_none(JobLease.name == self.name)
        return None if row is None else row.holder

    def holder_now(self):
        """Return who holds the lease now (None: nobody, or it expired)."""
        row = JobLease.get_or_none(JobLease.name == self.name)
        if row is None or row.holder is None or row.expires_at < self.clock():
            return None
        return row.holder
