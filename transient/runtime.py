"""The one place that builds and wires: every collaborator of a process, once, in order,
from the config. Nothing else reads the whole config or rewires another object.

The route of a change to the merchant reads top to bottom in ``Runtime.__init__``:
the ledger (in each coin's Syncer) and the payments service write events into the
outbox in the change's transaction; the outbox turns each into one delivery per
target (the webhook URL, the payment's callback, the AMQP exchange) and, after the
commit, wakes its listeners: the webhook Dispatcher and the AMQP Publisher.
"""
import logging

from .api.app import create_app
from .api.checkout import qr
from .api.health import HealthReport
from .chain import plugins
from .chain.scheduler import SyncScheduler
from .chain.sync import Syncer
from .core.clock import utcnow
from .core.errors import ConfigError
from .delivery.dispatcher import Dispatcher
from .delivery.outbox import Outbox
from .delivery.sender import Sender
from .payments.pool import AddressPool, PoolKeeper
from .payments.rendering import Renderer
from .payments.service import PaymentService
from .store import migrations
from .store.db import open_database

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


def build_amqp(config, db, clock):
    """Return the process's AMQP side when ``[amqp] url`` is set, else None."""
    if not config["amqp.url"]:
        return None
    # pika is imported only where AMQP is configured: a worker without it saves its memory.
    from .amqp.bridge import Amqp

    return Amqp(config["amqp.url"], config["amqp.exchange"], config["amqp.rpc_queue"],
                config["amqp.retry_schedule"], config["amqp.confirm_timeout"], db, clock=clock)


class Runtime:
    """Everything one process needs (the daemon's worker, or a CLI command), built from
    ``config``; ``start()`` starts the threads a daemon worker runs."""

    def __init__(self, config, pm=None, clock=utcnow, holder=None):
        self.config = config
        self.clock = clock
        # Coins: backends from the plugins, one per configured currency.
        self.pm = pm or plugins.get_plugin_manager()
        self.backends = build_backends(config, plugins.collect_backends(self.pm))
        coins = {code: (backend, config.coins[code]) for code, backend in self.backends.items()}
        self.db = open_database(config["database.url"])
        self.pools = {code: AddressPool(code, backend, self.db, config.coins[code]["address_pool"], clock=clock)
                      for code, backend in self.backends.items() if config.coins[code]["address_pool"]}
        # Where events go: webhooks (signed, by the dispatcher) and AMQP (by the publisher).
        self.sender = Sender(config["webhook.secret"], config["webhook.timeout"])
        self.dispatcher = Dispatcher(self.db, self.sender, config["webhook.retry_schedule"],
                                     config["webhook.concurrency"], clock=clock,
                                     per_target=config["webhook.per_target_concurrency"])
        self.amqp = build_amqp(config, self.db, clock)
        # The outbox: events and their deliveries, written in each change's transaction.
        self.renderer = Renderer(coins, read_cache=config["api.read_cache"])
        self.outbox = Outbox(
            self.renderer, config["webhook.url"],
            extra_targets=[self.amqp.target] if self.amqp else [],
            listeners=[self.dispatcher.wake] + ([self.amqp.publisher.wake] if self.amqp else []))
        # What changes payments: the service (create) and each coin's Syncer (the ledger).
        self.payments = PaymentService(coins, self.outbox, self.renderer, db=self.db, pools=self.pools, clock=clock)
        if self.amqp is not None:
            self.amqp.serve_commands(self.payments, config["api.max_body"], config["api.keys"])
        self.syncers = {
            code: Syncer(code, backend, config.coins[code]["confirmations"], self.db, self.outbox,
                         holder=holder, lease_seconds=config["sync.lease_seconds"], clock=clock)
            for code, backend in self.backends.items()
        }
        self.scheduler = SyncScheduler(self.syncers, {c: config.coins[c]["poll_interval"] for c in self.syncers},
                                       clock)
        self.pool_keeper = PoolKeeper(self.pools) if self.pools else None
        self.last_notify = {}  # currency -> when this process last got a notify ping (doctor's round trip)
        self.health = HealthReport(self.backends, self.pools, self.sync_counts, self.last_notify, self.amqp,
                                   db_outages=self.db.outages.report)
        self._started = False

    def app(self):
        """Return the WSGI app serving this runtime's payments."""
        config = self.config
        return create_app(
            self.payments, self.health, wake=self.wake, db=self.db, outbox=self.outbox, sender=self.sender,
            webhook_url=config["webhook.url"], api_keys=config["api.keys"], notify_token=config["notify.token"],
            max_body=config["api.max_body"], refresh_interval=config["checkout.refresh_interval"],
            qr_style=qr.default_style(**{name: config["qrcode." + name] for name in qr.OPTIONS}))

    def prepare_schema(self):
        """Migrate when configured to, else raise NotMigrated if migrations are pending."""
        if self.config["database.auto_migrate"]:
            for name in migrations.apply(self.db):
                log.info("applied migration %s", name)
        migrations.check(self.db)

    def start(self):
        """Start the per-coin sync scheduler (it catches up from the stored cursor at once),
        the pool keeper, the webhook dispatcher (pending deliveries resume from the
        database) and the AMQP publisher and consumer."""
        self._started = True
        self.scheduler.start()
        if self.pool_keeper is not None:
            self.pool_keeper.start()
        self.dispatcher.start()
        if self.amqp is not None:
            self.amqp.start()

    def wake(self, currency):
        """Ask for a sync of ``currency`` now (coalesced with any running one)."""
        self.last_notify[currency] = self.clock()
        self.scheduler.wake(currency)  # before start(), the scheduler keeps it until it starts

    def sync_counts(self, currency):
        """Return ``{"wakes": n, "syncs": n}``: sync triggers (pings, polls, start-up) and
        syncs run by this process for ``currency``."""
        runner = self.scheduler.runners.get(currency)
        return {"wakes": runner.wakes, "syncs": runner.syncs} if runner is not None else {}

    def close(self):
        """Stop the threads (a running sync and the deliveries in flight finish) and close
        the connections."""
        if self._started:
            if self.amqp is not None:
                self.amqp.stop()  # the command in hand is answered, the batch in flight confirmed
            self.scheduler.shutdown()
            self.dispatcher.stop()
            if self.pool_keeper is not None:
                self.pool_keeper.stop()
            self._started = False
        for backend in self.backends.values():
            backend.close()
        if not self.db.is_closed():
            self.db.close()
