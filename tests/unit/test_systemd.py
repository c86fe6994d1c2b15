"""systemd's notify protocol in-process: the Notifier on real AF_UNIX datagram sockets
(a path and an abstract name), ServiceState's messages from heartbeats, and the
scheduler's report (ready, stuck, status). A real transientd under NOTIFY_SOCKET and
WATCHDOG_USEC: tests/e2e/test_process.py."""

import os
import socket
import threading
import time
import uuid

import pytest

from transient.chain.scheduler import SyncScheduler
from transient.core.clock import utcnow
from transient.ops.systemd import Heartbeats, Notifier, ServiceState


@pytest.fixture(params=["path", "abstract"])
def listener(request, tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        address = str(tmp_path / "notify.sock")
        sock.bind(address)
    else:
        address = "@transient-unit-%s" % uuid.uuid4().hex
        sock.bind("\0" + address[1:])
    sock.settimeout(5)
    yield address, sock
    sock.close()


def messages(sock, wait=0.05):
    got = []
    sock.settimeout(wait)
    try:
        while True:
            got.append(dict(line.split("=", 1) for line in sock.recv(4096).decode().splitlines()))
    except TimeoutError:
        return got


def test_take_from_removes_the_variables_so_nothing_else_sends():
    env = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1", "OTHER": "kept"}
    notifier = Notifier.take_from(env)
    assert env == {"OTHER": "kept"}
    assert notifier.enabled and notifier.address == "@x" and notifier.watchdog == 30.0
    assert not Notifier.take_from({}).enabled and Notifier.take_from({"NOTIFY_SOCKET": "@x"}).watchdog is None


def test_messages_reach_the_socket_as_key_value_lines(listener):
    address, sock = listener
    notifier = Notifier(address)
    assert notifier.send(READY=1, STATUS="ready: LTC synced\nsecond line")
    assert sock.recv(4096) == b"READY=1\nSTATUS=ready: LTC synced second line\n"
    assert notifier.stopping()
    assert messages(sock) == [{"STOPPING": "1", "STATUS": "stopping"}]


def test_a_gone_socket_is_logged_not_raised(tmp_path, caplog):
    assert Notifier(str(tmp_path / "gone.sock")).send(WATCHDOG=1) is False
    assert "systemd notify to" in caplog.text
    assert Notifier(None).send(READY=1) is False  # not under systemd: nothing to do


def test_ready_once_status_on_change_watchdog_unless_stuck(listener, caplog):
    address, sock = listener
    state = ServiceState(Notifier(address, watchdog_usec=4_000_000))
    assert (state.every, state.stuck_after) == (1.0, 4.0)
    state.beat({"ready": False, "stuck": [], "status": "starting: LTC first sync"})
    state.beat({"ready": True, "stuck": [], "status": "ready: LTC synced"})
    state.beat({"ready": True, "stuck": [], "status": "ready: LTC synced"})
    state.beat({"ready": True, "stuck": ["LTC"], "status": "ready: LTC stuck in a sync for 5s"})
    state.beat({"ready": True, "stuck": ["LTC"], "status": "ready: LTC stuck in a sync for 5s"})
    state.beat({"ready": True, "stuck": [], "status": "ready: LTC synced"})
    assert messages(sock) == [
        {"STATUS": "starting: LTC first sync", "WATCHDOG": "1"},
        {"READY": "1", "STATUS": "ready: LTC synced", "WATCHDOG": "1"},
        {"WATCHDOG": "1"},
        {"STATUS": "ready: LTC stuck in a sync for 5s"},
        {"STATUS": "ready: LTC synced", "WATCHDOG": "1"},
    ]
    assert caplog.text.count("no more watchdog pings") == 1


class Gate:
    """A Syncer stand-in whose run() waits until the test opens the gate."""

    currency = "LTC"

    def __init__(self):
        self.open = threading.Event()
        self.entered = threading.Event()

    def run(self):
        self.entered.set()
        self.open.wait(10)
        return 1


def test_the_scheduler_reports_ready_after_the_first_sync_and_a_stuck_sync():
    gate = Gate()
    scheduler = SyncScheduler({"LTC": gate}, {"LTC": 3600}, utcnow)
    beats = []

    class Heartbeat:
        every, stuck_after = 0.05, 0.2

        def beat(self, report):
            beats.append(report)

    scheduler.start(heartbeat=Heartbeat())
    try:
        assert gate.entered.wait(10)
        deadline = time.monotonic() + 10
        while not (beats and beats[-1]["stuck"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert beats[0]["ready"] is False and beats[0]["status"].startswith("starting: LTC ")
        assert beats[-1]["stuck"] == ["LTC"] and "LTC stuck in a sync for" in beats[-1]["status"]
        gate.open.set()
        while not (beats[-1]["ready"]) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert beats[-1] == {"ready": True, "stuck": [], "status": "ready: LTC synced"}
    finally:
        gate.open.set()
        scheduler.shutdown()


def test_one_stale_worker_of_several_stops_every_worker_s_pings(listener, tmp_path, caplog):
    """Workers share the master's Heartbeats: a live sibling whose heartbeat grew old (its
    scheduler is stuck) silences this one too; a sibling that died does not count."""
    address, sock = listener
    peers = Heartbeats(str(tmp_path / "beats"))
    os.mkdir(peers.path)
    state = ServiceState(Notifier(address, watchdog_usec=4_000_000), peers)
    status = {"ready": True, "stuck": [], "status": "ready: LTC synced"}
    sibling = os.path.join(peers.path, str(os.getppid()))  # a process that is alive
    open(sibling, "w").close()
    state.beat(status)
    assert messages(sock) == [{"READY": "1", "STATUS": "ready: LTC synced", "WATCHDOG": "1"}]
    old = time.time() - 5
    os.utime(sibling, (old, old))
    state.beat(status)
    assert messages(sock) == []
    assert "worker(s) %d: no scheduler heartbeat for 4s" % os.getppid() in caplog.text
    os.utime(sibling)  # it beats again
    with open("/proc/sys/kernel/pid_max") as fh:
        dead = int(fh.read())  # pids stay below pid_max: no process has this one
    gone = os.path.join(peers.path, str(dead))
    open(gone, "w").close()
    os.utime(gone, (old, old))
    state.beat(status)
    assert messages(sock) == [{"WATCHDOG": "1"}] and not os.path.exists(gone)
    state.quiet()  # this worker stops: its own file goes, the others no longer wait for it
    assert sorted(os.listdir(peers.path)) == [str(os.getppid())]
    peers.remove()
    assert not os.path.exists(peers.path)
