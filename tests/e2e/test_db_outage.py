"""The daemon through database outages on PostgreSQL: its connections terminated in the
middle of syncs and webhook batches (the shared server: only this test database's
backends), and a private cluster stopped and started under load. Nothing is lost or
doubled, and it resumes by itself."""

import collections
import json
import tempfile
import threading
import time
import uuid

import pytest
import requests
from _daemon import Daemon, coin_config, wait_for
from _pg_faults import PrivateCluster, terminate_backends
from _receiver import Receiver

from transient.store import migrations
from transient.store.db import open_database

pytestmark = pytest.mark.regtest

N = 12


def webhook(receiver):
    return '[webhook]\nurl = "%s"\nretry_schedule = ["1s", "1s", "1s", "1s", "1s", "1s", "1s", "1s"]\n' % receiver.url


def received_per_payment(receiver):
    got = collections.defaultdict(list)
    for body in receiver.events():
        e = body["event"]
        got[body["payment_id"]].append((e["sequence"], e["id"], e["type"], e["data"].get("to")))
    return got


def assert_each_event_once(receiver, ids):
    """Every event of each payment, up to its move to PAID, reached the receiver exactly
    once: sequences 1..n, no gap, no repeat."""

    def complete():
        got = received_per_payment(receiver)
        return all(any(to == "PAID" for _, _, _, to in got[pid]) for pid in ids)

    wait_for(complete, timeout=90, interval=0.5)
    time.sleep(2)  # a doubled delivery would arrive meanwhile
    got = received_per_payment(receiver)
    for pid in ids:
        seqs = sorted(seq for seq, _, _, _ in got[pid])
        assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 4, (pid, got[pid])
        assert len({eid for _, eid, _, _ in got[pid]}) == len(seqs)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_backends_terminated_during_syncs_and_webhook_batches(start_daemon, regtest, db_url):
    receiver = Receiver().start()
    try:
        d = start_daemon(extra=webhook(receiver), threads=4)
        payments = [d.create(currency="LTC", amount="0.01") for _ in range(N)]
        stop = threading.Event()
        kills = []

        def terminator():
            while not stop.is_set():
                kills.append(terminate_backends(db_url))
                time.sleep(0.15)

        thread = threading.Thread(target=terminator)
        thread.start()
        try:
            for p in payments:  # each payment: a notify, a sync and a webhook batch
                regtest.pay(p["payment_address"], "0.01")
            time.sleep(3)
            regtest.mine(1)  # the confirming sync and its batch of 24 events
            time.sleep(4)
        finally:
            stop.set()
            thread.join()
        assert sum(kills) >= 10  # the daemon's connections were ended again and again
        for p in payments:
            # Before: every request answered 500 and the sync never ran again.
            d.wait_status(p["id"], "PAID", timeout=60)
        assert_each_event_once(receiver, [p["id"] for p in payments])
        health = d.get("/healthz").json()
        assert health["database"] == "ok" and health["database_outages"]["outages"] >= 1
        assert health["database_outages"]["down_since"] is None
    finally:
        receiver.stop()


def test_a_private_cluster_stopped_and_started_under_load(tmp_path, regtest, wallet):
    cluster = PrivateCluster(tempfile.mkdtemp(prefix="transient-pg-")).init()  # postgres reads it
    receiver = Receiver().start()
    daemons = []
    try:
        db = open_database(cluster.url)
        migrations.apply(db)
        db.close()
        # Two workers, JSON lines: the outage's down and up lines are said once for the daemon.
        d = Daemon(
            str(tmp_path),
            cluster.url,
            coin_config(regtest, wallet),
            extra='format = "json"\n' + webhook(receiver),
            threads=4,
            workers=2,
        )
        daemons.append(d)
        d.start()
        acked, errors, stop = [], collections.Counter(), threading.Event()

        def load():  # a merchant creating payments, retrying with its idempotency key
            http = requests.Session()
            while not stop.is_set():
                key = uuid.uuid4().hex
                while not stop.is_set():
                    try:
                        r = http.post(
                            d.base + "/payments",
                            json={"currency": "LTC", "amount": "0.01"},
                            headers={"Idempotency-Key": key},
                            timeout=10,
                        )
                    except requests.RequestException:
                        errors["connection"] += 1
                        continue
                    if r.status_code in (200, 201):
                        acked.append(r.json()["payment"])
                        break
                    errors[r.status_code] += 1
                    time.sleep(0.05)
                time.sleep(0.05)

        threads = [threading.Thread(target=load) for _ in range(2)]
        [t.start() for t in threads]
        try:
            wait_for(lambda: len(acked) >= 5, timeout=30)
            cluster.stop()
            down = len(acked)
            paid_meanwhile = acked[:2]
            for p in paid_meanwhile:  # paid and mined while the database is away
                regtest.pay(p["payment_address"], "0.01")
            regtest.mine(1)
            time.sleep(2)
            cluster.start()
            back = time.monotonic()
            # Reads recover on their own: no restart of the daemon.
            first = acked[0]["id"]
            wait_for(
                lambda: d.http.get(d.base + "/payments/%s" % first, timeout=5).status_code == 200,
                timeout=30,
                interval=0.02,
            )
            recovery = time.monotonic() - back
            wait_for(lambda: len(acked) >= down + 5, timeout=30)
        finally:
            stop.set()
            [t.join() for t in threads]
        print(
            "\nread recovery after the database came back: %.0f ms; answers meanwhile: %s"
            % (recovery * 1000, dict(errors))
        )
        assert 500 not in errors  # while it was away: 503 with Retry-After, never a 500
        later = acked[3::3]
        for p in later:
            regtest.pay(p["payment_address"], "0.01")
        regtest.mine(1)
        paid = paid_meanwhile + later  # before: the ones paid meanwhile stayed UNPAID
        for p in paid:
            d.wait_status(p["id"], "PAID", timeout=60)
        ids = {p["id"] for p in acked}
        assert len(ids) == len(acked)  # one payment per idempotency key, none doubled
        for pid in ids:
            assert d.get("/payments/%s" % pid).status_code == 200  # nothing acknowledged was lost
        assert_each_event_once(receiver, [p["id"] for p in paid])
        health = d.get("/healthz").json()["database_outages"]
        # It was away for the 2 s sleep at least (and the payments made meanwhile): no timing beyond that.
        assert health["outages"] >= 1 and health["last_outage_seconds"] >= 1
        # Down, up (again for a later outage), never down twice in a row: the second
        # worker to lose its connections does not say it again.
        said = [json.loads(line).get("event") for line in d.log().splitlines() if line.startswith("{")]
        said = [e for e in said if e in ("database.down", "database.up")]
        assert said and said[0] == "database.down" and said[-1] == "database.up", said
        assert all(a != b for a, b in zip(said, said[1:])), said
    finally:
        for d in daemons:
            d.kill()
        receiver.stop()
        cluster.destroy()
