"""The connection side of AMQP: one connection's state (Link), reconnection backoff,
pika parameters and error texts without the broker password, and target names."""

import logging
import os
import random
import threading

import pika

from ..core.clock import iso, utcnow
from ..core.errors import ConfigError
from ..core.redact import scrub

log = logging.getLogger("transient.amqp")

TARGET_PREFIX = "amqp:"
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0  # seconds between reconnection attempts


def target(exchange):
    """The outbox target (Delivery.url) of an exchange: never holds credentials."""
    return TARGET_PREFIX + exchange


def exchange_of(url):
    return url[len(TARGET_PREFIX) :]


def parameters(url, role):
    """pika connection parameters for ``url``, naming the connection after ``role``."""
    try:
        params = pika.URLParameters(url)
    except Exception as exc:  # noqa: BLE001 - pika raises several kinds for a bad URL
        raise ConfigError("amqp.url cannot be used: %s" % scrub(str(exc), url), field="amqp.url") from None
    # Shown by `rabbitmqctl list_connections client_properties`.
    params.client_properties = {"connection_name": "transient %s (pid %d)" % (role, os.getpid())}
    return params


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
        with self._lock:
            return {
                "state": self.state,
                "since": iso(self.since),
                "connects": self.connects,
                "last_error": self.last_error,
                "last_error_at": iso(self.last_error_at),
            }


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
