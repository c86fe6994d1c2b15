"""transientd: the Transient daemon. gunicorn serves the Falcon app; each
worker also runs the per-coin sync scheduler (the lease keeps one sync per coin).
"""

import argparse
import errno
import logging
import logging.config
import os
import signal
import socket
import sys
import traceback

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.glogging import Logger

import transient
from transient import settings
from transient.core import redact
from transient.core.errors import ConfigError, TransientError
from transient.ops import logs, rundir
from transient.ops.systemd import Heartbeats, Notifier, ServiceState
from transient.ops.worker import BufferingWorker  # gunicorn's gthread and a buffer: no app import

log = logging.getLogger("transient")


class NotifyingArbiter(Arbiter):
    """gunicorn's master, which tells systemd STOPPING=1 as it begins to stop the workers."""

    def stop(self, graceful=True):
        notifier = getattr(self.app, "notifier", None)
        if notifier is not None and not getattr(self, "_stopping_sent", False):
            self._stopping_sent = True
            notifier.stopping("stopping: finishing the running syncs and requests")
        super().stop(graceful)


class QuietAccessLogger(Logger):
    """gunicorn's logger, whose access log is on only with ``[log] access_log``. Given a
    ``logconfig_dict``, gunicorn takes the access log as on and builds every request's
    record (its atoms and their formatting) before the logger's level drops it: about a
    sixth of a cached GET's cost."""

    enabled = False

    def _compute_access_log_enabled(self):
        return self.enabled


class Daemon(BaseApplication):
    def __init__(self, config, notifier=None, peers=None):
        self.config = config
        self.runtime = None
        self.heartbeat = None
        self.notifier = notifier or Notifier()
        self.peers = peers  # every worker's scheduler heartbeat, for the watchdog
        super().__init__()

    def run(self):
        try:
            NotifyingArbiter(self).run()
        except RuntimeError as e:  # as BaseApplication.run: gunicorn's own start-up errors
            print("\nError: %s\n" % e, file=sys.stderr)
            sys.stderr.flush()
            sys.exit(1)

    def load_config(self):
        cfg = self.config
        self.cfg.set("bind", [cfg["server.bind"]])
        self.cfg.set("workers", cfg["server.workers"])
        self.cfg.set("threads", cfg["server.threads"])
        # gthread whose requests are read on the worker's event loop: a slow or stalled
        # client costs a socket, not a thread, and is dropped after request_timeout.
        self.cfg.set(
            "worker_class",
            type(
                "BufferingWorker",
                (BufferingWorker,),
                {"request_timeout": float(cfg["server.request_timeout"]), "max_body": cfg["api.max_body"]},
            ),
        )
        self.cfg.set("worker_connections", 1000)  # per worker: open sockets, slow ones included
        self.cfg.set("graceful_timeout", 60)
        self.cfg.set("proc_name", "transientd")
        # gunicorn 23+ puts its control socket at one path per user (~/.gunicorn/gunicorn.ctl):
        # a second daemon on the host took it over, and stopping either deleted it.
        self.cfg.set("control_socket_disable", True)
        self.cfg.set("loglevel", cfg["log.level"].lower())
        # gunicorn's error and access logs through the daemon's one handler and format.
        self.cfg.set("logconfig_dict", log_config(cfg))
        self.cfg.set("access_log_format", logs.ACCESS_FORMAT)
        self.cfg.set("logger_class", type("Logger", (QuietAccessLogger,), {"enabled": cfg["log.access_log"]}))
        self.cfg.set("worker_exit", self._worker_exit)
        self.cfg.set("child_exit", _child_exit)

    def load(self):
        # Runs in each worker after the fork: connections are never shared across processes.
        if self.config["database.url"].startswith("sqlite"):
            # peewee imports the PostgreSQL driver whenever it is installed; on SQLite it
            # would only cost the worker ~5 MB (libpq and what it links). An entry of None
            # makes that import fail, which peewee takes as "not installed".
            sys.modules.setdefault("psycopg2", None)
        from transient.ops import memory
        from transient.runtime import Runtime

        memory.limit_arenas()  # before the runtime and gunicorn start this worker's threads
        # After a burst: SIGTERM to ourselves is gunicorn's graceful exit for a worker
        # (requests and the running sync finish); the master starts a fresh one.
        memory.recycler = memory.Recycler(
            self.config["server.worker_memory_limit"], lambda: os.kill(os.getpid(), signal.SIGTERM)
        )

        self.runtime = Runtime(self.config)
        self.heartbeat = ServiceState(self.notifier, self.peers) if self.notifier.enabled else None
        self.runtime.start(heartbeat=self.heartbeat)
        return self.runtime.app()

    def _worker_exit(self, server, worker):
        if self.heartbeat is not None:
            self.heartbeat.quiet()  # the master said STOPPING=1: no "ready" over it
        if self.runtime is not None:
            log.info("worker %s stopping: finishing the running sync", worker.pid)
            self.runtime.close()


def log_config(config):
    """The logging dict of the master and gunicorn: [log] format, level, access_log."""
    return logs.config(
        config["log.format"], config["log.level"], settings.secret_values(config), config["log.access_log"]
    )


def _child_exit(server, worker):
    # A worker is gone: its live gauges leave the sums (its counters stay counted).
    rundir.mark_dead(worker.pid)


def check(config, starting=False):
    """Build a runtime once in the master to fail fast on config, plugins and schema;
    ``starting`` (not --check): also guard the address pools (a restored copy's)."""
    from transient.runtime import Runtime

    runtime = Runtime(config)
    try:
        runtime.prepare_schema()
        runtime.check_watch_keys()
        runtime.check_exposure()  # the stored keys count, so after the schema
        if starting:
            runtime.guard_pools()  # before any worker hands out a pooled address
    finally:
        runtime.close()
    if not config["webhook.secret"]:
        log.warning(
            "webhook.secret is not set: webhooks are sent unsigned, and receivers cannot tell"
            " them from forgeries (set [webhook] secret or TRANSIENT_WEBHOOK_SECRET)"
        )


def check_in_child(config, starting=False):
    """Run check() in a forked child and return its exit code: the master then never
    imports the application (each worker does, after the fork), which keeps it ~20 MB
    smaller for as long as the daemon runs."""
    pid = os.fork()
    if pid:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    code = 1
    try:
        check(config, starting)
        code = 0
    except TransientError as exc:
        print("transientd: %s" % redact.scrub(exc.message, *settings.secret_values(config)), file=sys.stderr)
        code = 2
    except BaseException:  # noqa: BLE001 - shown like any crash, then the child's exit code says it
        print(redact.scrub(traceback.format_exc(), *settings.secret_values(config)), end="", file=sys.stderr)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def check_bind(bind):
    """Raise ConfigError naming ``[server] bind`` when its address cannot be listened on
    (in use by another program, not this host's, or a privileged port): gunicorn would
    retry for five seconds and then only say "Can't connect to (host, port)"."""
    if os.environ.get("LISTEN_FDS"):
        return  # socket activation: systemd holds the listening socket and hands it over
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, int(port), 0, socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise ConfigError(
            "server.bind %s: cannot resolve %s (%s)" % (bind, host, exc.strerror), field="server.bind"
        ) from None
    probe = socket.socket(family, kind, proto)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: TIME_WAIT is no conflict
        probe.bind(address)
    except OSError as exc:
        why = "the address is in use (another transientd or program listens there)"
        if exc.errno != errno.EADDRINUSE:
            why = exc.strerror
        raise ConfigError(
            "cannot listen on %s: %s; set [server] bind or TRANSIENT_SERVER_BIND to a free address" % (bind, why),
            field="server.bind",
        ) from None
    finally:
        probe.close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="transientd", description="Run the Transient payment gateway.")
    parser.add_argument("--config", help="TOML config file (default: $TRANSIENT_CONFIG or ./config.toml)")
    parser.add_argument("--check", action="store_true", help="check the config and database, then exit")
    parser.add_argument("--version", action="version", version="%(prog)s " + transient.installed_version())
    args = parser.parse_args(argv)
    # Ours alone from here: gunicorn would send READY=1 as soon as it listens.
    notifier = Notifier.take_from(os.environ)
    try:
        config = settings.load(args.config)
        # One format for every line, the redaction filter on the handler (ops.logs).
        logging.config.dictConfig(log_config(config))
    except TransientError as exc:
        print("transientd: %s" % redact.scrub(exc.message), file=sys.stderr)
        return 2
    try:
        if not args.check:  # --check may run next to the daemon it checks
            check_bind(config["server.bind"])
    except ConfigError as exc:
        print("transientd: %s" % exc.message, file=sys.stderr)
        return 2
    notifier.status("starting: checking the configuration and migrating the database")
    code = check_in_child(config, starting=not args.check)
    if code:
        return code
    if args.check:
        print("transientd: configuration and database OK")
        return 0
    rundir.prepare()  # the workers' metric files, fresh for this start
    notifier.status("starting: workers are starting and syncing each coin")
    peers = Heartbeats.create() if notifier.watchdog else None
    try:
        Daemon(config, notifier, peers).run()
    finally:
        if peers is not None:
            peers.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
