"""transientd: the Transient daemon. gunicorn serves the Falcon app; each
worker also runs the per-coin sync scheduler (the lease keeps one sync per coin).

The master holds gunicorn and little else: a forked child loads and checks the config
(the settings import every room's validators, and with them Falcon, Jinja2, requests,
embit) and hands the master the few values it reads, and the whole config pickled for
the workers. A worker shares little of what the master imported (on Python 3.11 the
worker's own imports and reference counts dirty most of the pages they inherit), so
every module the master need not hold is memory the daemon does not pay twice.
"""

import argparse
import errno
import gc
import logging
import logging.config
import os
import pickle
import signal
import socket
import sys
import traceback
import warnings

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.glogging import Logger

import transient
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
        # What the master holds goes to the permanent generation: a worker's collections
        # then never write to the objects it inherited, and their pages stay shared.
        gc.freeze()
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
        self.cfg.set("logconfig_dict", log_config(cfg, cfg.secrets))
        self.cfg.set("access_log_format", logs.ACCESS_FORMAT)
        self.cfg.set("logger_class", type("Logger", (QuietAccessLogger,), {"enabled": cfg["log.access_log"]}))
        self.cfg.set("worker_exit", self._worker_exit)
        self.cfg.set("child_exit", _child_exit)

    def load(self):
        # Runs in each worker after the fork: connections are never shared across processes.
        # requests loads a character set detector (~1.4 MB) for Response.text of a reply
        # that names no charset; Transient's clients decode their replies as UTF-8 and
        # never ask. Without one, requests takes UTF-8 there (and warns at import).
        sys.modules.setdefault("charset_normalizer", None)
        sys.modules.setdefault("chardet", None)
        warnings.filterwarnings("ignore", "Unable to find acceptable character detection dependency")
        config = self.config.load()
        if config["database.url"].startswith("sqlite"):
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
            config["server.worker_memory_limit"], lambda: os.kill(os.getpid(), signal.SIGTERM)
        )

        self.runtime = Runtime(config)
        self.heartbeat = ServiceState(self.notifier, self.peers) if self.notifier.enabled else None
        self.runtime.start(heartbeat=self.heartbeat)
        return self.runtime.app()

    def _worker_exit(self, server, worker):
        if self.heartbeat is not None:
            self.heartbeat.quiet()  # the master said STOPPING=1: no "ready" over it
        if self.runtime is not None:
            log.info("worker %s stopping: finishing the running sync", worker.pid)
            self.runtime.close()


#: The settings the master reads itself (the rest are the workers').
MASTER_KEYS = (
    "server.bind",
    "server.workers",
    "server.threads",
    "server.request_timeout",
    "api.max_body",
    "log.format",
    "log.level",
    "log.access_log",
)


class Loaded:
    """The configuration as the master holds it: ``loaded["server.bind"]`` for the
    MASTER_KEYS, ``secrets`` (for the log's redaction) and ``load()``, the whole Config,
    unpickled in a worker (importing the settings there, not in the master)."""

    def __init__(self, values, secrets, blob):
        self.values = values
        self.secrets = secrets
        self.blob = blob

    def __getitem__(self, key):
        return self.values[key]

    def load(self):
        return pickle.loads(self.blob)

    @classmethod
    def of(cls, config, secrets):
        """The Loaded of a Config (``secrets``: settings.secret_values(config))."""
        return cls({k: config[k] for k in MASTER_KEYS}, secrets, pickle.dumps(config))


def log_config(config, secrets):
    """The logging dict of the master and gunicorn: [log] format, level, access_log."""
    return logs.config(config["log.format"], config["log.level"], secrets, config["log.access_log"])


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


def load_in_child(path, mode="serve", environ=None):
    """Load the config at ``path`` (``environ``: as settings.load) in a forked child and
    check it there; return ``(exit code, Loaded or None)``. ``mode``: "serve" (the
    listening address and check() with starting), "check" (--check: check() only) or
    None (load only). The master then never imports the settings nor the application
    (each worker does, after the fork): ~15 MB smaller for as long as the daemon runs.
    What a ``.env`` file added to the environment is added to the master's too."""
    read, write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write)
        with os.fdopen(read, "rb") as fh:
            data = fh.read()
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        if code or not data:
            return code or 1, None
        added, values, secrets, blob = pickle.loads(data)  # builtins only: nothing of ours is imported
        os.environ.update(added)
        return 0, Loaded(values, secrets, blob)
    os.close(read)
    code = 1
    try:
        with os.fdopen(write, "wb") as out:
            code = _load_and_check(path, mode, environ, out)
    except BaseException:  # noqa: BLE001 - shown like any crash, then the child's exit code says it
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _load_and_check(path, mode, environ, out):
    """load_in_child's child: the exit code; the master's part written to ``out``."""
    from transient import settings

    before = dict(os.environ)
    try:
        config = settings.load(path, environ=environ)
        secrets = settings.secret_values(config)
        # One format for every line, the redaction filter on the handler (ops.logs).
        logging.config.dictConfig(log_config(config, secrets))
    except TransientError as exc:
        print("transientd: %s" % redact.scrub(exc.message), file=sys.stderr)
        return 2
    try:
        if mode == "serve":
            check_bind(config["server.bind"])
        if mode is not None:
            check(config, starting=mode == "serve")
    except TransientError as exc:
        print("transientd: %s" % redact.scrub(exc.message, *secrets), file=sys.stderr)
        return 2
    except BaseException:  # noqa: BLE001 - shown like any crash, then the exit code says it
        print(redact.scrub(traceback.format_exc(), *secrets), end="", file=sys.stderr)
        return 1
    added = {k: v for k, v in os.environ.items() if before.get(k) != v}
    loaded = Loaded.of(config, secrets)
    out.write(pickle.dumps((added, loaded.values, loaded.secrets, loaded.blob)))
    return 0


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
    notifier.status("starting: checking the configuration and migrating the database")
    code, loaded = load_in_child(args.config, "check" if args.check else "serve")
    if code:
        return code
    if args.check:
        print("transientd: configuration and database OK")
        return 0
    logging.config.dictConfig(log_config(loaded, loaded.secrets))
    rundir.prepare()  # the workers' metric files, fresh for this start
    notifier.status("starting: workers are starting and syncing each coin")
    peers = Heartbeats.create() if notifier.watchdog else None
    try:
        Daemon(loaded, notifier, peers).run()
    finally:
        if peers is not None:
            peers.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
