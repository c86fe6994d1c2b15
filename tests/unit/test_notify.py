"""walletnotify and blocknotify at volume, in-process: the coalescing of pings into
syncs and the notify endpoint. The ping script and the daemon: tests/e2e/test_notify_script.py."""

import threading
import time

import pytest
from _daemon import wait_for
from apscheduler.schedulers.background import BackgroundScheduler
from falcon import testing

from transient import settings
from transient.chain.scheduler import CoinRunner
from transient.devnet.node import find_free_port
from transient.runtime import Runtime

TXID = "ab" * 32


# -- coalescing ---------------------------------------------------------------------


class HeldSyncer:
    """Stands in for a Syncer: each sync waits until the test lets it finish."""

    currency = "LTC"

    class lease:
        seconds = 60

    def __init__(self):
        self.started = threading.Semaphore(0)
        self.release = threading.Semaphore(0)
        self.count = 0

    def run(self):
        self.count += 1
        self.started.release()
        assert self.release.acquire(timeout=10), "the test never let the sync finish"
        return 1

    def record_error(self, message):
        raise AssertionError(message)


@pytest.fixture
def runner():
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.start()
    syncer = HeldSyncer()
    yield CoinRunner(syncer, 3600, scheduler, clock=time.monotonic), syncer
    for _ in range(10):
        syncer.release.release()
    scheduler.shutdown(wait=True)


def test_a_burst_of_pings_during_a_sync_makes_exactly_one_more_sync(runner):
    runner, syncer = runner
    runner.wake()
    assert syncer.started.acquire(timeout=10)  # a ping when idle starts a sync at once
    for _ in range(1000):
        runner.wake()
    syncer.release.release()
    assert syncer.started.acquire(timeout=10)  # ... exactly one more, for all 1000
    syncer.release.release()
    wait_for(lambda: not runner._running, timeout=10)
    assert not syncer.started.acquire(timeout=0.5)
    assert (syncer.count, runner.syncs, runner.wakes) == (2, 2, 1001)


def test_a_single_ping_during_a_sync_is_not_lost(runner):
    runner, syncer = runner
    runner.wake()
    assert syncer.started.acquire(timeout=10)
    runner.wake()
    syncer.release.release()
    assert syncer.started.acquire(timeout=10)
    syncer.release.release()
    wait_for(lambda: not runner._running, timeout=10)
    runner.wake()  # and once idle again, the next ping starts the next sync
    assert syncer.started.acquire(timeout=10)
    syncer.release.release()
    wait_for(lambda: not runner._running, timeout=10)
    assert syncer.count == 3


def test_a_ping_needs_neither_the_database_nor_the_node(tmp_path):
    """The endpoint answers while both are down: it only marks the coin dirty."""
    dead = find_free_port()
    path = tmp_path / "config.toml"
    path.write_text(
        '[database]\nurl = "postgresql://nobody@127.0.0.1:%d/none"\n%s'
        % (dead, '[coins.LTC]\nbackend = "litecoin"\nrpc_url = "http://127.0.0.1:%d"\npoll_interval = 3600\n' % dead)
    )
    runtime = Runtime(settings.load(str(path), environ={}))
    runtime.scheduler.start()  # its start-up sync fails in the background: no node, no database
    try:
        client = testing.TestClient(runtime.app())
        for kind in ("transaction", "block") * 100:
            resp = client.simulate_post("/notify/LTC/%s/%s" % (kind, TXID))
            assert resp.status_code == 202, resp.text
        assert runtime.scheduler.runners["LTC"].wakes == 201  # start-up + 200 pings
        assert client.simulate_post("/notify/DOGE/block/" + TXID).status_code == 422
    finally:
        runtime.scheduler.shutdown()
        runtime.close()


# -- spacing of close syncs (sync_coalesce_ms, sync_quiet_ms) ---------------------------


class SteppedClock:
    """A monotonic clock that moves only when told to or when the runner sleeps;
    ``at`` maps a time to a callable run once when a sleep reaches it."""

    def __init__(self):
        self.now = 0.0
        self.slept = []
        self.at = {}

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now = round(self.now + seconds, 6)
        for when in sorted(t for t in self.at if t <= self.now):
            self.at.pop(when)()


class RecordingSyncer(HeldSyncer):
    """Each sync notes the clock when it starts, may hear pings while it runs, and
    returns ``runs`` (0: another process holds the lease)."""

    def __init__(self, clock, runs=1):
        super().__init__()
        self.clock = clock
        self.starts = []
        self.pings_during = []
        self.runs = runs

    def run(self):
        self.starts.append(self.clock())
        for wake in self.pings_during.pop(0) if self.pings_during else ():
            wake()
        return self.runs


class QueuedJobs:
    """Stands in for APScheduler: wake() only queues; the test runs the job."""

    def __init__(self):
        self.jobs = []

    def add_job(self, func, *args, **kw):
        self.jobs.append(func)


def stepped_runner(coalesce, quiet=None, poll=3600, runs=1):
    clock, jobs = SteppedClock(), QueuedJobs()
    syncer = RecordingSyncer(clock, runs)
    runner = CoinRunner(syncer, poll, jobs, clock, coalesce=coalesce, quiet=quiet, monotonic=clock, sleep=clock.sleep)
    return runner, syncer, clock, jobs


def ping_at(runner, clock, jobs, when):
    """A ping at ``when``; runs the sync job it queued, if any."""
    clock.now = when
    runner.wake()
    while jobs.jobs:
        jobs.jobs.pop(0)()


def test_close_syncs_are_spaced_and_a_quiet_ping_syncs_at_once():
    runner, syncer, clock, jobs = stepped_runner(0.5)
    runner.wake()
    jobs.jobs.pop()()
    assert syncer.starts == [0.0] and clock.slept == []  # the first ping: no wait
    clock.now = 0.1
    for _ in range(5):  # a stream of pings 0.1 s after that sync started
        runner.wake()
    jobs.jobs.pop()()
    assert syncer.starts == [0.0, 0.5]  # one sync for the five, at the spacing
    clock.now = 3.0  # a quiet spell
    runner.wake()
    jobs.jobs.pop()()
    assert syncer.starts == [0.0, 0.5, 3.0] and jobs.jobs == []


def test_a_stream_slower_than_the_quiet_spell_syncs_each_ping_at_once():
    # Payments 0.25 s apart with a spacing of 0.3 s: each still syncs when its ping comes.
    runner, syncer, clock, jobs = stepped_runner(0.3, quiet=0.2)
    for i in range(6):
        ping_at(runner, clock, jobs, i * 0.25)
    assert syncer.starts == [i * 0.25 for i in range(6)] and clock.slept == []


def test_a_block_burst_and_the_next_payment_share_one_sync_at_the_spacing():
    runner, syncer, clock, jobs = stepped_runner(0.3, quiet=0.2)
    ping_at(runner, clock, jobs, 0.0)  # the burst's first ping: at once
    for when in (0.02, 0.05, 0.1, 0.14):  # the block's walletnotify pings, close together
        clock.now = when
        runner.wake()
    clock.at[0.25] = runner.wake  # the next payment, 0.25 s after the first: close to the burst
    jobs.jobs.pop()()
    assert syncer.starts == [0.0, 0.3] and jobs.jobs == []  # two syncs for six pings
    assert max(clock.slept) <= 0.01 + 1e-9  # the wait looks for quiet pings as it goes


def test_a_quiet_ping_ends_the_wait_of_close_ones():
    runner, syncer, clock, jobs = stepped_runner(0.5, quiet=0.2)
    ping_at(runner, clock, jobs, 0.0)
    clock.now = 0.1
    runner.wake()  # close: due at 0.5
    clock.at[0.35] = runner.wake  # 0.25 s after the last ping: at once
    jobs.jobs.pop()()
    assert syncer.starts == [0.0, 0.35]


def test_pings_during_a_sync_get_one_more_sync_after_the_spacing():
    runner, syncer, clock, jobs = stepped_runner(0.5, quiet=1.0)
    syncer.pings_during = [[runner.wake] * 3, [runner.wake]]
    runner.wake()
    jobs.jobs.pop()()
    # Pings during the first sync: one more at 0.5; a ping during that one: one more at 1.0.
    assert syncer.starts == [0.0, 0.5, 1.0] and jobs.jobs == []
    assert max(clock.slept) <= 0.5  # never more than the spacing


def test_a_quiet_ping_during_a_sync_gets_one_more_sync_right_after_it():
    runner, syncer, clock, jobs = stepped_runner(0.5, quiet=0.2)
    ping_at(runner, clock, jobs, 0.0)
    clock.now = 1.0
    syncer.pings_during = [[lambda: setattr(clock, "now", 1.3) or runner.wake()]]
    runner.wake()
    jobs.jobs.pop()()
    assert syncer.starts == [0.0, 1.0, 1.3]  # no spacing: the ping came 0.3 s after the last one


def test_no_spacing_syncs_at_every_ping():
    runner, syncer, clock, jobs = stepped_runner(0, quiet=0.2)
    for _ in range(3):
        runner.wake()
        jobs.jobs.pop()()
    assert syncer.starts == [0.0, 0.0, 0.0] and clock.slept == []


def test_the_poll_is_skipped_while_syncs_go_through():
    runner, syncer, clock, jobs = stepped_runner(0.3, quiet=0.2, poll=10)
    ping_at(runner, clock, jobs, 100.0)
    clock.now = 104.9  # a sync went through less than half a poll interval ago
    runner.poll()
    assert jobs.jobs == [] and syncer.starts == [100.0]
    clock.now = 105.0
    runner.poll()
    jobs.jobs.pop()()
    assert syncer.starts == [100.0, 105.0]


def test_the_poll_is_not_skipped_after_a_sync_that_did_not_go_through():
    # Another process held the lease: this one synced nothing, its poll still looks.
    runner, syncer, clock, jobs = stepped_runner(0.3, quiet=0.2, poll=10, runs=0)
    clock.now = 100.0
    runner.wake()
    jobs.jobs.pop()()
    jobs.jobs.clear()  # the lease's retry job
    clock.now = 101.0
    runner.poll()
    assert jobs.jobs and syncer.starts == [100.0]
