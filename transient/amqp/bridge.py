"""The AMQP side of one process: the events publisher and the commands consumer, built
from values (never the whole config), started and stopped together, reported once."""

import logging

from ..core.clock import utcnow
from ..core.redact import redact
from ..store.models import Delivery
from .commands import CommandConsumer
from .link import Link, parameters, target
from .publisher import Publisher

log = logging.getLogger("transient.amqp")

__all__ = ["Amqp", "CommandConsumer", "Publisher", "target"]


class Amqp:
    """Publishes the outbox's ``amqp:<exchange>`` deliveries and, with a ``queue``, serves
    payment commands on it.

    ``publisher()`` is built first, so its ``wake`` can be one of the outbox's
    listeners; ``commands(service, ...)`` once the payments service exists.
    Raises ConfigError for a URL pika cannot read.
    """

    def __init__(self, url, exchange, queue, retry_schedule, confirm_timeout, db, clock=utcnow):
        self.url = url
        self.exchange = exchange
        self.queue = queue
        self.target = target(exchange)
        parameters(url, "check")  # a URL pika cannot read is a config error at start-up
        self.publisher_link = Link("publisher", clock=clock)
        self.consumer_link = Link("commands", clock=clock)
        self.publisher = Publisher(
            db,
            parameters(url, "publisher"),
            retry_schedule,
            confirm_timeout=confirm_timeout,
            link=self.publisher_link,
            url=url,
            clock=clock,
            exchanges=[exchange],
        )
        self.consumer = None

    def serve_commands(self, service, max_body, api_keys):
        """Make the consumer of the command queue for ``service`` (none without a queue);
        return self."""
        if self.queue and self.consumer is None:
            self.consumer = CommandConsumer(
                service,
                parameters(self.url, "commands"),
                self.queue,
                max_body=max_body,
                api_keys=api_keys,
                link=self.consumer_link,
                url=self.url,
            )
        return self

    def start(self):
        """Start publishing, and consuming commands when there is a queue."""
        log.info(
            "amqp: events to exchange %s, commands on %s, broker %s",
            self.exchange,
            self.queue or "(off)",
            redact(self.url),
        )
        self.publisher.start()
        if self.consumer is not None:
            self.consumer.start()
        return self

    def stop(self):
        """Stop consuming (the command in hand is finished), then publishing."""
        if self.consumer is not None:
            self.consumer.stop()
        self.publisher.stop()

    def report(self):
        """The AMQP part of /healthz: both connections and the events waiting for the broker."""
        out = {
            "broker": redact(self.url),
            "exchange": self.exchange,
            "rpc_queue": self.queue,
            "publisher": self.publisher_link.report(),
            "commands": self.consumer_link.report() if self.queue else None,
        }
        try:
            pending = Delivery.select().where((Delivery.state == Delivery.PENDING) & (Delivery.url == self.target))
            out["events_waiting"] = pending.count()
            oldest = pending.order_by(Delivery.created_at).first()
            out["oldest_waiting_seconds"] = int((utcnow() - oldest.created_at).total_seconds()) if oldest else 0
        except Exception as exc:  # noqa: BLE001 - the database part of the report says it
            out["events_waiting"] = "error: %s" % exc.__class__.__name__
        return out
