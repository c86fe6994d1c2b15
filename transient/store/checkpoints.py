"""SQLite's WAL checkpoints off the request path.

In WAL mode a commit appends pages to the ``-wal`` file; a checkpoint copies them back
into the database and syncs it. By default the commit that takes the WAL past 1 000
pages runs that checkpoint itself, so every hundredth create or so waited for a copy
and two fsyncs, and with it every create that shared its transaction (store/group.py).
The daemon's connections instead checkpoint only past ``AUTOCHECKPOINT`` pages (a
bound, for a process that runs no Checkpointer), and each worker runs one: a thread
that checkpoints every ``interval`` seconds, on its own connection, while the requests'
threads go on (SQLite works with Python's lock released). PASSIVE: it never waits for a
reader or a writer; what it could not copy, the next round does. Several processes'
checkpointers take turns (SQLite lets one checkpoint at a time, the others return at
once).
"""

from .background import DatabaseJob

AUTOCHECKPOINT = 10_000  # pages (~40 MB) of WAL a commit lets grow before checkpointing itself
INTERVAL = 0.5  # seconds between a worker's checkpoints


class Checkpointer(DatabaseJob):
    """Checkpoints the SQLite database ``db`` every ``interval`` seconds in the background."""

    name = "wal-checkpoint"
    what = "the database's WAL checkpoint"

    def __init__(self, db, interval=INTERVAL):
        super().__init__(db, interval, hold=True)

    def run_round(self):
        self.db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
