"""systemd's notify protocol (``Type=notify``): READY=1, STATUS=, WATCHDOG=1, STOPPING=1.

The protocol is one datagram of ``KEY=VALUE`` lines to the AF_UNIX socket named by
``$NOTIFY_SOCKET`` (a path, or an abstract name written with a leading ``@``); a few
lines here rather than a dependency. The master takes the variables out of its
environment before gunicorn starts (gunicorn would send its own READY=1 as soon as it
listens, before any coin is synced), and its workers inherit the :class:`Notifier`
object through the fork.

:class:`ServiceState` turns a worker's scheduler heartbeat into messages: READY=1 once
every coin's first sync ran (or failed and backs off), STATUS= when the state changes,
WATCHDOG=1 at each heartbeat that finds no coin stuck in a sync. The heartbeat runs as
a job of the scheduler itself, so a scheduler that stops running jobs stops the pings.
"""

import logging
import os
import shutil
import socket
import tempfile
import time

log = logging.getLogger("transient.systemd")
SEND_TIMEOUT = 1.0  # seconds a message may wait for room in the notify socket's queue
STUCK_WITHOUT_WATCHDOG = 300.0  # seconds: a sync this long is shown as stuck in STATUS=


class Notifier:
    """Sends notify messages to ``address`` (None: not under systemd, every call a no-op).
    ``watchdog_usec``: systemd's WATCHDOG_USEC, the longest allowed gap between pings."""

    def __init__(self, address=None, watchdog_usec=None):
        self.address = address
        self.watchdog = int(watchdog_usec) / 1e6 if watchdog_usec and address else None

    @classmethod
    def take_from(cls, environ):
        """Return the Notifier of ``environ``'s NOTIFY_SOCKET and WATCHDOG_USEC, and remove
        them (and WATCHDOG_PID) so no other code, and no child, sends on them."""
        address = environ.pop("NOTIFY_SOCKET", None) or None
        usec = environ.pop("WATCHDOG_USEC", None)
        environ.pop("WATCHDOG_PID", None)  # the master's pid: our workers ping on its behalf
        return cls(address, usec if usec and usec.isdigit() else None)

    @property
    def enabled(self):
        return self.address is not None

    def send(self, **fields):
        """Send one message of ``KEY=value`` lines (``READY=1``...); True when it went out.
        A lost message is logged, never raised: systemd's state is not worth a crash."""
        if self.address is None:
            return False
        text = "".join("%s=%s\n" % (key, str(value).replace("\n", " ")) for key, value in fields.items())
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                # A full queue on systemd's side must not stall the heartbeat that sends.
                sock.settimeout(SEND_TIMEOUT)
                sock.sendto(text.encode(), target)
        except OSError as exc:
            log.warning("systemd notify to %s failed: %s", self.address, exc)
            return False
        return True

    def status(self, text):
        return self.send(STATUS=text)

    def stopping(self, text="stopping"):
        return self.send(STOPPING=1, STATUS=text)


class ServiceState:
    """What one worker process tells systemd, from its scheduler's heartbeat.

    ``every`` (seconds) is how often the scheduler calls :meth:`beat`; ``stuck_after``
    how long a sync may run before the scheduler counts as stuck (the watchdog's own
    limit: a longer sync would get the daemon restarted anyway)."""

    def __init__(self, notifier, peers=None):
        self.notifier = notifier
        self.peers = peers  # the workers' Heartbeats, when several may run
        wd = notifier.watchdog
        self.every = min(1.0, wd / 2) if wd else 1.0
        self.stuck_after = wd if wd else STUCK_WITHOUT_WATCHDOG
        self._ready = False
        self._status = None
        self._stuck = ()
        self._stale = ()

    def quiet(self):
        """Send nothing more (the process is stopping), and leave the other workers' count."""
        self.notifier = Notifier()
        if self.peers is not None:
            self.peers.forget()

    def beat(self, report):
        """Take the scheduler's ``report`` (``ready``: every coin's first sync is over,
        ``stuck``: coins whose sync runs past ``stuck_after``, ``status``: one line) and
        send what changed, and a watchdog ping unless something is stuck."""
        stuck = tuple(report["stuck"])
        if stuck != self._stuck:
            if stuck:
                log.error(
                    "sync of %s running for more than %ds: no more watchdog pings (systemd restarts the daemon)",
                    ", ".join(stuck),
                    self.stuck_after,
                )
            self._stuck = stuck
        fields = {}
        if report["ready"] and not self._ready:
            fields["READY"] = 1
            self._ready = True
        if report["status"] != self._status:
            fields["STATUS"] = report["status"]
            self._status = report["status"]
        if self.notifier.watchdog and not stuck and self._peers_alive():
            fields["WATCHDOG"] = 1
        if fields:
            self.notifier.send(**fields)

    def _peers_alive(self):
        """Mark this worker alive; True while every other live worker's scheduler beats too
        (one stuck worker of several must not be hidden by the others' pings)."""
        if self.peers is None:
            return True
        self.peers.touch()
        stale = tuple(self.peers.stale(self.stuck_after))
        if stale and stale != self._stale:
            log.error(
                "worker(s) %s: no scheduler heartbeat for %ds: no more watchdog pings (systemd restarts the daemon)",
                ", ".join(map(str, stale)),
                self.stuck_after,
            )
        self._stale = stale
        return not stale


class Heartbeats:
    """A directory the master makes before forking, with one file per worker: a worker
    touches its own at each healthy heartbeat; one whose file grows old is stuck."""

    def __init__(self, path):
        self.path = path
        self.owner = os.getpid()

    @classmethod
    def create(cls):
        return cls(tempfile.mkdtemp(prefix="transientd-heartbeats-"))

    def _mine(self):
        return os.path.join(self.path, str(os.getpid()))

    def touch(self):
        with open(self._mine(), "a"):
            pass
        os.utime(self._mine())

    def stale(self, limit):
        """Return the pids of live workers whose last heartbeat is older than ``limit`` seconds."""
        now, found = time.time(), []
        for name in os.listdir(self.path):
            path = os.path.join(self.path, name)
            try:
                age = now - os.stat(path).st_mtime
                if not _alive(int(name)):
                    os.unlink(path)  # a worker that exited without saying so (SIGKILL)
                elif age > limit:
                    found.append(int(name))
            except (OSError, ValueError):
                continue
        return sorted(found)

    def forget(self):
        """This worker stops: its file no longer counts."""
        try:
            os.unlink(self._mine())
        except OSError:
            pass

    def remove(self):
        """The master exits: remove the directory (in the master only; workers inherit the object)."""
        if os.getpid() == self.owner:
            shutil.rmtree(self.path, ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
