"""The optional AMQP API: payment events on a topic exchange, payment commands on a queue.

Off unless ``[amqp] url`` is set. Then every outbox event also gets a delivery
row for the target ``amqp:<exchange>`` (written in the change's transaction, like
the webhooks'), which the publisher (:mod:`transient.amqp_events`) sends to the
broker with publisher confirms; and each worker process consumes the command
queue (:mod:`transient.amqp_rpc`) on the same payments service as the HTTP API.

Both use pika, the client the RabbitMQ team maintains and documents: pure Python,
no dependencies, publisher confirms and per-thread connections without a
framework around them. Each side owns one connection in one thread and
reconnects with backoff on its own; a broker that is down is reported by
/healthz but never stops the HTTP API.
"""
import logging
import random
import threading
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigError
from .models import Delivery, utcnow

log = logging.getLogger("transient.amqp")

TARGET_PREFIX = "amqp:"
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0  # seconds between reconnection attempts


def configure(config, service):
    """Return the process's :class:`Amqp` when ``[amqp] url`` is set, else None.

    Adds the exchange's target to ``service.outbox``, so events written by this
    process (daemon or CLI) get an AMQP delivery. Raises ConfigError for a URL
    pika cannot read.
    """
    if not config["amqp.url"]:
        return None
    bridge = Amqp(config, service)
    if bridge.target not in service.outbox.extra_targets:
        service.outbox.extra_targets.append(bridge.target)
    return bridge


def target(exchange):
    """The outbox target (Delivery.url) of an exchange: never holds credentials."""
    return TARGET_PREFIX + exchange


def exchange_of(url):
    return url[len(TARGET_PREFIX):]


def parameters(url, role):
    """pika connection parameters for ``url``, naming the connection after ``role``."""
    import os

    import pika

    try:
        params = pika.URLParameters(url)
    except Exception as exc:  # noqa: BLE001 - pika raises several kinds for a bad URL
        raise ConfigError("amqp.url cannot be used: %s" % scrub(str(exc), url), field="amqp.url") from None
    # Shown by `rabbitmqctl list_connections client_properties`.
    params.client_properties = {"connection_name": "transient %s (pid %d)" % (role, os.getpid())}
    return params


def redact(url):
    """``url`` with its password replaced by ``***`` (for logs and /healthz)."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = "%s:***@%s" % (parts.username or "", parts.netloc.rpartition("@")[2])
    return urlunsplit(parts._replace(netloc=netloc))


def scrub(text, url):
    """``text`` without the password of ``url`` in it, whatever a library put there."""
    password = urlsplit(url).password if url else None
    return text.replace(password, "***") if password else text


def describe(exc, url=None):
    """One line for a connection error, without the broker password."""
    name, text = exc.__class__.__name__, str(exc) or repr(exc)
    if not text.startswith(name):
        text = "%s: %s" % (name, text)
    return scrub(text, url)[:300]


class Link:
    """The state of one connection, for /healthz and the log."""

    def __init__(self, role, clock=utcnow):
        self.role = role
        self.clock = clock
        self.state = "stopped"
        self.since = clock()
        self.last_error = None
        self.last_error_at = None
        self.connects = 0
        self._lock = threading.Lock()

    def connecting(self):
        with self._lock:
            if self.state == "stopped":
                self.state, self.since = "connecting", self.clock()

    def up(self):
        with self._lock:
            self.state, self.since = "connected", self.clock()
            self.connects += 1
        log.info("amqp %s: connected", self.role)

    def down(self, error):
        """The connection failed or was lost; log it once per change of state."""
        with self._lock:
            was = self.state
            self.last_error, self.last_error_at = error, self.clock()
            if was != "disconnected":
                self.state, self.since = "disconnected", self.clock()
        if was == "connected":
            log.warning("amqp %s: connection lost (%s); reconnecting with backoff", self.role, error)
        elif was != "disconnected":
            log.warning("amqp %s: cannot connect (%s); retrying with backoff", self.role, error)
        else:
            log.debug("amqp %s: still cannot connect (%s)", self.role, error)

    def stopped(self):
        with self._lock:
            self.state, self.since = "stopped", self.clock()

    def report(self):
        from .payments import iso

        with self._lock:
            return {"state": self.state, "since": iso(self.since), "connects": self.connects,
                    "last_error": self.last_error, "last_error_at": iso(self.last_error_at)}


class Backoff:
    """Waits between reconnection attempts: doubling from 0.5 s to 30 s, ±20 % jitter."""

    def __init__(self, first=BACKOFF_FIRST, cap=BACKOFF_MAX, rng=None):
        self.first, self.cap = first, cap
        self.rng = rng or random.Random()
        self.reset()

    def reset(self):
        self._next = self.first

    def next(self):
        wait = self._next
        self._next = min(self.cap, self._next * 2)
        return wait * self.rng.uniform(0.8, 1.2)


class Amqp:
    """The AMQP side of one process: the events publisher and the commands consumer."""

    def __init__(self, config, service):
        self.url = config["amqp.url"]
        self.exchange = config["amqp.exchange"]
        self.queue = config["amqp.rpc_queue"]
        self.schedule = config["amqp.retry_schedule"]
        self.confirm_timeout = config["amqp.confirm_timeout"]
        self.max_body = config["api.max_body"]
        self.api_keys = config["api.keys"]
        self.service = service
        self.target = target(self.exchange)
        parameters(self.url, "check")  # a URL pika cannot read is a config error at start-up
        self.publisher_link = Link("publisher")
        self.consumer_link = Link("commands")
        self.publisher = None
        self.consumer = None
        self._previous_wake = None

    def start(self, outbox, clock=utcnow):
        """Start publishing ``outbox``'s AMQP deliveries and consuming commands."""
        from .amqp_events import Publisher
        from .amqp_rpc import CommandConsumer

        log.info("amqp: events to exchange %s, commands on %s, broker %s", self.exchange,
                 self.queue or "(off)", redact(self.url))
        self.publisher = Publisher(self.service.db, parameters(self.url, "publisher"), self.schedule,
                                   confirm_timeout=self.confirm_timeout, link=self.publisher_link,
                                   url=self.url, clock=clock).start()
        previous = self._previous_wake = outbox.wake
        publisher = self.publisher

        def wake():
            if previous is not None:
                previous()
            publisher.wake()

        outbox.wake = wake
        if self.queue:
            self.consumer = CommandConsumer(self.service, parameters(self.url, "commands"), self.queue,
                                            max_body=self.max_body, api_keys=self.api_keys,
                                            link=self.consumer_link, url=self.url).start()
        return self

    def stop(self, outbox=None):
        """Stop consuming (the command in hand is finished), then publishing."""
        if outbox is not None and self.publisher is not None:
            outbox.wake = self._previous_wake
        if self.consumer is not None:
            self.consumer.stop()
            self.consumer = None
        if self.publisher is not None:
            self.publisher.stop()
            self.publisher = None

    def report(self):
        """The AMQP part of /healthz: both connections and the events waiting for the broker."""
        out = {"broker": redact(self.url), "exchange": self.exchange, "rpc_queue": self.queue,
               "publisher": self.publisher_link.report(),
               "commands": self.consumer_link.report() if self.queue else None}
        try:
            pending = Delivery.select().where((Delivery.state == Delivery.PENDING) & (Delivery.url == self.target))
            out["events_waiting"] = pending.count()
            oldest = pending.order_by(Delivery.created_at).first()
            out["oldest_waiting_seconds"] = (
                int((utcnow() - oldest.created_at).total_seconds()) if oldest else 0)
        except Exception as exc:  # noqa: BLE001 - the database part of the report says it
            out["events_waiting"] = "error: %s" % exc.__class__.__name__
        return out
