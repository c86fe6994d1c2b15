"""Webhook delivery: the dispatcher that drains the outbox's delivery queue.

Each process runs one Dispatcher. It leases due deliveries with a conditional
UPDATE (so with several workers or hosts each delivery is sent by one process),
posts them from a bounded pool of threads with keep-alive sessions, and records
every attempt and its outcome. Per payment and URL, a delivery waits until the
ones before it are delivered or have failed for good: events reach a receiver
in order, and a failing receiver or payment holds up no other.

Delivery is at least once: a process killed between sending and recording
sends again once its lease runs out. Receivers drop event ids they have seen.
"""
import datetime
import logging
import queue
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from . import __version__, webhooks
from .db import is_sqlite, write_transaction
from .errors import NotFound
from .models import Delivery, DeliveryAttempt, Event, utcnow

log = logging.getLogger("transient.webhooks")

POLL = 1.0  # seconds between looks for deliveries queued by other processes
RETRY_STATUSES = frozenset({408, 429})
EXCERPT = 500  # characters of a receiver's answer kept in the log
MAX_RETRY_AFTER = 86400


class Outcome:
    """What one attempt gave."""

    __slots__ = ("delivery", "started", "duration_ms", "status", "error", "response", "retry_after")

    def __init__(self, delivery, started, duration_ms, status=None, error=None, response=None,
                 retry_after=None):
        self.delivery = delivery
        self.started = started
        self.duration_ms = duration_ms
        self.status = status
        self.error = error
        self.response = response
        self.retry_after = retry_after

    @property
    def ok(self):
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self):
        if self.status is None:
            return True  # network error or timeout
        return self.status in RETRY_STATUSES or self.status >= 500


class Sender:
    """Posts signed bodies; one keep-alive session per thread."""

    def __init__(self, secret=None, timeout=10, clock=utcnow):
        self.secret = secret
        self.timeout = timeout
        self.clock = clock
        self._local = threading.local()

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["User-Agent"] = "Transient/%s" % __version__
        return session

    def headers(self, event_id, event_type, delivery_id=None, attempt=1, redelivery_of=None, body=b""):
        headers = {"Content-Type": "application/json", "Transient-Event-Id": str(event_id),
                   "Transient-Event-Type": event_type, "Transient-Delivery-Attempt": str(attempt)}
        if delivery_id is not None:
            headers["Transient-Delivery-Id"] = str(delivery_id)
        if redelivery_of is not None:
            headers["Transient-Redelivery-Of"] = str(redelivery_of)
        if self.secret:
            headers[webhooks.HEADER] = webhooks.sign(self.secret, body)
        return headers

    def post(self, url, body, headers, delivery=None):
        """Post ``body``; return an Outcome (never raises for the receiver's faults)."""
        started = self.clock()
        t0 = time.monotonic()
        try:
            resp = self._session().post(url, data=body, headers=headers, timeout=(min(5, self.timeout), self.timeout),
                                        allow_redirects=False, stream=True)
            try:
                text = resp.raw.read(EXCERPT * 4, decode_content=True).decode("utf-8", "replace")[:EXCERPT]
            except Exception:  # noqa: BLE001 - a broken answer body does not change the status
                text = None
            finally:
                resp.close()
            outcome = Outcome(delivery, started, _ms(t0), status=resp.status_code, response=text,
                              retry_after=_retry_after(resp.headers.get("Retry-After")))
            if 300 <= resp.status_code < 400:
                outcome.error = "redirect to %s not followed" % resp.headers.get("Location", "?")
            return outcome
        except requests.Timeout:
            return Outcome(delivery, started, _ms(t0), error="timed out after %ss" % self.timeout)
        except requests.RequestException as exc:
            return Outcome(delivery, started, _ms(t0), error=_short(exc))


def _ms(t0):
    return int((time.monotonic() - t0) * 1000)


def _short(exc):
    text = str(exc.__class__.__name__)
    reason = getattr(exc, "args", None) and str(exc.args[0])
    if reason:
        # urllib3 wraps the cause deep inside; its last part is the readable one.
        text += ": " + reason.rsplit(": ", 1)[-1].rstrip(")'\"")[:200]
    return text


def _retry_after(value):
    if value and value.strip().isdigit():
        return min(int(value.strip()), MAX_RETRY_AFTER)
    return None


class Claimed:
    """A leased delivery with what sending it needs."""

    __slots__ = ("id", "url", "body", "attempts", "sequence", "redelivery_of", "event_id", "type")

    def __init__(self, id, url, body, attempts, sequence, redelivery_of, event_id, type):
        self.id, self.url, self.body, self.attempts = id, url, body, attempts
        self.sequence, self.redelivery_of, self.event_id, self.type = sequence, redelivery_of, event_id, type


_CLAIM = """
UPDATE delivery SET lease_holder = {p}, lease_expires = {p}
WHERE id IN (
    SELECT d.id FROM delivery d
    WHERE d.state = 'pending' AND d.url LIKE {p} AND d.next_attempt_at <= {p}
      AND (d.lease_expires IS NULL OR d.lease_expires < {p})
      AND NOT EXISTS (
          SELECT 1 FROM delivery e
          WHERE e.payment_id = d.payment_id AND e.url = d.url AND e.state = 'pending'
            AND (e.sequence < d.sequence OR (e.sequence = d.sequence AND e.id < d.id)))
    ORDER BY d.next_attempt_at, d.id
    LIMIT {limit}{lock})
  AND (lease_expires IS NULL OR lease_expires < {p})
RETURNING id
"""


def _claim_sql(db, limit):
    # PostgreSQL: concurrent claimers skip rows another one is leasing instead of
    # waiting for it and then finding them taken. SQLite runs one writer at a time.
    lock = "" if is_sqlite(db) else " FOR UPDATE SKIP LOCKED"
    return _CLAIM.replace("{limit}", str(int(limit))).replace("{lock}", lock).replace("{p}", db.param)


class Dispatcher:
    """Sends due deliveries from the database until stopped.

    It takes the deliveries whose URL starts with ``prefix`` ("http": http and
    https); another transport (the AMQP publisher) subclasses it with its own
    prefix and ``send()``.

    ``schedule`` is the list of seconds to wait before each retry; a delivery
    that still fails after the last one is marked failed. Each wait gets ±20 %
    jitter so a receiver coming back is not hit by every retry at once.
    """

    prefix = "http"

    def __init__(self, db, sender, schedule, concurrency=8, holder=None, clock=utcnow, rng=None):
        self.db = db
        self.sender = sender
        self.schedule = list(schedule)
        self.concurrency = concurrency
        self.holder = holder or "dispatch:%s" % uuid.uuid4().hex[:12]
        self.clock = clock
        self.rng = rng or random.Random()
        self.lease = datetime.timedelta(seconds=2 * sender.timeout + 30)
        self._queue = queue.Queue()
        self._stop = threading.Event()
        self._thread = None
        self._pool = None
        self._soonest = None  # earliest retry this process scheduled
        self.sent = 0

    # -- control ----------------------------------------------------------------

    def start(self):
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="webhook")
        self._thread = threading.Thread(target=self._loop, name="webhook-dispatcher", daemon=True)
        self._thread.start()
        return self

    def wake(self):
        """New deliveries were committed: look at once."""
        self._queue.put(None)

    def stop(self, timeout=15):
        """Stop claiming; wait for attempts in flight and record them; release the rest."""
        if self._thread is None:
            return
        self._stop.set()
        self.wake()
        self._thread.join(timeout)
        self._thread = None

    # -- one round, for the loop and for tests ----------------------------------

    def claim(self, limit):
        """Lease up to ``limit`` due deliveries; return them as Claimed rows.

        One UPDATE picks and leases them (hand-written SQL: this runs for every
        few deliveries, and building it with the ORM cost more than running it).
        A delivery is due when no earlier one of its payment to its URL is pending.
        """
        now = self.clock()
        sql = _claim_sql(self.db, limit)
        params = (self.holder, now + self.lease, self.prefix + "%", now, now, now)
        with write_transaction(self.db):
            cursor = self.db.execute_sql(sql, params)
            ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return []
        marks = ", ".join([self.db.param] * len(ids))
        cursor = self.db.execute_sql(
            'SELECT d.id, d.url, d.body, d.attempts, d.sequence, d.redelivery_of_id, e.event_id, e.type'
            ' FROM delivery d JOIN event e ON e.id = d.event_id WHERE d.id IN (%s) ORDER BY d.id' % marks, ids)
        return [Claimed(r[0], r[1], r[2], r[3], r[4], r[5], str(uuid.UUID(str(r[6]))), r[7])
                for r in cursor.fetchall()]

    def send(self, delivery):
        body = delivery.body.encode()
        headers = self.sender.headers(delivery.event_id, delivery.type, delivery.id,
                                      delivery.attempts + 1, delivery.redelivery_of, body)
        return self.sender.post(delivery.url, body, headers, delivery)

    def record(self, outcomes):
        """Store the attempts and move each delivery on, in one transaction."""
        now = self.clock()
        attempts, updates = [], []
        for out in outcomes:
            d = out.delivery
            number = d.attempts + 1
            state, retry_at = self._next(out, number, now)
            attempts.append((d.id, number, out.started, out.duration_ms, out.status, out.error, out.response,
                             retry_at))
            updates.append((state, number, retry_at, out.status, out.error,
                            now if state == Delivery.DELIVERED else None, d.id, self.holder))
            self._log(out, number, state, retry_at, now)
            if retry_at is not None and (self._soonest is None or retry_at < self._soonest):
                self._soonest = retry_at
        p = self.db.param
        with write_transaction(self.db):
            self.db.execute_sql(
                "INSERT INTO delivery_attempt (delivery_id, number, started_at, duration_ms, status_code, error,"
                " response, retry_at) VALUES %s" % ", ".join(["(%s)" % ", ".join([p] * 8)] * len(attempts)),
                [v for row in attempts for v in row])
            cursor = self.db.cursor()
            cursor.executemany(
                "UPDATE delivery SET state = {p}, attempts = {p}, next_attempt_at = COALESCE({p}, next_attempt_at),"
                " lease_holder = NULL, lease_expires = NULL, last_status = {p}, last_error = {p}, delivered_at = {p}"
                " WHERE id = {p} AND lease_holder = {p}".format(p=p), updates)
            if cursor.rowcount >= 0 and cursor.rowcount < len(updates):
                log.warning("webhooks: %d lease(s) ran out during their attempt; the new holder decides",
                            len(updates) - cursor.rowcount)
        self.sent += len(outcomes)

    def _next(self, out, number, now):
        if out.ok:
            return Delivery.DELIVERED, None
        if not out.retryable or number > len(self.schedule):
            return Delivery.FAILED, None
        wait = self.schedule[number - 1] * self.rng.uniform(0.8, 1.2)
        if out.retry_after:
            wait = max(wait, out.retry_after)
        return Delivery.PENDING, now + datetime.timedelta(seconds=wait)

    def _log(self, out, number, state, retry_at, now):
        d = out.delivery
        what = "%s (#%d, event %s seq %d) to %s attempt %d: %s in %d ms" % (
            d.type, d.id, d.event_id, d.sequence, d.url, number,
            out.status if out.status is not None else out.error, out.duration_ms)
        if state == Delivery.DELIVERED:
            log.info("webhook %s: delivered", what)
        elif state == Delivery.PENDING:
            log.warning("webhook %s%s; retry in %ds", what, " (%s)" % out.error if out.status and out.error else "",
                        (retry_at - now).total_seconds())
        else:
            log.error("webhook %s%s; giving up", what, " (%s)" % out.error if out.status and out.error else "")

    def run_once(self, limit=None):
        """Claim, send one after another, record; return the outcomes (for tests and the CLI)."""
        claimed = self.claim(limit or self.concurrency)
        outcomes = [self.send(d) for d in claimed]
        if outcomes:
            self.record(outcomes)
        return outcomes

    # -- the loop ---------------------------------------------------------------

    def _loop(self):
        inflight = {}  # delivery id -> Future; only this thread touches it
        while True:
            if self._stop.is_set():
                self._cancel_queued(inflight)
                if not inflight:
                    break
            elif len(inflight) <= self.concurrency:
                # Keep up to twice the pool busy, so threads never wait for a claim.
                try:
                    for delivery in self.claim(2 * self.concurrency - len(inflight)):
                        inflight[delivery.id] = self._pool.submit(self._attempt, delivery)
                except Exception:  # the database may be down: try again at the next poll
                    log.exception("webhook dispatcher: could not claim deliveries")
            outcomes = self._wait()
            for outcome in outcomes:
                inflight.pop(outcome.delivery.id, None)
            if outcomes:
                try:
                    self.record(outcomes)
                except Exception:  # leases run out and the attempts are made again
                    log.exception("webhook dispatcher: could not record %d outcome(s)", len(outcomes))
        self._pool.shutdown(wait=True)

    def _wait(self):
        """Return the outcomes that arrived, waiting for a first item up to POLL
        or until the soonest retry this process scheduled is due."""
        timeout = POLL
        if self._soonest is not None:
            timeout = min(POLL, max(0.0, (self._soonest - self.clock()).total_seconds()))
            self._soonest = None if timeout < POLL else self._soonest
        try:
            items = [self._queue.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return [o for o in items if o is not None]

    def _attempt(self, delivery):
        try:
            outcome = self.send(delivery)
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the slot taken
            log.exception("webhook %d: unexpected error", delivery.id)
            outcome = Outcome(delivery, self.clock(), 0, error="internal error: %s" % exc.__class__.__name__)
        self._queue.put(outcome)

    def _cancel_queued(self, inflight):
        """Cancel attempts not started yet and give their leases back."""
        cancelled = [did for did, future in inflight.items() if future.cancel()]
        for did in cancelled:
            del inflight[did]
        if cancelled:
            try:
                with write_transaction(self.db):
                    Delivery.update(lease_holder=None, lease_expires=None).where(
                        Delivery.id.in_(cancelled) & (Delivery.lease_holder == self.holder)).execute()
            except Exception:  # noqa: BLE001 - their leases run out instead
                log.debug("could not release leases", exc_info=True)


# -- the service: event log and redelivery ----------------------------------------

def event_log(payment, renderer):
    """Return the payment's events, oldest first, each with its deliveries and their attempts."""
    events = list(Event.select().where(Event.payment == payment.id).order_by(Event.sequence))
    deliveries = {}
    for d in Delivery.select().where(Delivery.payment == payment.id).order_by(Delivery.id):
        deliveries.setdefault(d.event_id, []).append(d)
    attempts = {}
    ids = [d.id for ds in deliveries.values() for d in ds]
    for i in range(0, len(ids), 500):
        query = DeliveryAttempt.select().where(DeliveryAttempt.delivery.in_(ids[i:i + 500]))
        for a in query.order_by(DeliveryAttempt.number, DeliveryAttempt.id):
            attempts.setdefault(a.delivery_id, []).append(a)
    out = []
    for event in events:
        item = renderer.render_event(event, payment.currency)
        item["deliveries"] = [render_delivery(d, attempts.get(d.id, [])) for d in deliveries.get(event.id, [])]
        out.append(item)
    return out


def render_delivery(d, attempts=None):
    from .payments import iso

    if attempts is None:
        attempts = list(d.log.order_by(DeliveryAttempt.number))
    return {
        "id": d.id, "url": d.url, "state": d.state, "attempts": d.attempts,
        "next_attempt_at": iso(d.next_attempt_at) if d.state == Delivery.PENDING else None,
        "delivered_at": iso(d.delivered_at), "last_status": d.last_status, "last_error": d.last_error,
        "redelivery_of": d.redelivery_of_id, "created_at": iso(d.created_at),
        "log": [{"attempt": a.number, "at": iso(a.started_at), "status_code": a.status_code, "error": a.error,
                 "duration_ms": a.duration_ms, "response": a.response, "retry_at": iso(a.retry_at)}
                for a in attempts],
    }


def redeliver(delivery_id, db=None, now=None):
    """Queue a new delivery of the same event and body to the same URL; return it."""
    try:
        did = int(str(delivery_id))
    except ValueError:
        raise NotFound("no delivery with id %s" % delivery_id, "id") from None
    with write_transaction(db):
        original = Delivery.get_or_none(Delivery.id == did)
        if original is None:
            raise NotFound("no delivery with id %s" % did, "id")
        now = now or utcnow()
        return Delivery.create(event=original.event_id, payment=original.payment_id, sequence=original.sequence,
                               url=original.url, body=original.body, state=Delivery.PENDING,
                               next_attempt_at=now, created_at=now, redelivery_of=original.id)


def recent(state=None, limit=50):
    """Return the newest deliveries (in ``state`` if given)."""
    query = Delivery.select()
    if state is not None:
        query = query.where(Delivery.state == state)
    return list(query.order_by(Delivery.id.desc()).limit(limit))


def failed_ids():
    """Ids of deliveries that failed for good and have no redelivery queued or made since."""
    again = Delivery.alias()
    redone = again.select(again.redelivery_of).where(again.redelivery_of.is_null(False))
    return [d.id for d in Delivery.select(Delivery.id).where(
        (Delivery.state == Delivery.FAILED) & Delivery.id.not_in(redone)).order_by(Delivery.id)]


def ping(sender, url):
    """Send a signed test event to ``url`` now; return its Outcome (nothing is stored)."""
    from .payments import iso

    event_id = uuid.uuid4()
    body = ('{"payment_id":null,"status":null,"event":{"id":"%s","type":"ping","created_at":"%s",'
            '"sequence":0,"data":{}},"payment":null}' % (event_id, iso(utcnow()))).encode()
    return sender.post(url, body, sender.headers(event_id, "ping", body=body))
