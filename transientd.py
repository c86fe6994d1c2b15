"""transientd: the Transient daemon. gunicorn serves the Falcon app; each
worker also runs the per-coin sync scheduler (the lease keeps one sync per coin).
"""
import argparse
import logging
import sys

from gunicorn.app.base import BaseApplication

from transient import settings
from transient.errors import TransientError

log = logging.getLogger("transient")


class Daemon(BaseApplication):
    def __init__(self, config):
        self.config = config
        self.runtime = None
        super().__init__()

    def load_config(self):
        cfg = self.config
        self.cfg.set("bind", [cfg["server.bind"]])
        self.cfg.set("workers", cfg["server.workers"])
        self.cfg.set("threads", cfg["server.threads"])
        self.cfg.set("worker_class", "gthread")
        self.cfg.set("graceful_timeout", 60)
        self.cfg.set("proc_name", "transientd")
        self.cfg.set("loglevel", cfg["log.level"].lower())
        self.cfg.set("worker_exit", self._worker_exit)

    def load(self):
        # Runs in each worker after the fork: connections are never shared across processes.
        from transient.app import create_app
        from transient.runtime import Runtime

        self.runtime = Runtime(self.config)
        self.runtime.start()
        return create_app(self.runtime)

    def _worker_exit(self, server, worker):
        if self.runtime is not None:
            log.info("worker %s stopping: finishing the running sync", worker.pid)
            self.runtime.close()


def check(config):
    """Build a runtime once in the master to fail fast on config, plugins and schema."""
    from transient.runtime import Runtime

    runtime = Runtime(config)
    try:
        runtime.prepare_schema()
    finally:
        runtime.close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="transientd", description="Run the Transient payment gateway.")
    parser.add_argument("--config", help="TOML config file (default: $TRANSIENT_CONFIG or ./config.toml)")
    parser.add_argument("--check", action="store_true", help="check the config and database, then exit")
    args = parser.parse_args(argv)
    try:
        config = settings.load(args.config)
        logging.basicConfig(level=config["log.level"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        # APScheduler logs every run of every job at INFO: one line per coin every few seconds.
        logging.getLogger("apscheduler").setLevel(max(logging.WARNING, logging.getLogger().level))
        check(config)
    except TransientError as exc:
        print("transientd: %s" % exc.message, file=sys.stderr)
        return 2
    if args.check:
        print("transientd: configuration and database OK")
        return 0
    Daemon(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
