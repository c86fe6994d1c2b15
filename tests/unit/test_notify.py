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


# -- spacing of close syncs (sync_coalesce_ms) ----------------------------------------


class SteppedClock:
    """A monotonic clock that moves only when told to or when the runner sleeps."""

    def __init__(self):
        self.now = 0.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


class RecordingSyncer(HeldSyncer):
    """Each sync notes the clock when it starts, and may hear pings while it runs."""

    def __init__(self, clock):
        super().__init__()
        self.clock = clock
        self.starts = []
        self.pings_during = []

    def run(self):
        self.starts.append(self.clock())
        for wake in self.pings_during.pop(0) if self.pings_during else ():
            wake()
        return 1


class QueuedJobs:
    """Stands in for APScheduler: wake() only queues; the test runs the job."""

    def __init__(self):
        self.jobs = []

    def add_job(self, func, *args, **kw):
        self.jobs.append(func)


def test_close_syncs_are_spaced_and_a_quiet_ping_syncs_at_once():
    clock, jobs = SteppedClock(), QueuedJobs()
    syncer = RecordingSyncer(clock)
    runner = CoinRunner(syncer, 3600, jobs, clock, coalesce=0.5, monotonic=clock, sleep=clock.sleep)
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


def test_pings_during_a_sync_get_one_more_sync_after_the_spacing():
    clock, jobs = SteppedClock(), QueuedJobs()
    syncer = RecordingSyncer(clock)
    runner = CoinRunner(syncer, 3600, jobs, clock, coalesce=0.5, monotonic=clock, sleep=clock.sleep)
    syncer.pings_during = [[runner.wake] * 3, [runner.wake]]
    runner.wake()
    jobs.jobs.pop()()
    # Pings during the first sync: one more at 0.5; a ping during that one: one more at 1.0.
    assert syncer.starts == [0.0, 0.5, 1.0] and jobs.jobs == []
    assert max(clock.slept) <= 0.5  # never more than the spacing


def test_no_spacing_syncs_at_every_ping():
    clock, jobs = SteppedClock(), QueuedJobs()
    syncer = RecordingSyncer(clock)
    runner = CoinRunner(syncer, 3600, jobs, clock, coalesce=0, monotonic=clock, sleep=clock.sleep)
    for _ in range(3):
        runner.wake()
        jobs.jobs.pop()()
    assert syncer.starts == [0.0, 0.0, 0.0] and clock.slept == []
