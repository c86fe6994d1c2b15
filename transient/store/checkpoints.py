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

import logging
import threading

log = logging.getLogger("transient.db")

AUTOCHECKPOINT = 10_000  # pages (~40 MB) of WAL a commit lets grow before checkpointing itself
INTERVAL = 0.5  # seconds between a worker's checkpoints


class Checkpointer:
    """Checkpoints the SQLite database ``db`` every ``interval`` seconds in the background."""

    def __init__(self, db, interval=INTERVAL):
        self.db = db
        self.interval = interval
        self.rounds = 0  # checkpoints run (the tests read it)
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._loop, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def checkpoint(self):
        """One PASSIVE checkpoint; return (busy, WAL frames, frames copied)."""
        row = self.db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.rounds += 1
        return tuple(row)

    def _loop(self):
        failing = False
        while not self._stop.wait(self.interval):
            try:
                self.checkpoint()
                failing = False
            except Exception:  # noqa: BLE001 - the disk or the file away: the commits still checkpoint past the bound
                if not failing:
                    log.warning("the database's WAL checkpoint failed; trying again every %ss", self.interval)
                failing = True
        try:
            self.db.close()  # this thread's connection
        except Exception:  # noqa: BLE001 - a connection already broken
            pass

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
