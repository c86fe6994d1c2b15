"""Webhook delivery: the dispatcher that drains the outbox's delivery queue.

Each process runs one Dispatcher. It leases due deliveries with a conditional
UPDATE (so with several workers or hosts each delivery is sent by one process),
posts them from a bounded pool of threads with keep-alive sessions, and records
every attempt and its outcome. Per payment and URL, a delivery waits until the
ones before it are delivered or have failed for good: events reach a receiver
in order, and a failing receiver or payment holds up no other.

Delivery is at least once: a process killed between sending and recording
sends again once its lease runs out. Receivers drop event ids they have seen.

Fairness: a target is the scheme://host:port of a URL. One that has not answered yet, or
whose last attempt hung (timed out or failed slowly), holds at most ``per_target``
attempts, and all such targets together at most half of the pool; a target whose last
attempt answered promptly may use what is idle. So healthy receivers keep their share
while many others hang, and a busy healthy receiver still gets the whole pool.
"""

import datetime
import logging
import queue
import random
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from ..core.clock import utcnow
from ..core.redact import redact
from ..ops import metrics
from ..store.db import is_sqlite, retry_once, write_transaction
from ..store.models import Delivery
from . import kinds
from .sender import Outcome

log = logging.getLogger("transient.webhooks")

POLL = 1.0  # seconds between looks for deliveries queued by other processes
SLOW_MS = 2000  # an attempt slower than this makes its target untrusted (limited to its share)
MAX_EXCLUDED = 200  # targets named in one claim's filter


def target_of(url):
    """Return the URL's target as written: ``scheme://netloc`` (its prefix)."""
    start = url.find("://")
    if start < 0:
        return url
    start += 3
    end = len(url)
    for ch in "/?#":
        i = url.find(ch, start)
        if 0 <= i < end:
            end = i
    return url[:end]


# A recorded attempt's state -> its outcome in transient_deliveries_total.
_OUTCOME = {Delivery.DELIVERED: "sent", Delivery.PENDING: "retried", Delivery.FAILED: "failed"}


class Claimed:
    """A leased delivery with what sending it needs."""

    __slots__ = ("id", "url", "body", "attempts", "sequence", "redelivery_of", "event_id", "type", "target_id", "retry")

    def __init__(self, id, url, body, attempts, sequence, redelivery_of, event_id, type, target_id=None):
        self.id, self.url, self.body, self.attempts = id, url, body, attempts
        self.sequence, self.redelivery_of, self.event_id, self.type = sequence, redelivery_of, event_id, type
        self.target_id = target_id  # a registered target that signs its own way (a Greenfield webhook)
        self.retry = True  # False: the target asked for no automatic redelivery


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
      AND (d.payout_id IS NULL OR NOT EXISTS (
          SELECT 1 FROM delivery f
          WHERE f.payout_id = d.payout_id AND f.url = d.url AND f.state = 'pending'
            AND (f.sequence < d.sequence OR (f.sequence = d.sequence AND f.id < d.id)))){exclude}
    ORDER BY d.next_attempt_at, d.id
    LIMIT {limit}{lock})
  AND (lease_expires IS NULL OR lease_expires < {p})
RETURNING id
"""


def _claim_sql(db, limit, excluded=(), only=None):
    # PostgreSQL: concurrent claimers skip rows another one is leasing instead of
    # waiting for it and then finding them taken. SQLite runs one writer at a time.
    lock = "" if is_sqlite(db) else " FOR UPDATE SKIP LOCKED"
    # Targets are matched by their prefix (substr: no LIKE escaping).
    one = "(substr(d.url, 1, %d) IN ({p}, {p}, {p}) OR d.url = {p})"
    extra = "".join("\n      AND NOT " + one % (len(t) + 1) for t in excluded)
    if only is not None:
        extra += "\n      AND (%s)" % (" OR ".join(one % (len(t) + 1) for t in only) or "1 = 0")
    return (
        _CLAIM.replace("{limit}", str(int(limit)))
        .replace("{lock}", lock)
        .replace("{exclude}", extra)
        .replace("{p}", db.param)
    )


def _target_params(targets):
    return [v for t in targets for v in (t + "/", t + "?", t + "#", t)]


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
    kind = "webhook"  # the target kind of its metrics (transient_deliveries_total)

    def __init__(
        self, db, sender, schedule, concurrency=8, holder=None, clock=utcnow, rng=None, per_target=None, registry=None
    ):
        self.db = db
        self.registry = registry  # signs deliveries to registered targets of their own rule
        self.sender = sender
        self.schedule = list(schedule)
        self.concurrency = concurrency
        # Default: a quarter of the pool per target (at least 1).
        self.per_target = max(1, min(concurrency, per_target or concurrency // 4))
        self.untrusted_share = max(1, concurrency // 2)
        self._busy = Counter()  # target -> attempts in flight (the loop's thread only)
        self._trusted = set()  # targets whose last attempt answered promptly
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

    @property
    def noun(self):
        """What its deliveries are called in log lines (the kind's word: "e-mail")."""
        return kinds.named(self.kind).noun

    # -- control ----------------------------------------------------------------

    def start(self):
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=self.kind)
        self._thread = threading.Thread(target=self._loop, name="%s-dispatcher" % self.kind, daemon=True)
        self._thread.start()
        return self

    def wake(self):
        """New deliveries were committed: look at once (nothing before ``start()``: the
        loop looks at the database when it starts)."""
        if self._thread is not None:
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

    def claim(self, limit, excluded=(), only=None):
        """Lease up to ``limit`` due deliveries; return them as Claimed rows.

        One UPDATE picks and leases them (hand-written SQL: this runs for every
        few deliveries, and building it with the ORM cost more than running it).
        A delivery is due when no earlier one of its payment (or payout) to its URL is pending.
        """
        return retry_once(
            self.db,
            self._claim,
            limit,
            list(excluded)[:MAX_EXCLUDED],
            None if only is None else list(only)[:MAX_EXCLUDED],
        )

    def _claim(self, limit, excluded, only):
        now = self.clock()
        sql = _claim_sql(self.db, limit, excluded, only)
        params = (
            [self.holder, now + self.lease, self.prefix + "%", now, now]
            + _target_params(excluded)
            + _target_params(only or ())
            + [now]
        )
        with write_transaction(self.db):
            cursor = self.db.execute_sql(sql, params)
            ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return []
        marks = ", ".join([self.db.param] * len(ids))
        cursor = self.db.execute_sql(
            "SELECT d.id, d.url, d.body, d.attempts, d.sequence, d.redelivery_of_id, e.event_id, e.type, d.target_id"
            " FROM delivery d JOIN event e ON e.id = d.event_id WHERE d.id IN (%s) ORDER BY d.id" % marks,
            ids,
        )
        return [
            Claimed(r[0], r[1], r[2], r[3], r[4], r[5], str(uuid.UUID(str(r[6]))), r[7], r[8])
            for r in cursor.fetchall()
        ]

    def send(self, delivery):
        """Post ``delivery`` signed as its kind signs (a registered target's row, read
        through the registry, may have its own secret and retry rule); return the Outcome."""
        body = delivery.body.encode()
        target = None
        if delivery.target_id is not None and self.registry is not None:
            target = self.registry.row(delivery.target_id)
            if target is None:
                return Outcome(delivery, self.clock(), 0, error="the target was deleted", refused=True)
        kind = kinds.of(delivery.url, target)
        headers = kind.headers(delivery, body, target, self.sender.secret)
        if headers is None:
            return Outcome(delivery, self.clock(), 0, error="the target was deleted", refused=True)
        delivery.retry = kind.retries(target)
        return self.sender.post(delivery.url, body, headers, delivery)

    def record(self, outcomes):
        """Store the attempts and move each delivery on, in one transaction.

        When the connection is lost half-way the transaction is run again once, for the
        deliveries this process still leases: if the first commit went through (and only
        its answer was lost) they are released already and nothing is stored twice."""
        now = self.clock()
        rows = []
        for out in outcomes:
            number = out.delivery.attempts + 1
            state, retry_at = self._next(out, number, now)
            rows.append((out, number, state, retry_at))
        tries = []

        def store():
            todo = rows if not tries else self._still_leased(rows)
            tries.append(1)
            if todo:
                self._store(todo, now)

        retry_once(self.db, store)
        for out, number, state, retry_at in rows:
            metrics.DELIVERIES.labels(self.kind, _OUTCOME[state]).inc()
            self._log(out, number, state, retry_at, now)
            if retry_at is not None and (self._soonest is None or retry_at < self._soonest):
                self._soonest = retry_at
        self.sent += len(outcomes)

    def _still_leased(self, rows):
        ids = [row[0].delivery.id for row in rows]
        marks = ", ".join([self.db.param] * len(ids))
        cursor = self.db.execute_sql(
            "SELECT id FROM delivery WHERE id IN (%s) AND lease_holder = %s" % (marks, self.db.param),
            ids + [self.holder],
        )
        mine = {r[0] for r in cursor.fetchall()}
        return [row for row in rows if row[0].delivery.id in mine]

    def _store(self, rows, now):
        attempts, updates = [], []
        for out, number, state, retry_at in rows:
            d = out.delivery
            attempts.append((d.id, number, out.started, out.duration_ms, out.status, out.error, out.response, retry_at))
            updates.append(
                (
                    state,
                    number,
                    retry_at,
                    out.status,
                    out.error,
                    now if state == Delivery.DELIVERED else None,
                    d.id,
                    self.holder,
                )
            )
        p = self.db.param
        with write_transaction(self.db):
            self.db.execute_sql(
                "INSERT INTO delivery_attempt (delivery_id, number, started_at, duration_ms, status_code, error,"
                " response, retry_at) VALUES %s" % ", ".join(["(%s)" % ", ".join([p] * 8)] * len(attempts)),
                [v for row in attempts for v in row],
            )
            cursor = self.db.cursor()
            cursor.executemany(
                "UPDATE delivery SET state = {p}, attempts = {p}, next_attempt_at = COALESCE({p}, next_attempt_at),"
                " lease_holder = NULL, lease_expires = NULL, last_status = {p}, last_error = {p}, delivered_at = {p}"
                " WHERE id = {p} AND lease_holder = {p}".format(p=p),
                updates,
            )
            if cursor.rowcount >= 0 and cursor.rowcount < len(updates):
                log.warning(
                    "%s dispatcher: %d lease(s) ran out during their attempt; the new holder decides",
                    self.noun,
                    len(updates) - cursor.rowcount,
                )

    def _next(self, out, number, now):
        if out.ok:
            return Delivery.DELIVERED, None
        if not out.retryable or number > len(self.schedule) or not getattr(out.delivery, "retry", True):
            return Delivery.FAILED, None
        wait = self.schedule[number - 1] * self.rng.uniform(0.8, 1.2)
        if out.retry_after:
            wait = max(wait, out.retry_after)
        return Delivery.PENDING, now + datetime.timedelta(seconds=wait)

    def _log(self, out, number, state, retry_at, now):
        d = out.delivery
        noun = kinds.noun(d.url)  # "e-mail", "webhook": the kind's word, not the dispatcher's
        fields = {"delivery_id": d.id, "target": redact(target_of(d.url)), "attempts": number}
        what = "%s (#%d, event %s seq %d) to %s attempt %d: %s in %d ms" % (
            d.type,
            d.id,
            d.event_id,
            d.sequence,
            redact(d.url),
            number,
            out.status if out.status is not None else out.error,
            out.duration_ms,
        )
        if state == Delivery.DELIVERED:
            log.info("%s %s: delivered", noun, what, extra=dict(fields, event="delivery.sent"))
        elif state == Delivery.PENDING:
            log.warning(
                "%s %s%s; retry in %ds",
                noun,
                what,
                " (%s)" % out.error if out.status and out.error else "",
                (retry_at - now).total_seconds(),
                extra=dict(fields, event="delivery.retry"),
            )
        else:
            log.error(
                "%s %s%s; giving up",
                noun,
                what,
                " (%s)" % out.error if out.status and out.error else "",
                extra=dict(fields, event="delivery.given_up", error=out.error or str(out.status)),
            )

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
        unrecorded = []  # outcomes whose record failed (database away): kept until it is back
        while True:
            if self._stop.is_set():
                self._cancel_queued(inflight)
                if not inflight:
                    break
            elif unrecorded:
                pass  # record what was sent before claiming more
            elif len(inflight) <= self.concurrency:
                # Keep up to twice the pool busy, so threads never wait for a claim.
                try:
                    self._claim_and_submit(inflight)
                except Exception:  # the database may be down: try again at the next poll
                    log.exception("%s dispatcher: could not claim deliveries", self.noun)
            outcomes = self._wait()
            for outcome in outcomes:
                if inflight.pop(outcome.delivery.id, None) is not None:
                    self._done(outcome)
            outcomes = unrecorded + outcomes
            if outcomes:
                try:
                    self.record(outcomes)
                    unrecorded = []
                except Exception:  # the database is away: try again at the next poll, before claiming
                    if not unrecorded:
                        log.exception(
                            "%s dispatcher: could not record %d outcome(s); keeping them", self.noun, len(outcomes)
                        )
                    unrecorded = outcomes
                    if self._stop.is_set() and not inflight:
                        break  # their leases run out; another process sends them again
        self._pool.shutdown(wait=True)

    def _untrusted_busy(self):
        return sum(n for t, n in self._busy.items() if t not in self._trusted)

    def _claim_and_submit(self, inflight):
        """Claim what the shares allow and start it; give back what a claim took beyond them."""
        limit = 2 * self.concurrency - len(inflight)
        untrusted = self._untrusted_busy()
        if untrusted >= self.untrusted_share:
            if not self._trusted:
                return
            claimed = self.claim(limit, only=sorted(self._trusted))
        else:
            claimed = self.claim(
                limit,
                excluded=sorted(t for t, n in self._busy.items() if n >= self.per_target and t not in self._trusted),
            )
        over = []
        for delivery in claimed:
            target = target_of(delivery.url)
            if target not in self._trusted:
                if self._busy[target] >= self.per_target or untrusted >= self.untrusted_share:
                    over.append(delivery.id)
                    continue
                untrusted += 1
            self._busy[target] += 1
            inflight[delivery.id] = self._pool.submit(self._attempt, delivery)
        if over:
            self._release(over)

    def _done(self, outcome):
        target = target_of(outcome.delivery.url)
        self._busy[target] -= 1
        if self._busy[target] <= 0:
            del self._busy[target]
        if outcome.status is not None and outcome.duration_ms < SLOW_MS:
            self._trusted.add(target)
        elif outcome.status is None or outcome.duration_ms >= SLOW_MS:
            if target in self._trusted:
                log.warning(
                    "%s target %s is slow or hangs (%s): it gets a share of the dispatcher"
                    " until it answers promptly again",
                    self.noun,
                    target,
                    outcome.error or outcome.status,
                )
            self._trusted.discard(target)

    def _release(self, ids):
        with write_transaction(self.db):
            Delivery.update(lease_holder=None, lease_expires=None).where(
                Delivery.id.in_(ids) & (Delivery.lease_holder == self.holder)
            ).execute()

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
            log.exception("%s %d: unexpected error", kinds.noun(delivery.url), delivery.id)
            outcome = Outcome(delivery, self.clock(), 0, error="internal error: %s" % exc.__class__.__name__)
        self._queue.put(outcome)

    def _cancel_queued(self, inflight):
        """Cancel attempts not started yet and give their leases back."""
        cancelled = [did for did, future in inflight.items() if future.cancel()]
        for did in cancelled:
            del inflight[did]
        if cancelled:
            try:
                self._release(cancelled)
            except Exception:  # noqa: BLE001 - their leases run out instead
                log.debug("could not release leases", exc_info=True)
