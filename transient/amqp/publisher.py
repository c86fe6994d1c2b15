"""AMQP events: the outbox's ``amqp:<exchange>`` deliveries, published to a topic exchange.

The :class:`Publisher` is the webhook Dispatcher with another transport. It
claims due deliveries whose target starts with "amqp" (the same leases across
workers, the same one-at-a-time order per payment, the same attempt log),
publishes them as one batch, waits for the broker's publisher confirms, and
records the batch: an event counts as delivered only once the broker has taken
responsibility for it (for a durable queue: written it to disk).

Messages: routing key ``payment.<CURRENCY>.<event>`` (``payment.LTC.status_changed``),
the webhook body, ``message_id`` the event id, persistent, ``application/json``.
Delivery is at least once: a connection lost before the confirms arrive
publishes the batch again. Consumers drop message ids they have seen.

While the broker is away nothing is claimed: deliveries wait in the database
and go out in order once it is back. A delivery the broker refused (nack, or no
confirm in time) is retried after ``[amqp] retry_schedule``, whose last wait
repeats: an AMQP delivery never fails for good, it waits for the broker.

pika's SelectConnection runs in the publisher's own thread, on one IOLoop kept
across reconnections (so ``wake()`` from any thread always reaches it); every
callback, the database work included, runs in that thread.
"""

import datetime
import json
import logging
import threading
import time
import uuid
from types import SimpleNamespace

import pika
from pika.adapters.select_connection import IOLoop

from ..core.clock import utcnow
from ..delivery.dispatcher import POLL, Dispatcher
from ..delivery.sender import Outcome
from ..store.models import Delivery
from .link import Backoff, Link, describe, exchange_of

log = logging.getLogger("transient.amqp")

BATCH = 200  # deliveries published per confirm round
CONFIRMED = "confirmed by the broker"
SENT = "sent (no confirms)"


class Published(Outcome):
    """One publish: delivered when the broker confirmed it (``error`` is None)."""

    __slots__ = ()

    @property
    def ok(self):
        return self.error is None

    @property
    def retryable(self):
        return True  # a nack or a lost connection: the broker may take it next time


def routing_key(delivery):
    """``payment.<CURRENCY>.<event type without "payment.">``, e.g. ``payment.LTC.confirmed``;
    a payout's: ``payout.<CURRENCY>.<kind>``, e.g. ``payout.LTC.approved``."""
    body = json.loads(delivery.body)
    subject = "payout" if body.get("payout") is not None else "payment"
    currency = body[subject]["currency"]
    prefix = subject + "."
    kind = delivery.type[len(prefix) :] if delivery.type.startswith(prefix) else delivery.type
    return "%s.%s.%s" % (subject, currency, kind)


def properties(delivery, now):
    headers = {
        "Transient-Event-Id": delivery.event_id,
        "Transient-Event-Type": delivery.type,
        "Transient-Delivery-Id": delivery.id,
        "Transient-Delivery-Attempt": delivery.attempts + 1,
    }
    if delivery.redelivery_of is not None:
        headers["Transient-Redelivery-Of"] = delivery.redelivery_of
    return pika.BasicProperties(
        content_type="application/json",
        delivery_mode=pika.DeliveryMode.Persistent,
        message_id=delivery.event_id,
        type=delivery.type,
        app_id="transient",
        timestamp=int(now.replace(tzinfo=datetime.timezone.utc).timestamp()),
        headers=headers,
    )


class Publisher(Dispatcher):
    """Publishes due AMQP deliveries until stopped. ``params`` are pika's
    connection parameters; ``confirms=False`` only exists to measure what the
    confirms cost (bench/amqp_publish.py): without them a lost connection loses
    the batch in flight."""

    prefix = "amqp"
    kind = "amqp"

    def __init__(
        self,
        db,
        params,
        schedule,
        batch=BATCH,
        confirms=True,
        confirm_timeout=30,
        link=None,
        url=None,
        holder=None,
        clock=utcnow,
        rng=None,
        exchanges=(),
    ):
        # The lease covers one batch: publishing it and waiting for its confirms.
        super().__init__(
            db,
            SimpleNamespace(timeout=confirm_timeout),
            schedule,
            concurrency=batch,
            holder=holder or "amqp:%s" % uuid.uuid4().hex[:12],
            clock=clock,
            rng=rng,
        )
        self.params = params
        self.exchanges = tuple(exchanges)  # declared as soon as a channel opens, events or not
        self.confirms = confirms
        self.confirm_timeout = confirm_timeout
        self.link = link or Link("publisher", clock=clock)
        self.url = url  # only to scrub its password from error texts
        self.backoff = Backoff(rng=rng)
        self._ioloop = None
        self._conn = None
        self._channel = None
        self._declared = set()
        self._tag = 0  # the last delivery tag given out on the channel (confirm mode numbers from 1)
        self._inflight = {}  # delivery tag -> Claimed, waiting for its confirm
        self._done = []  # outcomes of the batch in flight
        self._batch_started = None
        self._timer = None  # the poll timer, or the confirm timeout while a batch is in flight
        self._wake_pending = False

    # -- control ----------------------------------------------------------------

    def start(self):
        self._ioloop = IOLoop()
        self._thread = threading.Thread(target=self._run, name="amqp-publisher", daemon=True)
        self._thread.start()
        return self

    def wake(self):
        """New deliveries were committed (any thread): look at once."""
        if self._ioloop is None or self._wake_pending:
            return
        self._wake_pending = True
        self._ioloop.add_callback_threadsafe(self._on_wake)

    def stop(self, timeout=15):
        """Stop claiming; wait for the batch in flight to be confirmed and recorded; disconnect."""
        if self._thread is None:
            return
        self._stop.set()
        self._ioloop.add_callback_threadsafe(self._shutdown)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("amqp publisher: still waiting for confirms after %ss; their leases run out", timeout)
        self._thread = None

    def _run(self):
        self._ioloop.add_callback_threadsafe(self._connect)
        try:
            self._ioloop.start()
        finally:
            self._ioloop.close()
            self.link.stopped()

    # -- retries never give up ---------------------------------------------------

    def _next(self, out, number, now):
        if out.ok:
            return Delivery.DELIVERED, None
        wait = self.schedule[min(number, len(self.schedule)) - 1] * self.rng.uniform(0.8, 1.2)
        return Delivery.PENDING, now + datetime.timedelta(seconds=wait)

    def _log(self, out, number, state, retry_at, now):
        d = out.delivery
        what = "%s (#%d, event %s seq %d) to %s attempt %d" % (d.type, d.id, d.event_id, d.sequence, d.url, number)
        if state == Delivery.DELIVERED:
            log.debug("amqp %s: %s", what, out.response)
        else:
            log.warning("amqp %s: %s; retry in %ds", what, out.error, (retry_at - now).total_seconds())

    # -- connection ---------------------------------------------------------------

    def _connect(self):
        if self._stop.is_set():
            self._ioloop.stop()
            return
        self.link.connecting()
        self._conn = pika.SelectConnection(
            self.params,
            on_open_callback=self._on_open,
            on_open_error_callback=self._on_open_error,
            on_close_callback=self._on_closed,
            custom_ioloop=self._ioloop,
        )

    def _on_open_error(self, conn, error):
        self._conn = None
        self.link.down(describe(error, self.url))
        self._reconnect_later()

    def _reconnect_later(self):
        if self._stop.is_set():
            self._ioloop.stop()
            return
        self._ioloop.call_later(self.backoff.next(), self._connect)

    def _on_open(self, conn):
        conn.channel(on_open_callback=self._on_channel)

    def _on_channel(self, channel):
        self._channel, self._declared, self._tag = channel, set(), 0
        channel.add_on_close_callback(self._on_channel_closed)
        # A consumer started before the first event can bind its queue at once (the
        # channel runs these before anything published on it).
        for exchange in self.exchanges:
            channel.exchange_declare(exchange, "topic", durable=True)
            self._declared.add(exchange)
        if self.confirms:
            channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._ready())
        else:
            self._ready()

    def _ready(self):
        self.link.up()
        self.backoff.reset()
        self._cycle()

    def _on_channel_closed(self, channel, reason):
        # The broker closes the channel on an error of ours (an exchange of another
        # type under the same name...): start over on a fresh connection.
        self._channel = None
        self._fail_inflight("channel closed: %s" % describe(reason, self.url))
        conn = self._conn
        if conn is not None and conn.is_open:
            conn.close()

    def _on_closed(self, conn, reason):
        self._conn = self._channel = None
        self._fail_inflight("connection lost: %s" % describe(reason, self.url))
        self._cancel_timer()
        if self._stop.is_set():
            self._ioloop.stop()
            return
        self.link.down(describe(reason, self.url))
        self._reconnect_later()

    def _shutdown(self):
        if self._inflight:
            return  # _finish() comes back here through _cycle() once the confirms are in
        self._cancel_timer()
        conn = self._conn
        if conn is not None and not (conn.is_closing or conn.is_closed):
            conn.close()  # _on_closed() (or _on_open_error()) stops the loop
        else:
            self._ioloop.stop()

    # -- one round: claim, publish, wait for the confirms, record -----------------

    def _on_wake(self):
        self._wake_pending = False
        if not self._inflight:
            self._cycle()

    def _cycle(self):
        if self._stop.is_set():
            self._shutdown()
            return
        if self._inflight or self._channel is None or not self._channel.is_open:
            return
        self._cancel_timer()
        try:
            claimed = self.claim(self.concurrency)
        except Exception:  # the database may be down: try again at the next poll
            log.exception("amqp publisher: could not claim deliveries")
            claimed = []
        if claimed:
            self._publish(claimed)
        else:
            self._timer = self._ioloop.call_later(POLL, self._cycle)

    def _publish(self, claimed):
        now = self.clock()
        self._batch_started = (now, time.monotonic())
        for d in claimed:
            try:
                exchange = exchange_of(d.url)
                if exchange not in self._declared:
                    # No wait for Declare-Ok: the channel runs the declare before the publish.
                    self._channel.exchange_declare(exchange, "topic", durable=True)
                    self._declared.add(exchange)
                key = routing_key(d)
                self._channel.basic_publish(exchange, key, d.body.encode(), properties(d, now))
            except Exception as exc:  # noqa: BLE001 - a closed channel, a broken body: retry this one later
                self._done.append(self._outcome(d, error="not published: %s" % describe(exc, self.url)))
                continue
            if self.confirms:
                self._tag += 1
                self._inflight[self._tag] = d
            else:
                self._done.append(self._outcome(d, response=SENT))
        if self._inflight:
            self._timer = self._ioloop.call_later(self.confirm_timeout, self._confirm_timed_out)
        else:
            self._finish()

    def _on_confirm(self, frame):
        method = frame.method
        ack = isinstance(method, pika.spec.Basic.Ack)
        tags = [t for t in self._inflight if t <= method.delivery_tag] if method.multiple else [method.delivery_tag]
        for tag in tags:
            d = self._inflight.pop(tag, None)
            if d is not None:
                self._done.append(
                    self._outcome(d, response=CONFIRMED)
                    if ack
                    else self._outcome(d, error="refused by the broker (nack)")
                )
        if not self._inflight:
            self._finish()

    def _confirm_timed_out(self):
        self._timer = None
        self._fail_inflight("no confirm from the broker within %ss" % self.confirm_timeout)
        if self._conn is not None and self._conn.is_open:
            self._conn.close()  # a broker that stopped confirming: start over

    def _fail_inflight(self, error):
        for d in self._inflight.values():
            self._done.append(self._outcome(d, error=error))
        self._inflight.clear()
        if self._done:
            self._finish(next_round=False)

    def _finish(self, next_round=True):
        self._cancel_timer()
        done, self._done = self._done, []
        try:
            self.record(done)
        except Exception:  # the leases run out and the batch is published again
            log.exception("amqp publisher: could not record %d outcome(s)", len(done))
        if next_round:
            self._ioloop.call_later(0, self._cycle)

    def _outcome(self, delivery, error=None, response=None):
        started, t0 = self._batch_started
        return Published(delivery, started, int((time.monotonic() - t0) * 1000), error=error, response=response)

    def _cancel_timer(self):
        if self._timer is not None:
            self._ioloop.remove_timeout(self._timer)
            self._timer = None
