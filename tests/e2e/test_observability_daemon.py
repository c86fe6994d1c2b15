"""What an operator watches, on one real daemon (two gunicorn workers, JSON logs, the
access log on) and the litecoind regtest node: a flow of five payments (three paid and
confirmed, one expired then paid late, one reverted by a double spend), webhooks to a
good and a failing receiver, and a second coin whose node goes away and comes back.
Then ``GET /metrics`` must show exactly what happened, summed over both workers, and
the log must hold each lifecycle line once, with its fields, every line JSON.

One module-scoped daemon serves every check here: the flow runs once.
"""

import datetime
import json
import os
import signal
import socket
import threading
import uuid
from decimal import Decimal

import pytest
import requests
from _daemon import Daemon, coin_config, ping, wait_for
from _receiver import Receiver
from prometheus_client.parser import text_string_to_metric_families

from transient.devnet.node import find_free_port
from transient.store.db import open_database
from transient.store.keys import KeyStore

pytestmark = pytest.mark.regtest
UNITS = 10**8
AMOUNTS = {"A": "0.11", "B": "0.22", "C": "0.33", "D": "0.44", "E": "0.55"}


class Forwarder:
    """A TCP forwarder to the node's RPC port that can go away and come back on the
    same port: the second coin's node "goes down" without touching the shared node."""

    def __init__(self, target_port):
        self.target = target_port
        self.port = find_free_port()
        self.server = None
        self.conns = []
        self.lock = threading.Lock()

    def start(self):
        self.server = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        threading.Thread(target=self._accept, args=(self.server,), daemon=True).start()
        return self

    def _accept(self, server):
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self):
        self.server.close()
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass


def scrape(daemon, **kw):
    resp = daemon.get("/metrics", **kw)
    assert resp.status_code == 200, resp.text
    found = {}
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def total(found, name, **labels):
    """The sum of ``name``'s series whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in found.items() if n == name and want <= set(ls))


def log_lines(daemon):
    return [json.loads(line) for line in daemon.log().splitlines() if line.strip()]


def events_of(lines, event):
    return [line for line in lines if line.get("event") == event]


@pytest.fixture(scope="module")
def flow(regtest, tmp_path_factory):
    """Run the flow once; return what happened (the daemon, ids, txids, receivers)."""
    work = tmp_path_factory.mktemp("observability")
    wallet = regtest.create_wallet("obs_" + uuid.uuid4().hex[:8])
    good, bad = Receiver(200).start(), Receiver(500).start()
    forwarder = Forwarder(int(regtest.rpc_url.rsplit(":", 1)[1].strip("/"))).start()
    second = coin_config(regtest, wallet, currency="XLT").replace(
        regtest.rpc_url, "http://127.0.0.1:%d" % forwarder.port
    )
    extra = (
        'format = "json"\naccess_log = true\n'
        '[webhook]\nurl = "%s"\nretry_schedule = ["1s"]\nallowed_networks = ["127.0.0.0/8"]\n' % good.url
    )
    db_url = "sqlite:///%s" % (work / "obs.db")
    d = Daemon(str(work), db_url, coin_config(regtest, wallet) + second, workers=2, extra=extra, log_level="INFO")
    try:
        d.start()
        yield _run(d, regtest, bad, forwarder) | {"daemon": d, "good": good, "bad": bad, "db_url": db_url}
    finally:
        d.kill()
        good.stop()
        bad.stop()
        forwarder.stop()


def _run(d, regtest, bad, forwarder):
    ids = {"D": d.create(currency="LTC", amount=AMOUNTS["D"], expires_in=2)["id"]}
    ids["A"] = d.create(currency="LTC", amount=AMOUNTS["A"], callback_url=bad.url)["id"]
    for name in "BCE":
        ids[name] = d.create(currency="LTC", amount=AMOUNTS[name])["id"]
    addr = {name: d.payment(pid)["payment_address"] for name, pid in ids.items()}
    pings = 0
    # E: received, then reverted by a double spend (mined first, before any other payment).
    e_tx = regtest.pay(addr["E"], AMOUNTS["E"])
    ping(d, value=e_tx)
    pings += 1
    d.wait_status(ids["E"], "PENDING")
    regtest.double_spend(e_tx)
    d.wait_status(ids["E"], "UNPAID")
    # A, B, C: paid in one transaction, confirmed by one block.
    abc_tx = regtest.sendmany({addr[n]: AMOUNTS[n] for n in "ABC"})
    ping(d, value=abc_tx)
    block = regtest.mine(1)[0]
    ping(d, "block", block)
    pings += 2
    for name in "ABC":
        d.wait_status(ids[name], "PAID")
    # D: expired (2 s), then paid late.
    expires = d.wait_status(ids["D"], "EXPIRED")["expires_at"]
    # The node times transactions in whole seconds, and funds seen within the second of
    # the expiry count as in time: pay once that second is over.
    over = datetime.datetime.fromisoformat(expires.replace("Z", "+00:00")) + datetime.timedelta(seconds=1.1)
    wait_for(lambda: datetime.datetime.now(datetime.timezone.utc) >= over, timeout=10)
    d_tx = regtest.pay(addr["D"], AMOUNTS["D"])
    regtest.mine(1)
    wait_for(lambda: any(e["type"] == "payment.late" for e in d.get("/payments/%s/events" % ids["D"]).json()["events"]))
    # Every delivery sent or given up (A's callback answers 500: one retry, then given up).
    try:
        wait_for(lambda: total(scrape(d), "transient_outbox_backlog", kind="webhook") == 0, timeout=60)
    except AssertionError:
        raise AssertionError("webhook backlog left: %s" % scrape(d)) from None
    # The second coin's node goes away, then comes back.
    forwarder.stop()
    wait_for(lambda: events_of(log_lines(d), "node.down"), timeout=30)
    forwarder.start()
    wait_for(lambda: events_of(log_lines(d), "node.up"), timeout=90)
    return {"ids": ids, "txids": {"E": e_tx, "ABC": abc_tx, "D": d_tx}, "pings": pings}


def check_figures(flow):
    """Exactly what happened, summed over both workers."""
    d = flow["daemon"]
    found = scrape(d)
    assert total(found, "transient_payments_created_total", currency="LTC") == 5
    assert total(found, "transient_payment_status_changes_total", currency="LTC", status="PAID") == 3
    assert total(found, "transient_payment_status_changes_total", currency="LTC", status="EXPIRED", cause="expiry") == 1
    assert total(found, "transient_payment_status_changes_total", currency="LTC", status="UNPAID", cause="created") == 5
    assert total(found, "transient_payment_status_changes_total", currency="LTC", cause="double_spend") == 1
    # Every output credited, in litoshis: E's (later reverted), A-B-C's and D's late one.
    assert total(found, "transient_received_base_units_total", currency="LTC") == sum(
        int(Decimal(a) * UNITS) for a in AMOUNTS.values()
    )
    assert total(found, "transient_http_requests_total", method="POST", route="/payments", status="201") == 5
    assert total(found, "transient_notify_pings_total", currency="LTC") == flow["pings"]
    assert total(found, "transient_notify_coalesced_total", currency="LTC") <= flow["pings"]
    # The sync ran, and was timed, and asked the node.
    runs = total(found, "transient_sync_runs_total", currency="LTC")
    assert runs >= 4
    assert total(found, "transient_sync_duration_seconds_count", currency="LTC") >= 1
    assert total(found, "transient_sync_duration_seconds_sum", currency="LTC") > 0
    listing = "listsinceblock"  # a sync asks the node for the listing alone (the tip comes with it)
    assert total(found, "transient_rpc_calls_total", currency="LTC", method=listing) >= runs
    assert total(found, "transient_rpc_duration_seconds_count", currency="LTC") > 0
    # The second coin's outage: failed syncs and unreachable RPCs were counted.
    assert total(found, "transient_sync_failures_total", currency="XLT", reason="node") >= 1
    assert total(found, "transient_rpc_errors_total", currency="XLT", kind="unreachable") >= 1
    # Scrape-time state: both nodes up, the cursor at the tip, nothing waiting.
    for coin in ("LTC", "XLT"):
        assert total(found, "transient_node_up", currency=coin) == 1
    assert total(found, "transient_sync_cursor_lag_blocks", currency="LTC") <= 1
    assert total(found, "transient_database_up") == 1
    assert total(found, "transient_outbox_backlog", kind="webhook") == 0


def check_deliveries(flow):
    """Sent, retried and given up, by what the receivers got."""
    d, good, bad = flow["daemon"], flow["good"], flow["bad"]
    found = scrape(d)
    a_events = d.get("/payments/%s/events" % flow["ids"]["A"]).json()["events"]
    # A's callback answers 500: each of its events tried twice (schedule ["1s"]), then given up.
    assert total(found, "transient_deliveries_total", kind="webhook", outcome="failed") == len(a_events)
    assert total(found, "transient_deliveries_total", kind="webhook", outcome="retried") == len(a_events)
    assert len(bad.received()) == 2 * len(a_events)
    # The global webhook took every event of every payment, first time.
    assert total(found, "transient_deliveries_total", kind="webhook", outcome="sent") == len(good.received())
    assert len({r.event_id for r in good.received()}) == len(good.received())


def check_worker_replaced(flow):
    """Memory per live worker; a dead worker's gauge goes (child_exit), its counts stay."""
    d = flow["daemon"]
    before = scrape(d)
    pids = {dict(ls)["pid"] for (n, ls) in before if n == "transient_process_resident_memory_bytes"}
    assert len(pids) == 2 and all(
        v > 10 * 2**20 for (n, _), v in before.items() if n == "transient_process_resident_memory_bytes"
    )
    victim = int(sorted(pids)[0])
    os.kill(victim, signal.SIGKILL)  # gunicorn starts another; child_exit drops the dead one's gauge

    def replaced():
        try:
            found = scrape(d)
        except requests.ConnectionError:  # the kept-alive connection was the killed worker's
            return None
        now = {dict(ls)["pid"] for (n, ls) in found if n == "transient_process_resident_memory_bytes"}
        return found if str(victim) not in now and len(now) == 2 else None

    try:
        after = wait_for(replaced, timeout=60)
    except AssertionError:
        seen = scrape(d)
        live = sorted(dict(ls)["pid"] for (n, ls) in seen if n == "transient_process_resident_memory_bytes")
        raise AssertionError("killed %d; live gauges %s; log:\n%s" % (victim, live, d.log()[-4000:])) from None
    # Counters keep the dead worker's counts.
    assert total(after, "transient_payments_created_total", currency="LTC") == 5


def check_log(flow):
    """Each lifecycle line once with its fields; every line JSON."""
    d, ids, txids = flow["daemon"], flow["ids"], flow["txids"]
    lines = log_lines(d)  # json.loads of every line: one format, gunicorn's lines too
    assert {"transient.payments", "gunicorn.error", "gunicorn.access"} <= {line["logger"] for line in lines}
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    created = events_of(lines, "payment.created")
    assert sorted(line["payment_id"] for line in created) == sorted(ids.values())  # once each, not per worker
    assert all(line["currency"] == "LTC" and line["level"] == "INFO" for line in created)
    paid = [line for line in events_of(lines, "payment.status_changed") if line["status"] == "PAID"]
    assert sorted(line["payment_id"] for line in paid) == sorted(ids[n] for n in "ABC")
    expired = [line for line in events_of(lines, "payment.status_changed") if line["status"] == "EXPIRED"]
    assert [(line["payment_id"], line["cause"]) for line in expired] == [(ids["D"], "expiry")]
    received = events_of(lines, "payment.received")
    assert {(line["payment_id"], line["txid"]) for line in received} >= {
        (ids["E"], txids["E"]),
        (ids["A"], txids["ABC"]),
        (ids["D"], txids["D"]),
    }
    confirmed = {(line["payment_id"], line["txid"]) for line in events_of(lines, "payment.confirmed")}
    assert {(ids[n], txids["ABC"]) for n in "ABC"} <= confirmed
    (reverted,) = events_of(lines, "payment.reverted")
    assert (reverted["payment_id"], reverted["txid"], reverted["cause"]) == (ids["E"], txids["E"], "double_spend")
    (late,) = events_of(lines, "payment.late")
    assert (late["payment_id"], late["txid"], late["amount"]) == (ids["D"], txids["D"], 44_000_000)
    given_up = events_of(lines, "delivery.given_up")
    assert len(given_up) == len(d.get("/payments/%s/events" % ids["A"]).json()["events"])
    assert all(line["level"] == "ERROR" and isinstance(line["delivery_id"], int) for line in given_up)
    # The second coin's node: one down line and one up line for the daemon, not one per worker.
    assert [(line["event"], line["currency"]) for line in lines if line.get("event", "").startswith("node.")] == [
        ("node.down", "XLT"),
        ("node.up", "XLT"),
    ]
    # The access log (on): one line per request, with its fields.
    posts = [
        line
        for line in lines
        if line["logger"] == "gunicorn.access" and line.get("path") == "/payments" and line.get("method") == "POST"
    ]
    assert len(posts) == 5 and all(line["http_status"] == 201 and "duration_ms" in line for line in posts)


def check_keys(flow, db_url):
    """Beyond loopback (here: through a proxy, X-Forwarded-For) a key with metrics:read."""
    d = flow["daemon"]
    proxied = {"X-Forwarded-For": "203.0.113.7"}
    assert d.get("/metrics", headers=proxied).status_code == 200  # no key anywhere yet: open, like every route
    db = open_database(db_url)
    try:
        keys = KeyStore(db)
        _, reader = keys.create(["metrics:read"])
        _, other = keys.create(["payments:read"])
    finally:
        db.close()
    wait_for(lambda: d.get("/metrics", headers=proxied).status_code == 401, timeout=30)  # keys are on now
    assert d.get("/metrics", headers=dict(proxied, Authorization="Bearer " + other)).status_code == 403
    assert d.get("/metrics", headers=dict(proxied, Authorization="Bearer " + reader)).status_code == 200
    assert d.get("/metrics").status_code == 200  # from loopback, directly: Prometheus on this host


def test_one_daemon_watched_through_metrics_and_logs(flow):
    """One test, so the flow runs once whatever pytest-xdist does with this module."""
    check_figures(flow)
    check_deliveries(flow)
    check_log(flow)
    check_worker_replaced(flow)
    check_keys(flow, flow["db_url"])
