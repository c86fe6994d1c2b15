"""SQLite's WAL checkpoints run by a worker's thread, not by the commits of requests
(store/checkpoints.py), and the random UUIDs of payments and events (core/ids.py)."""

import os
import time
import uuid

from transient.core.ids import RandomUuids
from transient.store.checkpoints import AUTOCHECKPOINT, Checkpointer
from transient.store.db import open_database


def fill(db, pages):
    db.execute_sql("CREATE TABLE IF NOT EXISTS filler (v BLOB)")
    for _ in range(pages):
        with db.atomic("IMMEDIATE"):
            db.execute_sql("INSERT INTO filler VALUES (randomblob(4000))")


def test_commits_leave_the_checkpoints_to_the_checkpointer(tmp_path):
    db = open_database("sqlite:///%s" % (tmp_path / "wal.db"))
    assert db.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0] == AUTOCHECKPOINT
    fill(db, 1500)  # past SQLite's default of 1 000 pages: no commit checkpointed
    wal = os.path.getsize(str(tmp_path / "wal.db") + "-wal")
    assert wal > 1200 * 4096

    checkpointer = Checkpointer(db, interval=0.05)  # on its thread's own connection
    checkpointer.start()
    try:
        deadline = time.monotonic() + 30
        while checkpointer.rounds < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpointer.rounds >= 2
        busy, frames, copied = db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert (busy, copied) == (0, frames)  # all of it was copied already
        fill(db, 10)  # the WAL starts again from its beginning: it does not grow for ever
        assert os.path.getsize(str(tmp_path / "wal.db") + "-wal") == wal
        assert db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1] < 100
    finally:
        checkpointer.stop()
    assert checkpointer._thread is None
    db.close()


def test_random_uuids_are_version_4_distinct_and_new_after_a_fork():
    make = RandomUuids(batch=64)  # 4 ids per read: refills are exercised
    ids = [make() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(isinstance(i, uuid.UUID) and i.version == 4 and i.variant == uuid.RFC_4122 for i in ids)

    make()  # the buffer holds unused bytes at the fork
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its next id, to the parent
        try:
            os.write(write, make().bytes)
        finally:
            os._exit(0)
    os.close(write)
    theirs = os.read(read, 16)
    os.close(read)
    os.waitpid(child, 0)
    assert len(theirs) == 16 and uuid.UUID(bytes=theirs) != make()
