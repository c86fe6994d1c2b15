"""Group commit: concurrent writes of one process share a transaction.

SQLite has one writer. Eight request threads that each ``BEGIN IMMEDIATE`` and
``COMMIT`` queue behind its lock one by one, and every commit is a sync of the log:
under 32 clients a create spent a third of its time there. Here the first thread to
arrive leads: it takes the waiting writes (its own first), runs each in a savepoint of
one ``BEGIN IMMEDIATE … COMMIT`` on its connection, and only after that commit answers
each of them; then the next waiting thread leads the writes that came meanwhile.

A write that raises is rolled back to its savepoint and its error goes to its own
caller: it does not sink the others of its group. When the commit itself fails, no
write of the group is stored and every caller gets that error.
"""

import threading

from .db import write_transaction

LIMIT = 64  # writes per transaction: a group's last caller waits for all the others' work


class _Write:
    __slots__ = ("work", "done", "lead", "value", "error")

    def __init__(self, work):
        self.work = work
        self.done = threading.Event()
        self.lead = False  # woken to lead the next group rather than with a result
        self.value = None
        self.error = None

    def result(self):
        if self.error is not None:
            raise self.error
        return self.value


class GroupCommit:
    """Runs writes of ``db`` (callables run inside its transaction, on the leading
    thread's connection) in shared transactions of up to ``limit``."""

    def __init__(self, db, limit=LIMIT):
        self.db = db
        self.limit = limit
        self._lock = threading.Lock()
        self._waiting = []
        self._leading = False

    def run(self, work):
        """Run ``work()`` in a savepoint of a shared write transaction; return what it
        returned once that transaction committed, or raise what it (or the commit) raised."""
        write = _Write(work)
        with self._lock:
            self._waiting.append(write)
            lead = not self._leading
            self._leading = True
        if not lead:
            write.done.wait()
        if lead or write.lead:
            self._lead()
        return write.result()

    def _lead(self):
        with self._lock:
            group, self._waiting = self._waiting[: self.limit], self._waiting[self.limit :]
        try:
            self._commit(group)
        finally:
            for write in group:
                write.done.set()
            with self._lock:
                if self._waiting:
                    follower = self._waiting[0]
                    follower.lead = True
                    follower.done.set()
                else:
                    self._leading = False

    def _commit(self, group):
        try:
            with write_transaction(self.db):
                if len(group) == 1:  # alone: its failure is the transaction's, no savepoint needed
                    group[0].value = group[0].work()
                    return
                for write in group:
                    try:
                        with self.db.atomic():  # a savepoint: a failing write takes only itself back
                            write.value = write.work()
                    except Exception as exc:
                        write.error, write.value = exc, None
        except BaseException as exc:  # BEGIN or COMMIT failed: nothing of the group was stored
            for write in group:
                if write.error is None:
                    write.error, write.value = exc, None
            if not isinstance(exc, Exception):
                raise
