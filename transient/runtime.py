"""The one place that builds and wires: every collaborator of a process, once, in order,
from the config. Nothing else reads the whole config or rewires another object.

The route of a change to the merchant reads top to bottom in ``Runtime.__init__``:
the ledger (in each coin's Syncer) and the payments service write events into the
outbox in the change's transaction; the outbox turns each into one delivery per
target (the webhook URL, the payment's callback, the AMQP exchange) and, after the
commit, wakes its listeners: the webhook Dispatcher and the AMQP Publisher.
"""

import ipaddress
import logging
import socket
from decimal import Decimal

from . import settings as settings_table
from .accounts.service import Accounts
from .api.app import create_app
from .api.checkout import page as checkout_page
from .api.checkout import qr
from .api.dashboard import Dashboard
from .api.health import HealthReport
from .api.peers import Peers
from .chain import hdkeys, plugins
from .chain.scheduler import SyncScheduler
from .chain.sync import Syncer, new_holder_id
from .core.clock import utcnow
from .core.errors import ConfigError, NodeError, ValidationError
from .core.keys import KeyRing
from .core.money import parse_amount
from .delivery.dispatcher import Dispatcher
from .delivery.mail import MailDispatcher, Mailer, parse_smtp_url
from .delivery.outbox import Outbox
from .delivery.registry import TargetRegistry
from .delivery.sender import Sender
from .delivery.targets import TargetGuard
from .email.alerts import AlertJob, MerchantAlerts
from .email.customer import CustomerMail
from .greenfield.invoices import Greenfield
from .greenfield.payouts import GreenfieldPayouts
from .greenfield.projection import Projection
from .greenfield.webhooks import Webhooks
from .ops import logs
from .ops.metrics import StateCollector
from .payments.pool import AddressPool, PoolKeeper, WatchPool
from .payments.rendering import Renderer
from .payments.service import PaymentService
from .payouts.detector import Detector
from .payouts.refunds import Refunds
from .payouts.runner import PayoutRunner
from .payouts.sender import PayoutSender, Tracker
from .payouts.service import Limits, PayoutService
from .rates.book import Policy, RateBook
from .rates.refresher import RateRefresher
from .rates.registry import build_sources, collect_sources
from .rates.store import PairLease
from .reports.period import since
from .reports.reconcile import ReconcileJob, Reconciler
from .reports.service import Reports
from .store import db as db_module
from .store import migrations
from .store.db import open_database
from .store.keys import KeyStore
from .store.leases import ClusterLease

POOL_LEASE_SECONDS = 30  # a killed keeper's pools wait this long for another daemon's keeper

log = logging.getLogger("transient")
GREENFIELD_KEYS = (
    "greenfield.store_id",
    "greenfield.store_name",
    "greenfield.default_currency",
    "greenfield.speed_policy",
    "greenfield.expiration_minutes",
    "greenfield.monitoring_minutes",
    "greenfield.payment_tolerance",
)


def build_backends(config, backend_classes):
    """Return ``{currency: backend instance}``; an unknown backend name is a ConfigError."""
    backends = {}
    for code, opts in sorted(config.coins.items()):
        cls = backend_classes.get(opts["backend"])
        if cls is None:
            raise ConfigError(
                "coins.%s.backend: unknown backend %r (installed: %s)"
                % (code, opts["backend"], ", ".join(sorted(backend_classes)) or "none"),
                field="coins.%s.backend" % code,
            )
        backends[code] = cls(code, opts)
    return backends


def build_rates(config, pm, currencies, db, clock, holder=None):
    """Return ``(RateBook, RateRefresher or None)``: the stored rates of the coins in ``[rates]
    fiat``, and the job that keeps them fresh (None when no fiat is configured)."""
    sources = build_sources(config["rates.sources"], collect_sources(pm), config.rate_sources)
    policy = Policy(
        config["rates.max_age"], config["rates.max_deviation"], config["rates.min_sources"], config["rates.spread"]
    )
    book = RateBook(currencies, config["rates.fiat"], sources, policy, via=config["rates.via"], clock=clock)
    if config["rates.min_sources"] > len(sources):
        raise ConfigError(
            "rates.min_sources: %d quotes cannot agree with %d source(s) in rates.sources"
            % (config["rates.min_sources"], len(sources)),
            field="rates.min_sources",
        )
    if not book.pairs():
        return book, None
    lease = PairLease(holder or new_holder_id(), 120, clock)
    return book, RateRefresher(
        book.plan(),
        sources,
        db,
        config["rates.refresh_interval"],
        lease,
        clock,
        max_move=Decimal(config["rates.max_move"]),
    )


def payout_limits(config, backends):
    """Return the payouts' :class:`Limits` in each coin's base units; a coin that is not
    configured, or an amount it cannot hold, is a ConfigError naming the key."""
    tables = {}
    for key in ("auto_approve_below", "daily_cap"):
        table = tables[key] = {}
        for code, text in config["payouts." + key].items():
            name = "payouts.%s.%s" % (key, code)
            if code not in backends:
                raise ConfigError("%s: %s is not a configured coin" % (name, code), field=name)
            try:
                table[code] = parse_amount(text, name, backends[code].max_money, backends[code].decimals)
            except ValidationError as exc:
                raise ConfigError("%s %s" % (name, exc.message), field=name) from None
    return Limits(tables["auto_approve_below"], tables["daily_cap"])


def build_payout_runner(config, backends, pools, db, outbox, clock, holder):
    """Return the thread that follows every coin's payouts (paid by anyone: detected) and
    sends the approved ones of each coin whose node holds the keys and has a ``[payouts]
    fee_rate_cap`` (a coin without one sends nothing)."""
    caps = config["payouts.fee_rate_cap"]
    for code in caps:
        if code not in backends:
            name = "payouts.fee_rate_cap.%s" % code
            raise ConfigError("%s: %s is not a configured coin" % (name, code), field=name)
    coins = {}
    for code, backend in sorted(backends.items()):
        sender = None
        watch_only = code in pools and pools[code].watch_only
        if code in caps and not watch_only and getattr(backend, "SENDMANY_FEE_RATE", False):
            sender = PayoutSender(
                code,
                backend,
                db,
                outbox,
                Decimal(caps[code]),
                conf_target=config["payouts.conf_target"],
                batch_max=config["payouts.batch_max"],
                clock=clock,
            )
        elif code in caps:
            log.info("%s: payouts are not sent from this node (watch-only, or no fee rate on sendmany)", code)
        coins[code] = (
            sender,
            Tracker(code, backend, db, outbox, clock=clock),
            Detector(code, backend, db, outbox, clock),
        )
    seconds = max(10, 3 * config["payouts.interval"])
    lease = ClusterLease("payouts", holder or new_holder_id(), seconds, clock)
    return PayoutRunner(coins, config["payouts.interval"], lease)


def watch_key(code, opts):
    """Return the coin's watch-only :class:`~transient.chain.hdkeys.WatchKey`, or None
    (addresses from the node's wallet)."""
    if not (opts["xpub"] or opts["descriptor"]):
        return None
    return hdkeys.parse(
        code,
        opts["xpub"],
        opts["derivation"],
        opts["descriptor"],
        field="coins.%s.%s" % (code, "descriptor" if opts["descriptor"] else "xpub"),
    )


def build_email(config, db, backends, clock):
    """The MailDispatcher and the customer's e-mail projection, or (None, None) without
    ``[email] smtp_url``."""
    url = config["email.smtp_url"]
    if not url:
        return None, None
    if not config["email.sender"]:
        raise ConfigError("email.sender is required with email.smtp_url (the From: address)", "email.sender")
    mailer = Mailer(parse_smtp_url(url, config["email.insecure"]), config["email.timeout"], config["email.ca_file"])
    dispatcher = MailDispatcher(db, mailer, config["email.retry_schedule"], concurrency=2, clock=clock)
    customer = CustomerMail(
        config["email.sender"],
        config["email.customer"],
        config["email.rate_limit"],
        config["server.public_url"],
        {code: backend.decimals for code, backend in backends.items()},
    )
    return dispatcher, customer


def build_pool(code, backend, db, opts, clock):
    """Return the coin's address pool: derived from its watch-only key, or the node's."""
    watch = watch_key(code, opts)
    if watch is None:
        return AddressPool(code, backend, db, opts["address_pool"], clock=clock)
    return WatchPool(
        code,
        backend,
        db,
        opts["address_pool"],
        watch,
        gap_limit=opts["gap_limit"],
        field="coins.%s.%s" % (code, "descriptor" if opts["descriptor"] else "xpub"),
        clock=clock,
    )


def build_amqp(config, db, clock):
    """Return the process's AMQP side when ``[amqp] url`` is set, else None."""
    if not config["amqp.url"]:
        return None
    # pika is imported only where AMQP is configured: a worker without it saves its memory.
    from .amqp.bridge import Amqp

    return Amqp(
        config["amqp.url"],
        config["amqp.exchange"],
        config["amqp.rpc_queue"],
        config["amqp.retry_schedule"],
        config["amqp.confirm_timeout"],
        db,
        clock=clock,
    )


def is_loopback(host):
    """True when the bind host ``host`` (an address, ``[::1]`` or a name) reaches this
    machine only; a name counts when every address it resolves to is loopback."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(found) and all(ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in found)


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
        self.db.outages.transition = logs.Transition("database")  # its down/up lines once per daemon
        # Who may call: the config's keys (every scope) and the stored ones (transient keys).
        self.key_store = KeyStore(self.db, clock=clock)
        self.keys = KeyRing(config["api.keys"], self.key_store)
        self.pools = {
            code: build_pool(code, backend, self.db, config.coins[code], clock)
            for code, backend in self.backends.items()
            if config.coins[code]["address_pool"] or watch_key(code, config.coins[code])
        }
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
        self.renderer = Renderer(coins, read_cache=config["api.read_cache"], public_url=config["server.public_url"])
        # Greenfield invoices' webhooks: derived from the payments' events in their transaction.
        self.greenfield_events = Projection(self.targets, {c: b.decimals for c, b in self.backends.items()})
        # E-mail ([email] smtp_url): the customer's messages, queued in their events' transaction.
        self.mail_dispatcher, customer_mail = build_email(config, self.db, self.backends, clock)
        self.alert_job = None  # the merchant's e-mail alerts: built once the rates and pools are
        self.outbox = Outbox(
            self.renderer,
            config["webhook.url"],
            extra_targets=[self.amqp.target] if self.amqp else [],
            listeners=[self.dispatcher.wake]
            + ([self.amqp.publisher.wake] if self.amqp else [])
            + ([self.mail_dispatcher.wake] if self.mail_dispatcher else []),
            registry=self.targets,
            projections=[self.greenfield_events] + ([customer_mail] if customer_mail else []),
        )
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
        )
        if self.amqp is not None:
            self.amqp.serve_commands(self.payments, config["api.max_body"], self.keys)
        # Money leaving: payouts and refunds, recorded and approved by the service, sent by
        # the runner (node-wallet coins with a fee rate cap), which an approval wakes.
        self.payout_runner = build_payout_runner(config, self.backends, self.pools, self.db, self.outbox, clock, holder)
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
        if self.mail_dispatcher is not None and config["email.merchant"]:
            alerts = MerchantAlerts(
                self.db,
                config["email.sender"],
                config["email.merchant"],
                config["email.alerts"],
                stale_pairs=self.rates.stale_pairs if self.rates.pairs() else None,
                pools=self.pools,
                clock=clock,
            )
            lease = ClusterLease("email-alerts", holder or new_holder_id(), 2 * config["email.alert_interval"], clock)
            self.alert_job = AlertJob(alerts, config["email.alert_interval"], lease)
        # The accountant's files, and the reconciliation of the ledger with each node.
        self.reports = Reports({c: b.decimals for c, b in self.backends.items()})
        self.reconciler = Reconciler(self.backends, grace=config["reconcile.grace"], clock=clock)
        self.reconcile_job = None
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
        self.greenfield_hooks = Webhooks(self.db, self.targets, self.guard, clock, self.outbox.written_one)
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
        # The merchant's dashboard: its users (the CLI makes the first), and its pages.
        self.accounts = Accounts(
            self.db,
            clock=clock,
            require_2fa=config["dashboard.require_2fa"],
            session_hours=config["dashboard.session_hours"],
            lockout_failures=config["dashboard.lockout_failures"],
            lockout_minutes=config["dashboard.lockout_minutes"],
        )
        self._started = False

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
            decimals={c: b.decimals for c, b in self.backends.items()},
            targets=self.targets.urls,
            invoice_of=self.greenfield.invoice_of,
            peers=Peers(config["server.trusted_proxies"]),
            secure=(config["server.public_url"] or "").startswith("https://"),
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
            payouts=(self.payouts, self.refunds),
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
            if self.payout_runner is not None:
                self.payout_runner.stop()
            self._started = False
        for backend in self.backends.values():
            backend.close()
        if not self.db.is_closed():
            self.db.close()
