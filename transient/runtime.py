"""The runtime: everything one process needs, built from the config."""
import logging

from . import amqp, migrations, plugins
from .addresses import AddressPool, PoolKeeper
from .db import open_database
from .errors import ConfigError
from .models import utcnow
from .deliveries import Dispatcher, Sender
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
        self.pools = {code: AddressPool(code, b, self.db, config.coins[code]["address_pool"], clock=clock)
                      for code, b in self.backends.items() if config.coins[code]["address_pool"]}
        self.payments = PaymentService(
            {code: (b, config.coins[code]) for code, b in self.backends.items()}, clock=clock, db=self.db,
            webhook_url=config["webhook.url"], pools=self.pools, read_cache=config["api.read_cache"])
        self.outbox = self.payments.outbox
        self.syncers = {
            code: Syncer(code, backend, config.coins[code]["confirmations"], self.db, self.outbox,
                         holder=holder, lease_seconds=config["sync.lease_seconds"], clock=clock)
            for code, backend in self.backends.items()
        }
        self.sender = Sender(config["webhook.secret"], config["webhook.timeout"])
        self.amqp = amqp.configure(config, self.payments)  # None unless [amqp] url is set
        self.scheduler = None
        self.dispatcher = None
        self.pool_keeper = None
        self.last_notify = {}  # currency -> when this process last got a notify ping (doctor's round trip)

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
        if self.pools:
            self.pool_keeper = PoolKeeper(self.pools).start()
        self.start_dispatcher()
        if self.amqp is not None:
            self.amqp.start(self.outbox, clock=self.clock)

    def start_dispatcher(self):
        """Start sending webhook deliveries (pending ones resume from the database)."""
        self.dispatcher = Dispatcher(self.db, self.sender, self.config["webhook.retry_schedule"],
                                     self.config["webhook.concurrency"], clock=self.clock)
        self.outbox.wake = self.dispatcher.wake
        self.dispatcher.start()

    def wake(self, currency):
        """Ask for a sync of ``currency`` now (coalesced with any running one)."""
        self.last_notify[currency] = self.clock()
        if self.scheduler is not None:
            self.scheduler.wake(currency)

    def sync_counts(self, currency):
        """Return ``{"wakes": n, "syncs": n}``: sync triggers (pings, polls, start-up) and
        syncs run by this process for ``currency``; empty without a scheduler."""
        runner = self.scheduler.runners.get(currency) if self.scheduler is not None else None
        return {"wakes": runner.wakes, "syncs": runner.syncs} if runner is not None else {}

    def close(self):
        """Stop the scheduler (waiting for a running sync to finish) and close connections."""
        if self.amqp is not None:
            self.amqp.stop(self.outbox)  # the command in hand is answered, the batch in flight confirmed
        if self.scheduler is not None:
            self.scheduler.shutdown()
            self.scheduler = None
        if self.dispatcher is not None:
            self.outbox.wake = None
            self.dispatcher.stop()
            self.dispatcher = None
        if self.pool_keeper is not None:
            self.pool_keeper.stop()
            self.pool_keeper = None
        for backend in self.backends.values():
            backend.close()
        if not self.db.is_closed():
            self.db.close()
