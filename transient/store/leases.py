"""Cluster job leases: a job that every daemon could run (the address pool keeper) runs
in one process of the cluster at a time, the one holding its row in ``job_lease``.

One conditional UPDATE takes the row when it is free, expired or already ours (works on
SQLite and PostgreSQL, inside or outside a PgBouncer transaction pool: no session state).
The holder renews it each round; a holder killed with ``kill -9`` loses it when it expires.
"""

import datetime

from ..core.clock import utcnow
from .models import JobLease


class ClusterLease:
    """``claim()`` returns True while this holder may run the job ``name``."""

    def __init__(self, name, holder, seconds, clock=utcnow):
        self.name = name
        self.holder = holder
        self.seconds = seconds
        self.clock = clock

    def claim(self):
        """Take or renew the lease; return True when this holder has it now."""
        JobLease.insert(name=self.name).on_conflict_ignore().execute()
        now = self.clock()
        free = JobLease.holder.is_null() | (JobLease.holder == self.holder) | (JobLease.expires_at < now)
        until = now + datetime.timedelta(seconds=self.seconds)
        taken = JobLease.update(holder=self.holder, expires_at=until).where((JobLease.name == self.name) & free)
        return taken.execute() == 1

    def release(self):
        """Give the lease up (at a clean stop), so another process takes the job at once."""
        JobLease.update(holder=None, expires_at=None).where(
            (JobLease.name == self.name) & (JobLease.holder == self.holder)
        ).execute()

    def holder_now(self):
        """Return who holds the lease now (None: nobody, or it expired)."""
        row = JobLease.get_or_none(JobLease.name == self.name)
        if row is None or row.holder is None or row.expires_at < self.clock():
            return None
        return row.holder
