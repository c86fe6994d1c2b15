"""A node too busy to answer the listing in time (issue 15: a block confirming hundreds
of wallet transactions) is asked again at once with a longer deadline; a node that
refuses the connection is down, and the sync backs off. A loopback JSON-RPC stand-in
plays the node: it holds its first listing answer past the client's timeout."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest
from _daemon import wait_for
from _http import close, serve

from transient.chain.scheduler import CoinRunner
from transient.chain.sync import Syncer
from transient.core.clock import utcnow
from transient.devnet.node import find_free_port
from transient.store import migrations
from transient.store.db import open_database
from transient.store.models import ChainState
from transient_litecoin import LitecoinBackend

TIP = "ab" * 32
TIMEOUT = 1  # the client's rpc_timeout, seconds
HOLD = 1.5  # how long the busy node takes per listing: past TIMEOUT, within the busy deadline


class BusyNode:
    """Answers listsinceblock (and getblockheader) after ``HOLD`` seconds; records when
    each listing arrived and whether its answer was read or the client had gone."""

    def __init__(self):
        self.arrivals = []
        self.lock = threading.Lock()
        node = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                calls = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                batch = isinstance(calls, list)
                replies = [node.answer(c) for c in (calls if batch else [calls])]
                body = json.dumps(replies if batch else replies[0]).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up waiting

        self.port = find_free_port()
        self.server = serve(self.port, Handler)

    def answer(self, call):
        if call["method"] == "listsinceblock":
            with self.lock:
                self.arrivals.append(time.monotonic())
            time.sleep(HOLD)  # the node is connecting a big block
            result = {"transactions": [], "removed": [], "lastblock": TIP}
        elif call["method"] == "getblockheader":
            result = {"hash": TIP, "height": 200, "confirmations": 1}
        else:
            return {"result": None, "error": {"code": -32601, "message": "Method not found"}, "id": call["id"]}
        return {"result": result, "error": None, "id": call["id"]}


@pytest.fixture
def db(tmp_path):
    db = open_database("sqlite:///%s" % (tmp_path / "t.db"))
    migrations.apply(db)
    yield db
    db.close()


@pytest.fixture
def busy():
    node = BusyNode()
    yield node
    close(node.server)


class Jobs:
    """wake() only queues the runner's job; the test runs it in its own thread."""

    def __init__(self):
        self.jobs = []

    def add_job(self, func, *args, **kw):
        self.jobs.append((func, kw))


def runner_for(port, db, poll_interval=8):
    backend = LitecoinBackend(
        "LTC", {"rpc_url": "http://127.0.0.1:%d" % port, "rpc_timeout": TIMEOUT, "rpc_busy_timeout": 4 * TIMEOUT}
    )
    syncer = Syncer("LTC", backend, 1, db, lease_seconds=60)
    jobs = Jobs()
    return CoinRunner(syncer, poll_interval, jobs, utcnow), jobs


def test_a_listing_that_times_out_is_asked_again_at_once_with_a_longer_deadline(busy, db):
    runner, jobs = runner_for(busy.port, db)
    runner.wake()
    jobs.jobs.pop(0)[0]()
    # The first answer came after the client had stopped waiting (1 s); the second,
    # just as slow, was read: its deadline was the longer one, and it was asked at
    # once (the back-off would have waited the poll interval, 8 s).
    assert len(busy.arrivals) == 2
    assert busy.arrivals[1] - busy.arrivals[0] < HOLD + 0.5 * runner.poll_interval
    state = ChainState.get_by_id("LTC")
    assert (state.cursor_hash, state.cursor_height, state.last_error) == (TIP, 200, None)
    assert runner._failures == 0 and runner._retry_at is None
    assert [kw for _, kw in jobs.jobs if kw.get("run_date")] == []  # no retry job either


def test_a_refused_connection_is_node_down_and_backs_off(db):
    runner, jobs = runner_for(find_free_port(), db)  # nothing listens there
    runner.wake()
    jobs.jobs.pop(0)[0]()
    assert runner._failures == 1 and runner._retry_at is not None
    assert "cannot reach node" in ChainState.get_by_id("LTC").last_error
    runner.poll()  # inside the back-off: the poll does not sync
    assert jobs.jobs == []


def test_a_node_that_stays_too_busy_backs_off_after_the_second_try(busy, db):
    backend_timeout = HOLD / 3  # both tries give up before the node answers
    runner, jobs = runner_for(busy.port, db)
    runner.syncer.backend.listing_rpc.timeout = backend_timeout
    runner.syncer.backend.busy_timeout = backend_timeout
    runner.wake()
    jobs.jobs.pop(0)[0]()
    assert wait_for(lambda: len(busy.arrivals) == 2, 10)
    assert runner._failures == 1 and runner._retry_at is not None
    assert "did not answer" in ChainState.get_by_id("LTC").last_error
