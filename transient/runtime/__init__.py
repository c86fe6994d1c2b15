"""The one place that builds and wires: every collaborator of a process, once, in order,
from the config. Nothing else reads the whole config or rewires another object.

May import every room (the builders of its parts are in ``build``); the CLI and
transientd import it. ``Runtime.__init__`` calls a few named builders in order: the
coins, the deliveries, the money, the views, the chain, the dashboard's people.

The route of a change to the merchant reads top to bottom in those builders:
the ledger (in each coin's Syncer) and the payments service write events into the
outbox in the change's transaction; the outbox turns each into one delivery per
target (the webhook URL, the payment's callback, the AMQP exchange) and, after the
commit, wakes its listeners: the webhook Dispatcher and the AMQP Publisher.
"""

import logging

from .. import settings as settings_table
from ..accounts.service import Accounts
from ..api.app import create_app
from ..api.checkout import page as checkout_page
from ..api.checkout import qr
from ..api.dashboard import Dashboard
from ..api.health import HealthReport
from ..api.peers import Peers
from ..chain.scheduler import SyncScheduler
from ..chain.sync import Syncer, new_holder_id
from ..core.clock import utcnow
from ..core.errors import ConfigError, NodeError
from ..core.keys import KeyRing
from ..delivery.dispatcher import Dispatcher
from ..delivery.outbox import Outbox
from ..delivery.registry import TargetRegistry
from ..delivery.sender import Sender
from ..delivery.targets import TargetGuard
from ..email.alerts import AlertJob, MerchantAlerts, RefundClaims
from ..greenfield.invoices import Greenfield
from ..greenfield.payouts import GreenfieldPayouts
from ..greenfield.projection import Projection
from ..greenfield.webhooks import Webhooks
from ..ops import logs
from ..ops.metrics import StateCollector
from ..payments import restore
from ..payments.pool import PoolKeeper
from ..payments.rendering import Renderer
from ..payments.service import PaymentService
from ..payouts.refunds import Refunds
from ..payouts.service import PayoutService
from ..reports import rollup
from ..reports.period import since
from ..reports.reconcile import ReconcileJob, Reconciler
from ..reports.service import Reports
from ..store import db as db_module
from ..store import migrations
from ..store.checkpoints import Checkpointer
from ..store.commits import commit_mark
from ..store.db import is_sqlite, open_database
from ..store.group import GroupCommit
from ..store.keys import KeyStore
from ..store.leases import ClusterLease
from . import plugins
from .build import (
    GREENFIELD_KEYS,
    POOL_LEASE_SECONDS,
    build_amqp,
    build_backends,
    build_email,
    build_payout_runner,
    build_pool,
    build_rates,
    is_loopback,
    payout_limits,
    watch_key,
)

log = logging.getLogger("transient")


class Runtime:
    """Everything one process needs (the daemon's worker, or a CLI command), built from
    ``config``; ``start()`` starts the threads a daemon worker runs."""

    def __init__(self, config, pm=None, clock=utcnow, holder=None):
        self.config = config
        self.clock = clock
        coins = self._coins(pm)
        self._deliveries(coins)
        self._money(coins, holder)
        self._views(holder)
        self._chain(holder)
        self._people()
        self._started = False

    def _coins(self, pm):
        """The backends (from the plugins, one per configured coin), the database, who may
        call (the config's keys and the stored ones) and the address pools; return the
        coins' ``{code: (backend, options)}``."""
        config, clock = self.config, self.clock
        self.pm = pm or plugins.get_plugin_manager()
        self.backends = build_backends(config, plugins.collect_backends(self.pm))
        coins = {code: (backend, config.coins[code]) for code, backend in self.backends.items()}
        self.db = open_database(config["database.url"])
        self.db.outages.transition = logs.Transition("database")  # its down/up lines once per daemon
        # Who may call: the config's keys (every scope) and the stored ones (transient keys).
        self.key_store = KeyStore(self.db, clock=clock)
        self.keys = KeyRing(config["api.keys"], self.key_store)
        self.pools = {
            code: build_pool(code, backend, self.db, config.coins[code], clock)
            for code, backend in self.backends.items()
            if config.coins[code]["address_pool"] or watch_key(code, config.coins[code])
        }
        return coins

    def _deliveries(self, coins):
        """Where events go: the guard of per-payment URLs, the registered targets, the
        webhook dispatcher, AMQP, e-mail, the renderer and the outbox that queues for all."""
        config, clock = self.config, self.clock
        # Where events go: webhooks (signed, by the dispatcher) and AMQP (by the publisher).
        # Per-payment URLs reach public addresses and the allowed networks only (SSRF).
        self.guard = TargetGuard(config["webhook.allowed_networks"])
        # The targets every process queues deliveries for, kept in the database (the
        # daemon registers its configured ones at start-up; Greenfield webhooks are rows).
        self.targets = TargetRegistry(self.db, clock=clock)
        self.sender = Sender(
            config["webhook.secret"], config["webhook.timeout"], guard=self.guard, trusted=[config["webhook.url"]]
        )
        self.dispatcher = Dispatcher(
            self.db,
            self.sender,
            config["webhook.retry_schedule"],
            config["webhook.concurrency"],
            clock=clock,
            per_target=config["webhook.per_target_concurrency"],
            registry=self.targets,
        )
        self.amqp = build_amqp(config, self.db, clock)
        # The outbox: events and their deliveries, written in each change's transaction.
        self.renderer = Renderer(coins, config["api.read_cache"], config["server.public_url"], commit_mark(self.db))
        # Greenfield invoices' webhooks: derived from the payments' events in their transaction.
        self.greenfield_events = Projection(self.targets, {c: b.decimals for c, b in self.backends.items()})
        # E-mail ([email] smtp_url): the customer's messages, queued in their events' transaction.
        self.mail_dispatcher, self.customer_mail = build_email(config, self.db, self.backends, clock)
        self.alert_job = None  # the merchant's e-mail alerts: built once the rates and pools are
        self.outbox = Outbox(
            self.renderer,
            config["webhook.url"],
            extra_targets=[self.amqp.target] if self.amqp else [],
            listeners=[self.dispatcher.wake]
            + ([self.amqp.publisher.wake] if self.amqp else [])
            + ([self.mail_dispatcher.wake] if self.mail_dispatcher else []),
            registry=self.targets,
            projections=[self.greenfield_events] + ([self.customer_mail] if self.customer_mail else []),
        )

    def _money(self, coins, holder):
        """What changes payments and payouts: the rates, the payments service (AMQP's
        commands call it too), the payouts and refunds."""
        config, clock = self.config, self.clock
        # Fiat rates: stored quotes read on create, kept fresh by one refresher per pair in the cluster.
        self.rates, self.rate_refresher = build_rates(config, self.pm, self.backends, self.db, clock, holder)
        # What changes payments: the service (create) and each coin's Syncer (the ledger).
        self.payments = PaymentService(
            coins,
            self.outbox,
            self.renderer,
            db=self.db,
            pools=self.pools,
            clock=clock,
            rates=self.rates.price,
            price_lock=config["rates.lock"],
            guard=self.guard,
            # SQLite's one writer: the request threads' creates share a transaction.
            group=GroupCommit(self.db) if is_sqlite(self.db) and config["database.group_commit"] else None,
        )
        if self.amqp is not None:
            self.amqp.serve_commands(self.payments, config["api.max_body"], self.keys)
        # Money leaving: payouts and refunds, recorded and approved by the service, sent by
        # the runner (node-wallet coins with a fee rate cap), which an approval wakes.
        self.payout_runner, self.payout_batches = build_payout_runner(
            config, self.backends, self.pools, self.db, self.outbox, clock, holder
        )
        self.payouts = PayoutService(
            coins,
            self.outbox,
            db=self.db,
            limits=payout_limits(config, self.backends),
            clock=clock,
            public_url=config["server.public_url"] or "http://%s" % config["server.bind"],
            wake=self.payout_runner.wake if self.payout_runner is not None else None,
        )
        self.refunds = Refunds(self.payouts, rates=self.rates.price if self.rates.pairs() else None)

    def _views(self, holder):
        """Views over the ledger: Greenfield's store, invoices and webhooks, the reports and
        the reconciliation with each node."""
        config, clock = self.config, self.clock
        # BTCPay Greenfield: one store, its invoices (views over payments) and webhooks.
        self.greenfield = Greenfield(
            self.payments,
            self.db,
            self.greenfield_events,
            self.targets,
            {k.split(".", 1)[1]: config[k] for k in GREENFIELD_KEYS},
            config["server.public_url"] or "http://%s" % config["server.bind"],
            clock,
        )
        if self.mail_dispatcher is not None:
            alerts = MerchantAlerts(
                self.db,
                config["email.sender"],
                config["email.merchant"],
                config["email.alerts"],
                stale_pairs=self.rates.stale_pairs if self.rates.pairs() else None,
                pools=self.pools,
                clock=clock,
                backends=self.backends,
                language=config["email.merchant_language"],
            )
            claims = RefundClaims(self.db, self.customer_mail, config["server.public_url"], clock=clock)
            lease = ClusterLease("email-alerts", holder or new_holder_id(), 2 * config["email.alert_interval"], clock)
            self.alert_job = AlertJob([alerts, claims], config["email.alert_interval"], lease)
        # The accountant's files, and the reconciliation of the ledger with each node.
        self.reports = Reports({c: b.decimals for c, b in self.backends.items()})
        self.reconciler = Reconciler(self.backends, grace=config["reconcile.grace"], clock=clock)
        self.reconcile_job = None
        self.store_job = None  # the database's upkeep in the background (start())
        if config["reconcile.interval"]:
            window = config["reconcile.window"]
            lease = ClusterLease("reconcile", holder or new_holder_id(), config["reconcile.interval"] + 60, clock)
            period_of = lambda now: since(now, window)  # noqa: E731
            self.reconcile_job = ReconcileJob(self.reconciler, period_of, config["reconcile.interval"], lease)
        self.greenfield_payouts = GreenfieldPayouts(
            self.payouts,
            self.refunds,
            lambda: self.greenfield.store_id,
            rates=self.rates.price if self.rates.pairs() else None,
        )
        self.greenfield_hooks = Webhooks(
            self.db,
            self.targets,
            self.guard,
            clock,
            self.outbox.written_one,
            max_hooks=config["greenfield.max_webhooks"],
        )

    def _chain(self, holder):
        """The ledger's side: a Syncer per coin and their scheduler, the pool keeper, and
        the health report over all of it."""
        config, clock = self.config, self.clock
        self.syncers = {
            code: Syncer(
                code,
                backend,
                config.coins[code]["confirmations"],
                self.db,
                self.outbox,
                holder=holder,
                lease_seconds=config["sync.lease_seconds"],
                clock=clock,
            )
            for code, backend in self.backends.items()
        }
        self.scheduler = SyncScheduler(
            self.syncers,
            {c: config.coins[c]["poll_interval"] for c in self.syncers},
            clock,
            coalesce={c: config.coins[c]["sync_coalesce_ms"] / 1000 for c in self.syncers},
            quiet={c: config.coins[c]["sync_quiet_ms"] / 1000 for c in self.syncers},
        )
        pool_lease = ClusterLease("address-pool", holder or new_holder_id(), POOL_LEASE_SECONDS, clock)
        self.pool_keeper = PoolKeeper(self.pools, lease=pool_lease) if self.pools else None
        self.last_notify = {}  # currency -> when this process last got a notify ping (doctor's round trip)
        self.health = HealthReport(
            self.backends,
            self.pools,
            self.sync_counts,
            self.last_notify,
            self.amqp,
            stale_rates=self.rates.stale_pairs if self.rates.pairs() else None,
            db_outages=self.db.outages.report,
            db_problem=lambda: db_module.write_problem(self.db),
        )

    def _people(self):
        """The dashboard's users (the CLI makes the first; sessions, throttle, audit)."""
        config = self.config
        self.accounts = Accounts(
            self.db,
            clock=self.clock,
            require_2fa=config["dashboard.require_2fa"],
            session_hours=config["dashboard.session_hours"],
            lockout_failures=config["dashboard.lockout_failures"],
            lockout_minutes=config["dashboard.lockout_minutes"],
        )

    def dashboard(self):
        """The dashboard's pages and what they read, or None when ``[dashboard] enabled`` is off."""
        config = self.config
        if not config["dashboard.enabled"]:
            return None
        return Dashboard(
            accounts=self.accounts,
            payments=self.payments,
            health=self.health,
            db=self.db,
            outbox=self.outbox,
            sender=self.sender,
            key_store=self.key_store,
            path=config["dashboard.path"],
            time_zone=config["dashboard.time_zone"],
            webhook_url=config["webhook.url"],
            settings=settings_table.shown(config),
            payouts=self.payouts,
            batches=self.payout_batches,
            refunds=self.refunds,
            decimals={c: b.decimals for c, b in self.backends.items()},
            targets=self.targets.urls,
            invoice_of=self.greenfield.invoice_of,
            peers=Peers(config["server.trusted_proxies"]),
            secure=(config["server.public_url"] or "").startswith("https://"),
            reports=self.reports,
        )

    def app(self):
        """Return the WSGI app serving this runtime's payments."""
        config = self.config
        return create_app(
            self.payments,
            self.health,
            wake=self.wake,
            db=self.db,
            outbox=self.outbox,
            sender=self.sender,
            webhook_url=config["webhook.url"],
            keys=self.keys,
            notify_token=config["notify.token"],
            peers=Peers(config["server.trusted_proxies"]),
            max_body=config["api.max_body"],
            refresh_interval=config["checkout.refresh_interval"],
            rates=self.rates,
            greenfield=(self.greenfield, self.greenfield_hooks, self.greenfield_payouts),
            qr_style=qr.default_style(**{name: config["qrcode." + name] for name in qr.OPTIONS}),
            metrics_state=StateCollector(self.health.metrics_state),
            branding=self.branding(),
            reports=self.reports,
            reconciler=self.reconciler,
            payouts=(self.payouts, self.refunds, self.payout_batches),
            dashboard=self.dashboard(),
        )

    def branding(self):
        """The checkout page's store name and logo ([checkout]), and each coin node's chain
        for its test-network badge (asked once per backend, then kept by it)."""
        return checkout_page.Branding(
            store_name=self.config["checkout.store_name"],
            logo=checkout_page.load_logo(self.config["checkout.logo"]),
            network=lambda currency: self.backends[currency].network(),
        )

    def prepare_schema(self):
        """Migrate when configured to, else raise NotMigrated if migrations are pending."""
        with db_module.opening(self.db):
            if self.config["database.auto_migrate"]:
                for name in migrations.apply(self.db):
                    log.info("applied migration %s", name)
            migrations.check(self.db)

    def check_watch_keys(self):
        """Raise ConfigError (naming the coin's key) when a watch-only key is of another
        network than its node, or the node derives other addresses than Transient. A node
        that does not answer is only logged: the pool keeper checks again once it does."""
        for code, pool in sorted(self.pools.items()):
            if pool.watch_only:
                try:
                    pool.check_network()  # asks the node's chain and checks the key's network
                    pool.check_wallet()
                except NodeError as exc:
                    log.warning("%s: watch-only key not checked against the node yet: %s", code, exc)

    def guard_pools(self):
        """At a daemon's start: when the pool keeper's lease was not given back (its process
        did not stop cleanly, another daemon runs on this database, or it is a copy taken
        while a daemon ran: a restored backup), drop every coin's unclaimed pooled addresses.
        Addresses that were unclaimed in the copy may have been handed out afterwards to
        payments the copy does not hold; fresh ones come from the node (or the key's next
        index). A watch-only key is marked: before it derives again, its next index moves past
        every index the node's wallet watches beyond the database's registered end (a newer
        host registered them: payments/restore.py). Checked now when the node answers, else
        before the key's next batch; never raises for the node. Return how many were dropped."""
        if self.pool_keeper is None or self.pool_keeper.lease is None:
            return 0
        holder = self.pool_keeper.lease.unreleased()
        if holder is None:
            return 0  # the last keeper stopped cleanly: its pool is this database's
        dropped = 0
        for _, pool in sorted(self.pools.items()):
            dropped += pool.discard(restore.WHY % holder)
            if pool.watch_only:
                restore.mark(pool, holder)
                try:
                    restore.check_marked(pool)
                except NodeError as exc:
                    log.warning("%s (checked again before the key derives an address)", exc.message)
        return dropped

    def check_exposure(self):
        """Raise ConfigError when the daemon would listen beyond loopback with no API key
        (in the config or stored) unless ``[api] allow_anonymous`` says so: anyone who
        reaches it could create and list payments and read the merchant's data."""
        host = self.config["server.bind"].rpartition(":")[0]
        if is_loopback(host) or self.config["api.allow_anonymous"] or self.keys:
            return
        raise ConfigError(
            "server.bind %s is not a loopback address and no API key is set: set [api] keys"
            " (or make one with `transient keys create`), or [api] allow_anonymous = true"
            " to serve anyone" % host,
            field="server.bind",
        )

    def start(self, heartbeat=None):
        """Start the per-coin sync scheduler (it catches up from the stored cursor at once),
        the rates refresher, the pool keeper, the webhook dispatcher (pending deliveries resume from the
        database) and the AMQP publisher and consumer. ``heartbeat``: what the scheduler
        reports its liveness to (transientd's systemd ServiceState), if anything."""
        self._started = True
        self.register_targets()
        self.scheduler.start(heartbeat=heartbeat)
        if self.pool_keeper is not None:
            self.pool_keeper.start()
        self.dispatcher.start()
        if self.mail_dispatcher is not None:
            self.mail_dispatcher.start()
        if self.alert_job is not None:
            self.alert_job.start()
        if self.rate_refresher is not None:
            self.rate_refresher.start()
        if self.payout_runner is not None:
            self.payout_runner.start()
        if self.amqp is not None:
            self.amqp.start()
        if self.reconcile_job is not None:
            self.reconcile_job.start()
        # SQLite: the WAL's checkpoints, off the requests' commits (store/checkpoints.py);
        # PostgreSQL: the overview's deltas folded (reports/rollup.py).
        self.store_job = Checkpointer(self.db) if is_sqlite(self.db) else rollup.Folder(self.db)
        self.store_job.start()

    def register_targets(self):
        """Make this daemon's configured webhook URL and AMQP exchange the targets every
        process queues deliveries for (a CLI with a bare environment included)."""
        urls = [self.config["webhook.url"], self.amqp.target if self.amqp else None]
        try:
            self.targets.register_config(urls)
        except Exception:  # noqa: BLE001 - the database may be away: this process still uses its own
            log.exception("could not register the delivery targets; retrying at the next start")

    def wake(self, currency):
        """Ask for a sync of ``currency`` now (coalesced with any running one); False when
        it was coalesced."""
        self.last_notify[currency] = self.clock()
        return self.scheduler.wake(currency)  # before start(), the scheduler keeps it until it starts

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
            if self.mail_dispatcher is not None:
                self.mail_dispatcher.stop()
            if self.alert_job is not None:
                self.alert_job.stop()
            if self.rate_refresher is not None:
                self.rate_refresher.stop()
            if self.pool_keeper is not None:
                self.pool_keeper.stop()
            if self.reconcile_job is not None:
                self.reconcile_job.stop()
            self.store_job.stop()
            if self.payout_runner is not None:
                self.payout_runner.stop()
            self._started = False
        for backend in self.backends.values():
            backend.close()
        if not self.db.is_closed():
            self.db.close()
