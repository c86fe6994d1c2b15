"""The named builders of the runtime: each makes one part (the backends, a coin's address
pool, the rates, the payouts' runner, e-mail, AMQP) from the config, and says which key
is wrong with a ConfigError."""

import ipaddress
import logging
import socket
from decimal import Decimal

from ..chain import hdkeys
from ..chain.sync import new_holder_id
from ..core.errors import ConfigError, NodeError, ValidationError
from ..core.money import parse_amount
from ..delivery.mail import MailDispatcher, Mailer, parse_smtp_url
from ..email.customer import CustomerMail
from ..payments.pool import AddressPool, WatchPool
from ..payouts.batches import Batches
from ..payouts.detector import Detector
from ..payouts.psbt import PsbtSender
from ..payouts.runner import PayoutRunner
from ..payouts.sender import PayoutSender, Tracker
from ..payouts.service import Limits
from ..rates.book import Policy, RateBook
from ..rates.refresher import RateRefresher
from ..rates.registry import build_sources, collect_sources
from ..rates.store import PairLease
from ..store.db import write_transaction
from ..store.leases import ClusterLease

log = logging.getLogger("transient")

POOL_LEASE_SECONDS = 30  # a killed keeper's pools wait this long for another daemon's keeper
RECHECK = 1.0  # seconds a worker prices from the quotes it read before reading them again


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
    # The quotes are priced from memory, read again a second after (or at once after this
    # process's refresher saved): a priced create reads none of them.
    book = RateBook(
        currencies, config["rates.fiat"], sources, policy, via=config["rates.via"], clock=clock, recheck=RECHECK
    )
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
        saved=book.forget,
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
    """Return ``(runner, batches)``: the thread that follows every coin's payouts (paid by
    anyone: detected) and sends the approved ones of each coin with a ``[payouts]
    fee_rate_cap`` (a coin without one sends nothing): from the node's wallet in one
    sendmany, or for a watch-only coin as an unsigned PSBT to sign elsewhere."""
    caps = config["payouts.fee_rate_cap"]
    for code in caps:
        if code not in backends:
            name = "payouts.fee_rate_cap.%s" % code
            raise ConfigError("%s: %s is not a configured coin" % (name, code), field=name)
    coins, signers = {}, {}
    for code, backend in sorted(backends.items()):
        sender = None
        watch_only = code in pools and pools[code].watch_only
        options = dict(conf_target=config["payouts.conf_target"], batch_max=config["payouts.batch_max"], clock=clock)
        if code in caps and watch_only and getattr(backend, "PSBT", False):
            change = change_address(pools[code], db)
            sender = signers[code] = PsbtSender(code, backend, db, outbox, Decimal(caps[code]), change, **options)
        elif code in caps and not watch_only and getattr(backend, "SENDMANY_FEE_RATE", False):
            settle = 3 * config.coins[code]["rpc_timeout"]  # a request the node may still hold
            sender = PayoutSender(code, backend, db, outbox, Decimal(caps[code]), settle_seconds=settle, **options)
        elif code in caps:
            log.info("%s: payouts are not sent from this node (pay them yourself: they are detected)", code)
        coins[code] = (
            sender,
            Tracker(code, backend, db, outbox, clock=clock),
            Detector(code, backend, db, outbox, clock),
        )
    # The lease outlasts a round's longest RPC (a holder stuck in one is never joined by
    # another sender): three RPC timeouts, and three rounds.
    slowest = max((config.coins[c]["rpc_timeout"] for c in backends), default=10)
    seconds = max(10, 3 * config["payouts.interval"], 3 * slowest + 10)
    lease = ClusterLease("payouts", holder or new_holder_id(), seconds, clock)
    return PayoutRunner(coins, config["payouts.interval"], lease), Batches(signers)


def change_address(pool, db):
    """A function giving a fresh address of a watch-only coin's key, for a PSBT's change
    (claimed from its pool, as a payment's would be: never handed out again)."""

    def change():
        for _ in range(2):
            with write_transaction(db):
                claim = pool.claim()
            if claim is not None:
                return claim[0]
            pool.refill(low_water=1)
        raise NodeError("%s: no watch-only address for the change could be derived" % pool.currency)

    return change


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
        return AddressPool(code, backend, db, opts["address_pool"], clock=clock, batch_seconds=opts["rpc_timeout"] / 4)
    return WatchPool(
        code,
        backend,
        db,
        opts["address_pool"],
        watch,
        gap_limit=opts["gap_limit"],
        field="coins.%s.%s" % (code, "descriptor" if opts["descriptor"] else "xpub"),
        clock=clock,
        batch_seconds=opts["rpc_timeout"] / 4,
    )


def build_amqp(config, db, clock):
    """Return the process's AMQP side when ``[amqp] url`` is set, else None."""
    if not config["amqp.url"]:
        return None
    # pika is imported only where AMQP is configured: a worker without it saves its memory.
    from ..amqp.bridge import Amqp

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
