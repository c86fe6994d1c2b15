"""Whether anything was committed to an SQLite database since a moment, told without a
query: the mark of the database's last commit, read from shared memory.

In WAL mode (ours: store/db.py) SQLite keeps the WAL's index in a file beside the
database, ``<db>-shm``, that every connection of every process maps. Its first 96 bytes
are the WAL-index header, twice: a writer rewrites both copies at each commit (the
frames it appended, the checksums, a change counter) and at each restart of the WAL
(new salts), and a commit becomes visible to readers exactly when that header names
it. A reader that finds the two copies equal has read one consistent header; if they
differ, a writer is rewriting it (SQLite's own readers then retry). See "The WAL-Index
Header" in https://www.sqlite.org/walformat.html.

So two equal marks mean no transaction committed in between, by any connection of any
process: what a reader cached between them is still exactly the database's. A mark
is None when it cannot be told (not SQLite, not WAL, an in-memory database, a header
being rewritten): the caller then asks the database.

The ``-shm`` file is deleted when the last connection to the database closes, and a
new one made by the next: this keeps a connection of its own open for as long as the
mark is read, so the file it maps is the one every writer updates.
"""

import mmap
import os
import sqlite3
import threading
import urllib.parse

from .db import is_sqlite

HEADER = 48  # bytes of one copy of the WAL-index header


class CommitMark:
    """The commit mark of the SQLite database at ``path`` (made at the first read,
    after a fork too)."""

    def __init__(self, path):
        self.path = path
        self._lock = threading.Lock()
        self._pid = None
        self._map = None
        self._conn = None

    def read(self):
        """The header of the database's last commit (bytes), or None when it cannot be
        told."""
        m = self._map
        if m is None or self._pid != os.getpid():
            m = self._open()
            if m is None:
                return None
        first = m[0:HEADER]
        if first != m[HEADER : 2 * HEADER] or first[12] == 0:  # isInit: 0 before the first commit
            return None
        return first

    def _open(self):
        with self._lock:
            if self._pid == os.getpid():
                return self._map
            self._pid = os.getpid()
            self._map = self._conn = None  # a fork's copies are the parent's: leave them
            conn = None
            try:
                # mode=rw: never makes a database where there was none.
                uri = "file:%s?mode=rw" % urllib.parse.quote(os.path.abspath(self.path))
                conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.close()
                    return None
                conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()  # maps the index
                with open(self.path + "-shm", "rb") as fh:
                    self._map = mmap.mmap(fh.fileno(), 2 * HEADER, access=mmap.ACCESS_READ)
            except (OSError, ValueError, sqlite3.Error):
                if conn is not None:
                    conn.close()
                return None
            self._conn = conn
            return self._map


def commit_mark(database):
    """A CommitMark for a peewee database when it is an SQLite file, else None."""
    path = getattr(database, "database", "")
    if not is_sqlite(database) or path in ("", ":memory:") or path.startswith("file:"):
        return None
    return CommitMark(path)
