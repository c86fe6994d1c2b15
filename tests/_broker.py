"""The machine's RabbitMQ for the AMQP tests: fixtures, a client, unique names, a
command caller, and stop/start of the broker application.

The broker is shared by every test process on the machine (the xdist workers of a run,
and other runs): a test that uses it holds a shared lock on a file, and the one test that
stops the broker application holds it exclusively (``broker_alone``), so no other AMQP
test runs meanwhile."""

import contextlib
import fcntl
import json
import os
import subprocess
import tempfile
import threading
import time
import uuid

import pika
import pytest
from _services import _missing

from transient.amqp.link import describe
from transient.core.redact import redact

URL = os.environ.get("TRANSIENT_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def reachable(url=URL):
    """None when the broker accepts a connection, else why not."""
    try:
        pika.BlockingConnection(pika.URLParameters(url)).close()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable"
        return describe(exc, url)


class Names:
    """Exchange and queue names of one test, so tests never see each other's messages."""

    def __init__(self):
        tag = uuid.uuid4().hex[:10]
        self.exchange = "transient.test.%s.events" % tag
        self.rpc_queue = "transient.test.%s.rpc" % tag
        self.events_queue = "transient.test.%s.events-all" % tag  # bound to the exchange with "#"
        self.dead_letter_exchange = self.rpc_queue + ".dead-letter"
        self.dead_letter_queue = self.rpc_queue + ".dead"

    def config(self, url=URL, extra=""):
        return '[amqp]\nurl = "%s"\nexchange = "%s"\nrpc_queue = "%s"\nretry_schedule = ["1s"]\n%s' % (
            url,
            self.exchange,
            self.rpc_queue,
            extra,
        )


class Client:
    """A test-side connection (one thread): bind and read queues, send commands."""

    def __init__(self, url=URL):
        self.conn = pika.BlockingConnection(pika.URLParameters(url))
        self.channel = self.conn.channel()
        self.reply_queue = self.channel.queue_declare("", exclusive=True).method.queue

    def bind_all(self, names, key="#"):
        """Declare the events exchange and a durable queue bound to it with ``key``."""
        self.channel.exchange_declare(names.exchange, "topic", durable=True)
        self.channel.queue_declare(names.events_queue, durable=True)
        self.channel.queue_bind(names.events_queue, names.exchange, key)

    def take(self, queue, count, timeout=20):
        """Return ``count`` messages (method, properties, body) from ``queue``, acked."""
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            method, props, body = self.channel.basic_get(queue, auto_ack=True)
            if method is None:
                self.conn.sleep(0.05)
                continue
            got.append((method, props, body))
        assert len(got) == count, "%d of %d messages arrived on %s" % (len(got), count, queue)
        return got

    def count(self, queue):
        return self.channel.queue_declare(queue, passive=True).method.message_count

    def send(self, queue, body, type=None, reply=True, **props):
        """Publish a command; return its correlation id."""
        correlation_id = uuid.uuid4().hex
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        self.channel.basic_publish(
            "",
            queue,
            body,
            pika.BasicProperties(
                type=type,
                correlation_id=correlation_id,
                reply_to=self.reply_queue if reply else None,
                delivery_mode=2,
                **props,
            ),
        )
        return correlation_id

    def reply(self, correlation_id, timeout=20):
        """Wait for the reply to ``correlation_id``; return (status header, body, properties)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            method, props, body = self.channel.basic_get(self.reply_queue, auto_ack=True)
            if method is None:
                self.conn.sleep(0.05)
            elif props.correlation_id == correlation_id:
                return props.headers["status"], json.loads(body), props
        raise AssertionError("no reply to %s within %ss" % (correlation_id, timeout))

    def call(self, queue, type, body, timeout=20, **props):
        return self.reply(self.send(queue, body, type=type, **props), timeout)

    def delete(self, names):
        for queue in (names.events_queue, names.rpc_queue, names.dead_letter_queue):
            self.channel.queue_delete(queue)
        for exchange in (names.exchange, names.dead_letter_exchange):
            self.channel.exchange_delete(exchange)

    def close(self):
        if self.conn.is_open:
            self.conn.close()


def rabbitmqctl(*args, timeout=60):
    return subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=timeout, check=True)


def wait_reachable(timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if reachable() is None:
            return
        time.sleep(0.2)
    raise AssertionError("RabbitMQ did not come back within %ss" % timeout)


# -- the broker's lock --------------------------------------------------------------------

LOCK_PATH = os.path.join(tempfile.gettempdir(), "transient-tests-rabbitmq.lock")


class _BrokerLock:
    """This process's hold on LOCK_PATH (one open file, so holds nest and upgrade): shared
    while any AMQP test runs here, exclusive while one stops the broker."""

    def __init__(self):
        self.mutex = threading.Lock()
        self.fd = None
        self.shared = self.exclusive = 0

    def _flock(self, op):
        if self.fd is None:
            self.fd = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o666)
        fcntl.flock(self.fd, op)

    @contextlib.contextmanager
    def hold(self, exclusive=False):
        with self.mutex:
            if exclusive:
                if not self.exclusive:
                    self._flock(fcntl.LOCK_EX)  # waits for every other process's AMQP tests
                self.exclusive += 1
            else:
                if not (self.shared or self.exclusive):
                    self._flock(fcntl.LOCK_SH)
                self.shared += 1
        try:
            yield
        finally:
            with self.mutex:
                if exclusive:
                    self.exclusive -= 1
                    if not self.exclusive:
                        self._flock(fcntl.LOCK_SH if self.shared else fcntl.LOCK_UN)
                else:
                    self.shared -= 1
                    if not (self.shared or self.exclusive):
                        self._flock(fcntl.LOCK_UN)


broker_lock = _BrokerLock()


# -- fixtures (imported by the test modules) -------------------------------------------


@pytest.fixture(scope="session")
def broker():
    """The broker URL; skips (or fails under TRANSIENT_REQUIRE_SERVICES=1) when it is unreachable."""
    why = reachable()
    if why:
        _missing("RabbitMQ is not reachable at %s (start it: rabbitmq-server -detached): %s" % (redact(URL), why))
    return URL


@pytest.fixture
def broker_alone(broker):
    """The broker for this test alone (it stops the broker application): no other AMQP
    test of this machine runs meanwhile. List it first."""
    with broker_lock.hold(exclusive=True):
        yield broker


@pytest.fixture
def broker_shared(broker):
    """The broker, held shared for this test (see broker_alone)."""
    with broker_lock.hold():
        yield broker


@pytest.fixture
def names(broker_shared):
    """Unique exchange and queue names for one test, deleted afterwards (list it before start_daemon)."""
    n = Names()
    yield n
    c = Client()
    c.delete(n)
    c.close()


@pytest.fixture
def client(broker_shared):
    """A test-side connection to the broker."""
    c = Client()
    yield c
    c.close()
