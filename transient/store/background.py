"""A database job run every few seconds in a thread of its own (a WAL checkpoint on
SQLite, the overview's fold on PostgreSQL): its rounds, its failures said once per run of
them, its stop."""

import logging
import threading

log = logging.getLogger("transient.db")


class DatabaseJob:
    """Runs ``run_round()`` every ``interval`` seconds on this thread's connection of
    ``db``. ``what``: the job's words in the failure line; ``hold``: keep the connection
    between rounds (else it is closed after each)."""

    name = "database-job"  # the thread's name
    what = "a background database job"

    def __init__(self, db, interval, hold=False):
        self.db = db
        self.interval = interval
        self.hold = hold
        self.rounds = 0  # rounds run (the tests read it)
        self._stop = threading.Event()
        self._thread = None

    def run_round(self):
        raise NotImplementedError

    def start(self):
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def _loop(self):
        failing = False
        while not self._stop.wait(self.interval):
            try:
                self.run_round()
                self.rounds += 1
                failing = False
            except Exception:  # noqa: BLE001 - the database away: the next round tries again
                if not failing:
                    log.warning("%s failed; trying again every %ss", self.what, self.interval)
                failing = True
            finally:
                if not self.hold:
                    self._close()
        self._close()

    def _close(self):
        try:
            self.db.close()  # this thread's connection
        except Exception:  # noqa: BLE001 - a connection already broken
            pass

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
