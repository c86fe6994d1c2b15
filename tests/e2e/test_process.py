"""transientd as a process among others: a taken address, and (below) systemd's
notify protocol and two daemons side by side on one host."""

import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid

import pytest
from _cli import clean_env
from _daemon import ROOT, Daemon, coin_config, wait_for
from _services import _missing

from transient.devnet.node import find_free_port


def test_a_taken_address_is_named_with_its_setting(tmp_path):
    """In the background (no terminal, output to a file) as in the foreground: one
    line naming the address and the setting that changes it, exit 2, at once."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    port = held.getsockname()[1]
    config = tmp_path / "config.toml"
    config.write_text('[server]\nbind = "127.0.0.1:%d"\n[database]\nurl = "sqlite:///%s"\n' % (port, tmp_path / "t.db"))
    out = tmp_path / "out.log"
    try:
        with open(out, "wb") as fh:
            proc = subprocess.run(
                [sys.executable, os.path.join(ROOT, "transientd.py"), "--config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                env=clean_env(),
                cwd=tmp_path,
                start_new_session=True,
                timeout=60,
            )
    finally:
        held.close()
    lines = out.read_text().strip().splitlines()
    assert proc.returncode == 2, lines
    assert lines == [
        "transientd: cannot listen on 127.0.0.1:%d: the address is in use (another transientd or program"
        " listens there); set [server] bind or TRANSIENT_SERVER_BIND to a free address" % port
    ]


def test_start_up_errors_name_the_variable_or_the_flag(tmp_path):
    transientd = [sys.executable, os.path.join(ROOT, "transientd.py")]
    typo = subprocess.run(
        transientd, capture_output=True, text=True, cwd=tmp_path, env=clean_env({"TRANSIENT_SERVER_BNID": "x"})
    )
    assert typo.returncode == 2 and typo.stderr.startswith(
        "transientd: TRANSIENT_SERVER_BNID: unknown environment variable (did you mean TRANSIENT_SERVER_BIND?)"
    )
    missing = str(tmp_path / "nope.toml")
    flag = subprocess.run([*transientd, "--config", missing], capture_output=True, text=True, env=clean_env())
    assert (flag.returncode, flag.stderr) == (2, "transientd: config file %s does not exist (--config)\n" % missing)


# -- PostgreSQL without its driver --------------------------------------------------

# Installed without the postgres extra: the driver's import fails, as peewee sees it.
_NO_DRIVER = 'import sys\nsys.modules["psycopg2"] = None\nsys.modules["psycopg"] = None\n'


def test_a_postgresql_url_without_the_driver_is_one_line_exit_2(tmp_path):
    blocker = tmp_path / "site"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(_NO_DRIVER)
    config = tmp_path / "config.toml"
    config.write_text(
        '[server]\nbind = "127.0.0.1:%d"\n[database]\nurl = "postgresql://u:hunter2@127.0.0.1:5432/test"\n'
        % find_free_port()
    )
    env = clean_env({"PYTHONPATH": "%s:%s" % (blocker, ROOT)})
    wanted = (
        "database.url is a PostgreSQL URL, but its driver (psycopg2) is not installed:"
        " pip install 'transient[postgres]'"
    )
    for argv in (["-m", "transient.cli", "migrate"], [os.path.join(ROOT, "transientd.py")]):
        proc = subprocess.run(
            [sys.executable, *argv, "--config", str(config)], capture_output=True, text=True, env=env, timeout=60
        )
        assert proc.returncode == 2, (argv, proc.stdout, proc.stderr)
        assert proc.stderr.strip().splitlines() == ["%s: %s" % ("transient" if "-m" in argv else "transientd", wanted)]
        assert "hunter2" not in proc.stderr + proc.stdout


# -- systemd's notify protocol, and two daemons side by side ---------------------------


class NotifySocket:
    """The datagram socket systemd gives a Type=notify service, bound by the test: a path,
    or an abstract name (``@...``). A thread reads it all the time, as systemd does; each
    message is kept with its sender's pid (the kernel's SCM_CREDENTIALS, as systemd reads
    them)."""

    def __init__(self, address):
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.2)
        self.messages = []  # (pid, {key: value}), appended by the reader only
        self.closed = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        size = socket.CMSG_SPACE(struct.calcsize("3i"))
        while not self.closed.is_set():
            try:
                data, ancillary, _, _ = self.sock.recvmsg(4096, size)
            except TimeoutError:
                continue
            except OSError:
                return
            creds = [d for _, kind, d in ancillary if kind == socket.SCM_CREDENTIALS]
            pid = struct.unpack("3i", creds[0][:12])[0] if creds else None
            self.messages.append((pid, dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)))

    def wait(self, key, value=None, timeout=60, after=0):
        """Return the first (pid, message) from index ``after`` on holding ``key`` (with
        ``value`` in it), waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            for pid, msg in self.messages[after:]:
                if key in msg and (value is None or value in msg[key]):
                    return pid, msg
            assert time.monotonic() < deadline, "no %s=%s within %ss; got %s" % (
                key,
                value or "",
                timeout,
                self.messages,
            )
            time.sleep(0.05)

    def arriving(self, seconds):
        """The messages that arrive in the next ``seconds`` (a window for what must not come)."""
        start = len(self.messages)
        time.sleep(seconds)
        return self.messages[start:]

    def close(self):
        self.closed.set()
        self.reader.join(5)
        self.sock.close()
        if not self.address.startswith("@") and os.path.exists(self.address):
            os.unlink(self.address)


@pytest.fixture
def sockets(tmp_path):
    made = []

    def make(address):
        made.append(NotifySocket(address))
        return made[-1]

    yield make
    for sock in made:
        sock.close()


def children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as fh:
        return {int(p) for p in fh.read().split()}


def test_two_daemons_side_by_side_notify_systemd_and_stop_alone(tmp_path, regtest, wallet, sockets):
    home = tmp_path / "home"  # one user's home for both, where gunicorn's control socket would be
    home.mkdir()
    path_sock = sockets(str(tmp_path / "notify-a.sock"))
    abstract_sock = sockets("@transient-test-%s" % uuid.uuid4().hex)
    daemons = []
    try:
        for name, sock in (("a", path_sock), ("b", abstract_sock)):
            env = {"NOTIFY_SOCKET": sock.address, "WATCHDOG_USEC": "10000000", "HOME": str(home)}
            d = Daemon(
                str(tmp_path), "sqlite:///%s" % (tmp_path / ("%s.db" % name)), coin_config(regtest, wallet), env=env
            )
            d.env.pop("XDG_RUNTIME_DIR", None)
            daemons.append(d.start())
        a, b = daemons
        for d, sock in ((a, path_sock), (b, abstract_sock)):
            pid, ready = sock.wait("READY", "1")
            # A worker says it (after its first sync), not the master gunicorn would have
            # sent READY=1 from as soon as it listened: hence NotifyAccess=all.
            assert pid in children(d.proc.pid), (pid, d.proc.pid)
            assert ready["STATUS"] == "ready: LTC synced"
            assert d.get("/healthz").json()["coins"]["LTC"]["cursor_height"] is not None
            assert sock.messages[0][0] == d.proc.pid and sock.messages[0][1]["STATUS"].startswith("starting")
            sock.wait("WATCHDOG", "1")
        assert not os.path.exists(home / ".gunicorn")  # no control socket shared by the two

        assert a.stop() == 0
        pid, stopping = path_sock.wait("STOPPING", "1")
        assert pid == a.proc.pid and stopping["STATUS"].startswith("stopping")
        a.proc.wait(10)
        after = [m for _, m in path_sock.messages[path_sock.messages.index((pid, stopping)) + 1 :]]
        assert not any(m.get("STATUS", "").startswith("ready") for m in after), after  # the last word is "stopping"
        # The other one is untouched: it answers, and its watchdog pings go on.
        assert b.get("/healthz").status_code == 200
        abstract_sock.wait("WATCHDOG", "1", after=len(abstract_sock.messages))
        assert not any("STOPPING" in m for _, m in abstract_sock.messages)
        assert b.create(currency="LTC", amount="1")["checkout_url"].startswith("/pay/")
    finally:
        for d in daemons:
            d.kill()


def test_a_stuck_scheduler_stops_the_watchdog_pings(tmp_path, regtest, wallet, sockets):
    """Two workers; the third sync of one of them hangs for ever (a fault point): READY=1
    and pings before it, then none from either worker (the other one's scheduler still
    runs, but sees its sibling's heartbeat grow old), so systemd's WatchdogSec= would
    restart the daemon."""
    sock = sockets(str(tmp_path / "notify.sock"))
    env = {"NOTIFY_SOCKET": sock.address, "WATCHDOG_USEC": "1000000", "TRANSIENT_FAULTS": "sync.before_listing:hang:3"}
    d = Daemon(str(tmp_path), "sqlite:///%s" % (tmp_path / "t.db"), coin_config(regtest, wallet), workers=2, env=env)
    try:
        d.start()
        sock.wait("READY", "1")
        sock.wait("WATCHDOG", "1")
        wait_for(lambda: "fault point sync.before_listing: hanging" in d.log(), timeout=60)
        _, status = sock.wait("STATUS", "LTC stuck in a sync")
        assert status.get("WATCHDOG") is None
        assert "sync of LTC running for more than 1s: no more watchdog pings" in d.log()
        # The other worker stops too, once its sibling's heartbeat is a watchdog period old.
        wait_for(lambda: "no scheduler heartbeat for 1s: no more watchdog pings" in d.log())
        quiet = sock.arriving(3.0)  # three watchdog periods: live schedulers ping six times each
        assert not any("WATCHDOG" in m for _, m in quiet), quiet
        assert d.get("/healthz").status_code in (200, 503)  # the API itself still answers
    finally:
        d.kill()


# -- the unit file ------------------------------------------------------------------

UNIT = os.path.join(ROOT, "deploy", "transientd.service")


def test_the_unit_keeps_its_hardening_score():
    """`systemd-analyze security` rates the unit's sandbox offline: at most 2.0 ("OK")."""
    if not shutil.which("systemd-analyze"):
        _missing("systemd-analyze is not installed (Debian: the systemd package)")
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", UNIT], capture_output=True, text=True, timeout=60
    )
    found = re.search(r"Overall exposure level for transientd\.service: ([0-9.]+) (\w+)", proc.stdout)
    assert found, proc.stdout + proc.stderr
    assert float(found.group(1)) <= 2.0 and found.group(2) == "OK", found.group(0)


def test_the_unit_is_type_notify_with_a_watchdog_and_a_state_directory():
    with open(UNIT) as fh:
        lines = {line.strip() for line in fh if line.strip() and not line.startswith("#")}
    for wanted in ("Type=notify", "NotifyAccess=all", "StateDirectory=transient", "ProtectSystem=strict"):
        assert wanted in lines
    (watchdog,) = [line for line in lines if line.startswith("WatchdogSec=")]
    assert int(watchdog.split("=")[1]) >= 60  # longer than a long sync: a shorter one is no watchdog but a loop


def test_the_daemon_s_master_loads_no_library_of_the_app():
    """What ``import transientd`` loads, run: the libraries only the workers use stay out
    of the master (an import of ours that pulls one in fails here)."""
    code = "import sys, transientd; print(' '.join(sorted(m for m in sys.modules if '.' not in m)))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.split()
    )
    found = sorted(
        loaded & {"falcon", "jinja2", "requests", "urllib3", "embit", "peewee", "prometheus_client", "apscheduler"}
    )
    assert "gunicorn" in loaded and not found, found
