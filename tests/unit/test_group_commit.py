"""Group commit (store/group.py): concurrent writes of one process share SQLite's one
write transaction; each caller is answered only after the commit holding its write, and
a write that fails takes only itself back."""

import sqlite3
import threading
import time

import pytest
from _api import post
from fakes import fake_coin_config, fake_runtime

from transient.store.db import open_database
from transient.store.group import GroupCommit


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "group.db"
    db = open_database("sqlite:///%s" % path)
    db.execute_sql('CREATE TABLE "item" ("id" INTEGER PRIMARY KEY, "thread" INTEGER)')
    yield db, path
    db.close()


def committed(path, item):
    """Whether ``item`` is stored, as another process sees it (its own connection)."""
    other = sqlite3.connect(str(path))
    try:
        return other.execute('SELECT count(*) FROM "item" WHERE "id" = ?', (item,)).fetchone()[0] == 1
    finally:
        other.close()


def insert(db, item, fail=False):
    def work():
        db.execute_sql('INSERT INTO "item" ("id", "thread") VALUES (?, ?)', (item, threading.get_ident()))
        if fail:
            raise ValueError("write %d fails after its insert" % item)
        return item

    return work


def run_held(group, db, works):
    """Run ``works`` from threads of their own while the first one's write holds its
    transaction until all the others wait: those then share the next one. Return each
    caller's outcome (its value or its exception) and whether its row was visible from
    another connection the moment it was answered."""
    release = threading.Event()
    outcome = {}

    def first():
        release.wait(30)
        return works[0]()

    def call(i, work, path):
        try:
            value = group.run(work)
        except Exception as exc:
            value = exc
        outcome[i] = (value, committed(path, i + 1))

    path = db.database
    threads = [threading.Thread(target=call, args=(0, first, path))]
    threads[0].start()
    while not group._leading:
        time.sleep(0.001)
    threads += [threading.Thread(target=call, args=(i, w, path)) for i, w in enumerate(works[1:], 1)]
    for t in threads[1:]:
        t.start()
    deadline = time.monotonic() + 30
    while len(group._waiting) < len(works) - 1 and time.monotonic() < deadline:
        time.sleep(0.001)
    release.set()
    for t in threads:
        t.join(30)
    return outcome


def test_each_caller_is_answered_after_the_commit_that_holds_its_write(table):
    db, path = table
    group = GroupCommit(db)
    outcome = run_held(group, db, [insert(db, i) for i in range(1, 9)])
    assert outcome == {i: (i + 1, True) for i in range(8)}
    threads = [t for (t,) in db.execute_sql('SELECT "thread" FROM "item" WHERE "id" > 1').fetchall()]
    assert len(set(threads)) == 1  # the seven that waited ran in one transaction, led by one thread
    assert not group._leading and not group._waiting


def test_a_failing_write_does_not_sink_the_others_of_its_group(table):
    db, path = table
    group = GroupCommit(db)
    works = [insert(db, i, fail=(i == 4)) for i in range(1, 7)]
    outcome = run_held(group, db, works)
    failed, visible = outcome[3]
    assert isinstance(failed, ValueError) and not visible  # its insert went back with it
    assert {i: o for i, o in outcome.items() if i != 3} == {i: (i + 1, True) for i in (0, 1, 2, 4, 5)}


def test_concurrent_pooled_creates_each_get_their_own_address_and_event(tmp_path):
    client, runtime = fake_runtime(tmp_path, coins=fake_coin_config(extra="address_pool = 64"))
    try:
        assert runtime.payments.group is not None  # SQLite
        runtime.pools["LTC"].refill()
        answers = []

        def create():
            for _ in range(4):
                answers.append(post(client, {"currency": "LTC", "amount": "1"}))

        threads = [threading.Thread(target=create) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert [a.status_code for a in answers] == [201] * 32
        addresses = {a.json["payment"]["payment_address"] for a in answers}
        assert len(addresses) == 32
        db = runtime.db
        assert db.execute_sql("SELECT count(*) FROM payment").fetchone()[0] == 32
        assert db.execute_sql("SELECT count(*) FROM event WHERE type = 'payment.created'").fetchone()[0] == 32
        assert runtime.pools["LTC"].available() == 64 - 32
    finally:
        runtime.close()


def test_a_lone_write_that_fails_gets_its_error_and_leaves_nothing(table):
    db, path = table
    group = GroupCommit(db)
    with pytest.raises(ValueError):
        group.run(insert(db, 1, fail=True))
    assert not committed(path, 1)
    assert group.run(insert(db, 2)) == 2 and committed(path, 2)
    assert not group._leading and not group._waiting
