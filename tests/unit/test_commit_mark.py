"""The commit mark (store/commits.py): SQLite's WAL-index header, read without a query,
and the GET of a payment served on it without asking the database."""

import sqlite3
import uuid

from _api import post
from fakes import fake_runtime

from transient.store.commits import HEADER, CommitMark, commit_mark
from transient.store.db import open_database


def wal_database(path):
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute("CREATE TABLE t (v INTEGER)")
    return conn


def test_the_mark_moves_with_each_commit_of_any_connection_and_only_then(tmp_path):
    path = tmp_path / "db.sqlite"
    writer = wal_database(path)
    mark = CommitMark(str(path))
    first = mark.read()
    assert first is not None and len(first) == HEADER
    writer.execute("SELECT count(*) FROM t").fetchall()  # a read commits nothing
    assert mark.read() == first

    seen = {first}
    for i in range(3):
        writer.execute("INSERT INTO t VALUES (?)", (i,))
        now = mark.read()
        assert now not in seen
        seen.add(now)
        assert mark.read() == now

    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO t VALUES (99)")
    assert mark.read() == now  # not committed yet: nobody can read it
    writer.execute("ROLLBACK")
    assert mark.read() == now

    # The WAL restarts after a full checkpoint: the frame count starts again, the salts
    # do not, so no later mark equals an earlier one.
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for i in range(3):
        writer.execute("INSERT INTO t VALUES (?)", (i,))
        now = mark.read()
        assert now not in seen
        seen.add(now)


def test_the_mark_follows_writers_that_come_and_go(tmp_path):
    """Its own connection keeps the -shm file alive: a writer that opens, commits and
    closes (the last but this one) leaves the file every later writer updates."""
    path = tmp_path / "db.sqlite"
    wal_database(path).close()
    mark = CommitMark(str(path))
    before = mark.read()
    for i in range(3):
        with sqlite3.connect(str(path)) as other:
            other.execute("INSERT INTO t VALUES (?)", (i,))
        other.close()
        now = mark.read()
        assert now != before and now == CommitMark(str(path)).read()
        before = now


def test_no_mark_where_it_cannot_be_told(tmp_path):
    rollback = tmp_path / "rollback.sqlite"
    sqlite3.connect(str(rollback)).execute("CREATE TABLE t (v INTEGER)").connection.close()
    assert CommitMark(str(rollback)).read() is None  # no WAL, no shared index
    missing = tmp_path / "missing.sqlite"
    assert CommitMark(str(missing)).read() is None and not missing.exists()  # never made
    assert commit_mark(open_database("sqlite:///:memory:")) is None

    path = tmp_path / "db.sqlite"
    wal_database(path).close()
    mark = CommitMark(str(path))
    assert mark.read() is not None
    torn = bytearray(mark._map[: 2 * HEADER])
    torn[HEADER + 16] ^= 1  # the second copy differs: a writer is rewriting the header
    mark._map = bytes(torn)
    assert mark.read() is None


def count_statements(monkeypatch, db):
    seen = []
    run = db.execute_sql

    def counting(sql, params=None, *a, **kw):
        seen.append(sql)
        return run(sql, params, *a, **kw)

    monkeypatch.setattr(db, "execute_sql", counting)
    return seen


def test_a_get_asks_the_database_only_after_a_commit(tmp_path, monkeypatch):
    client, runtime = fake_runtime(tmp_path)
    try:
        assert runtime.renderer.commits is not None
        p = post(client, {"currency": "LTC", "amount": "0.5"}).json["payment"]
        q = post(client, {"currency": "LTC", "amount": "0.7"}).json["payment"]
        first = client.simulate_get("/payments/%s" % p["id"]).content
        statements = count_statements(monkeypatch, runtime.db)
        for _ in range(3):
            assert client.simulate_get("/payments/%s" % p["id"]).content == first
        assert statements == []  # nothing committed since it was read: no query

        # Any commit, by any process, even of another payment: the next read proves the
        # body again with its one query, then serves it without one.
        with sqlite3.connect(str(tmp_path / "api.db"), timeout=30) as other:
            other.execute("UPDATE payment SET account = 'other' WHERE id = ?", (uuid.UUID(q["id"]).hex,))
        other.close()
        assert client.simulate_get("/payments/%s" % p["id"]).content == first
        assert len(statements) == 1
        assert client.simulate_get("/payments/%s" % p["id"]).content == first
        assert len(statements) == 1

        with sqlite3.connect(str(tmp_path / "api.db"), timeout=30) as other:
            other.execute("UPDATE payment SET account = 'elsewhere' WHERE id = ?", (uuid.UUID(p["id"]).hex,))
        other.close()
        assert client.simulate_get("/payments/%s" % p["id"]).json["payment"]["account"] == "elsewhere"
    finally:
        runtime.close()
