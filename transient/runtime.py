"""The runtime: everything one process needs, built from the config."""
import logging

from . import migrations, plugins
from .db import open_database
from .errors import ConfigError
from .models import utcnow
from .payments import PaymentService
from .sync import Syncer

log = logging.getLogger("transient")


def build_backends(config, backend_classes):
    """Return ``{currency: backend instance}``; an unknown backend name is a ConfigError."""
    backends = {}
    for code, opts in sorted(config.coins.items()):
        cls = backend_classes.get(opts["backend"])
        if cls is None:
            raise ConfigError(
                "coins.%s.backend: unknown backend %r (installed: %s)"
                % (code, opts["backend"], ", ".join(sorted(backend_classes)) or "none"),
                field="coins.%s.backend" % code)
        backends[code] = cls(code, opts)
    return backends


class Runtime:
    """Config, database, backends, the payments service and one Syncer per coin."""

    def __init__(self, config, pm=None, clock=utcnow, holder=None):
        self.config = config
        self.clock = clock
        self.pm = pm or plugins.get_plugin_manager()
        self.backend_classes = plugins.collect_backends(self.pm)
        self.backends = build_backends(config, self.backend_classes)
        self.db = open_database(config["database.url"])
        self.payments = PaymentService(
            {code: (b, config.coins[code]) for code, b in self.backends.items()}, clock=clock, db=self.db)
        self.syncers = {
            code: Syncer(code, backend, config.coins[code]["confirmations"], self.db,
                         holder=holder, lease_seconds=config["sync.lease_seconds"], clock=clock)
            for code, backend in self.backends.items()
        }
        self.scheduler = None

    def prepare_schema(self):
        """Migrate when configured to, else raise NotMigrated if migrations are pending."""
        if self.config["database.auto_migrate"]:
            for name in migrations.apply(self.db):
                log.info("applied migration %s", name)
        migrations.check(self.db)

    def start(self):
        """Start the per-coin sync scheduler (catches up from the stored cursor at once)."""
        from .scheduler import SyncScheduler

        self.scheduler = SyncScheduler(self)
        self.scheduler.start()

    def wake(self, currency):
        """Ask for a sync of ``currency`` now (coalesced with any running one)."""
        if self.scheduler is not None:
            self.scheduler.wake(currency)

    def close(self):
        """Stop the scheduler (waiting for a running sync to finish) and close connections."""
        if self.scheduler is not None:
            self.scheduler.shutdown()
            self.scheduler = None
        for backend in self.backends.values():
            backend.close()
        if not self.db.is_closed():
            self.db.close()
