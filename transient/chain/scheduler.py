"""Schedules each coin's sync: a fallback poll, pings from the node, start-up catch-up.

A burst of pings while a sync runs makes exactly one more sync. A ping after a
quiet spell (no trigger for ``quiet`` seconds) starts a sync at once, even if
one started a moment ago: a stream of payments a few hundred milliseconds apart
gets one sync each, without waiting. Triggers that come closer together than
that (a block's walletnotify pings and the payment right after them, a burst of
payments) share a sync started ``coalesce`` seconds after the previous one, so
each waits at most that long. The poll is skipped while syncs go through anyway.
Node outages back off and are logged once per change of state.
"""

import datetime
import logging
import threading
import time

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from ..core.errors import NodeError
from ..ops import logs, metrics

log = logging.getLogger("transient.sync")
MAX_BACKOFF = 60.0
WAIT_STEP = 0.01  # seconds: a quiet ping ends a spacing wait within this long


class CoinRunner:
    """Runs one coin's Syncer, coalescing triggers."""

    def __init__(
        self,
        syncer,
        poll_interval,
        scheduler,
        clock,
        coalesce=0.0,
        quiet=None,
        monotonic=time.monotonic,
        sleep=time.sleep,
    ):
        self.syncer = syncer
        self.poll_interval = poll_interval
        self.coalesce = coalesce  # seconds between the starts of syncs for close triggers
        self.quiet = coalesce if quiet is None else quiet  # seconds without a trigger: the next syncs at once
        self._monotonic = monotonic
        self._sleep = sleep
        self._last_start = None  # monotonic start of the last sync
        self._last_wake = None  # monotonic time of the last trigger
        self._last_ok = None  # monotonic start of the last sync that went through
        self._due = None  # monotonic time the pending sync may start
        self.scheduler = scheduler
        self.clock = clock
        self.job_id = "sync-now-%s" % syncer.currency
        self._lock = threading.Lock()
        self._running = False
        self._queued = False  # a run() job is scheduled and has not started yet
        self._dirty = False
        self._failures = 0
        self._retry_at = None
        self._node = logs.Transition("node-%s" % syncer.currency)  # its down/up lines, once per daemon
        self.syncs = 0
        self.wakes = 0
        self.sync_started = None  # time.monotonic() of the sync running now, for the heartbeat
        self.first_done = False  # the first sync ran (or failed): the coin counts as started

    def wake(self):
        """Trigger a sync now; returns at once: True when it queued a sync, False when
        it was coalesced with one running or queued.

        A ping costs a flag under a lock: no database, no RPC. At most one job is
        queued, and a running sync only notes that it must go round once more.
        """
        now = self._monotonic()
        with self._lock:
            self.wakes += 1
            self._dirty = True
            self._due = _earlier(self._due, self._start_at(now))
            self._last_wake = now
            if self._running or self._queued:
                return False
            self._queued = True
        try:
            self.scheduler.add_job(self.run, id=self.job_id, replace_existing=True, misfire_grace_time=None)
        except BaseException:
            with self._lock:
                self._queued = False
            raise
        return True

    def _start_at(self, now):
        """When a trigger at ``now`` may start its sync: at once after ``quiet`` seconds
        without a trigger, else ``coalesce`` seconds after the last sync started."""
        close = self._last_wake is not None and now - self._last_wake < self.quiet
        if not close or self._last_start is None:
            return now
        return max(now, self._last_start + self.coalesce)

    def poll(self):
        """The fallback poll: a sync unless the node is in back-off. It only wakes the
        runner's job, so a sync longer than the poll interval never overlaps the poll."""
        metrics.observe_rss()  # each worker's memory gauge stays fresh between scrapes
        if self._retry_at is not None and self.clock() < self._retry_at:
            return
        # Syncs that went through within the last half interval cover whatever a lost
        # ping announced: a lost ping still syncs within 1.5 intervals.
        if self._last_ok is not None and self._monotonic() - self._last_ok < self.poll_interval / 2:
            return
        self.wake()

    def run(self):
        """Sync while triggers keep coming; returns when none arrived during the last sync."""
        with self._lock:
            self._queued = False
            if self._running:
                return
            self._running = True
        try:
            while True:
                with self._lock:
                    # Checking for more work and leaving are one step, so a
                    # wake() in between cannot be lost.
                    if not self._dirty:
                        self._running = False
                        return
                self._space_out()
                with self._lock:
                    self._dirty = False  # pings during the wait are served by this sync
                    self._due = None
                    self._last_start = self._monotonic()
                if self._timed_sync():
                    self._last_ok = self._last_start
        except BaseException:
            with self._lock:
                self._running = False
            raise

    def _timed_sync(self):
        """Run one sync; return True when it went through (this process synced)."""
        self.sync_started = time.monotonic()
        try:
            return self._sync()
        finally:
            self.sync_started = None
            self.first_done = True

    def state(self, stuck_after, now=None):
        """One word or phrase for STATUS=: starting, synced, node unavailable, stuck."""
        started = self.sync_started
        if started is not None and (now or time.monotonic()) - started > stuck_after:
            return "stuck in a sync for %ds" % ((now or time.monotonic()) - started)
        if not self.first_done:
            return "first sync"
        return "node unavailable, retrying" if self._failures else "synced"

    def _space_out(self):
        """Wait until the pending triggers may sync (see :meth:`_start_at`); a quiet
        trigger during the wait ends it."""
        while True:
            with self._lock:
                due = self._due
            wait = 0 if due is None else due - self._monotonic()
            if wait <= 0:
                return
            self._sleep(min(wait, WAIT_STEP))

    def _sync(self):
        currency = self.syncer.currency
        try:
            with metrics.Timer() as timer:
                runs = self.syncer.run()
            if runs:
                metrics.SYNC_RUNS.labels(currency).inc(runs)
                metrics.SYNC_DURATION.labels(currency).observe(timer.seconds)
            if runs == 0:
                # Another process holds the lease and was asked to run again. If it
                # died, its lease runs out: look again then rather than at the next poll.
                self._retry_later(min(self.poll_interval, self.syncer.lease.seconds))
            self.syncs += runs
        except NodeError as exc:
            self._failures += 1
            delay = min(self.poll_interval * 2 ** (self._failures - 1), MAX_BACKOFF)
            self._retry_at = self.clock() + _seconds(delay)
            metrics.SYNC_FAILURES.labels(currency, "node").inc()
            if self._failures == 1 and self._node.down():
                log.warning(
                    "%s: node unavailable (%s), down; retrying with back-off up to %ds",
                    currency,
                    exc,
                    MAX_BACKOFF,
                    extra={"event": "node.down", "currency": currency, "error": str(exc)},
                )
            self._note_error(str(exc))
            return False
        except Exception:
            metrics.SYNC_FAILURES.labels(currency, "internal").inc()
            log.exception("%s: sync failed", currency)
            self._note_error("internal error during sync (see the log)")
            return False
        if runs and self._node.up():
            log.info("%s: node reachable again, up", currency, extra={"event": "node.up", "currency": currency})
        self._failures, self._retry_at = 0, None
        return runs > 0

    def _retry_later(self, seconds):
        self.scheduler.add_job(
            self.wake,
            "date",
            run_date=datetime.datetime.now(datetime.timezone.utc) + _seconds(seconds),
            id=self.job_id + "-retry",
            replace_existing=True,
        )

    def _note_error(self, message):
        try:
            self.syncer.record_error(message)
        except Exception:  # the database may be the thing that is down
            log.debug("could not record the sync error", exc_info=True)


def _earlier(a, b):
    return b if a is None else min(a, b)


def _seconds(value):
    return datetime.timedelta(seconds=value)


class SyncScheduler:
    """One APScheduler per process, with a poll job and a runner per coin.

    ``syncers`` maps a currency to its Syncer, ``poll_intervals`` to its poll
    interval in seconds, ``coalesce`` (optional) to its spacing of close syncs in seconds,
    ``quiet`` (optional) to the quiet spell after which a ping syncs at once.
    """

    def __init__(self, syncers, poll_intervals, clock, coalesce=None, quiet=None):
        coalesce, quiet = coalesce or {}, quiet or {}
        workers = max(4, 2 * len(syncers) + 1)
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(workers)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone="UTC",
        )
        self.runners = {
            code: CoinRunner(
                syncer, poll_intervals[code], self.scheduler, clock, coalesce.get(code, 0.0), quiet.get(code)
            )
            for code, syncer in syncers.items()
        }

    def start(self, heartbeat=None):
        """Start the polls and the start-up catch-up; with ``heartbeat`` (an object with
        ``every``, ``stuck_after`` and ``beat(report)``, e.g. ops.systemd.ServiceState),
        also a job that reports this scheduler's :meth:`report` every ``every`` seconds."""
        self.scheduler.start()
        for code, runner in self.runners.items():
            self.scheduler.add_job(
                runner.poll, "interval", seconds=runner.poll_interval, id="poll-%s" % code, misfire_grace_time=None
            )
            runner.wake()  # catch up from the stored cursor at start-up
        if heartbeat is not None:
            # A job of this scheduler, on its executor: when jobs stop running, so do the beats.
            self.scheduler.add_job(
                lambda: heartbeat.beat(self.report(heartbeat.stuck_after)),
                "interval",
                seconds=heartbeat.every,
                id="heartbeat",
                misfire_grace_time=None,
                next_run_time=datetime.datetime.now(datetime.timezone.utc),
            )

    def report(self, stuck_after):
        """Return ``{"ready", "stuck", "status"}``: every coin's first sync is over; the coins
        whose sync has run longer than ``stuck_after`` seconds; one line for STATUS=."""
        now = time.monotonic()
        runners = sorted(self.runners.items())
        stuck = [c for c, r in runners if r.sync_started is not None and now - r.sync_started > stuck_after]
        ready = all(r.first_done for _, r in runners)
        states = ", ".join("%s %s" % (c, r.state(stuck_after, now)) for c, r in runners)
        return {"ready": ready, "stuck": stuck, "status": "%s: %s" % ("ready" if ready else "starting", states)}

    def wake(self, currency):
        """Ask for a sync of ``currency``; False when coalesced with a running or queued one."""
        return self.runners[currency].wake()

    def shutdown(self):
        self.scheduler.shutdown(wait=True)
