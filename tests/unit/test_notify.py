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
