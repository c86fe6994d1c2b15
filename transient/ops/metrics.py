"""The daemon's Prometheus metrics: every family Transient exports, in one place.

The instrumented code imports this module and calls a named metric
(``metrics.SYNC_RUNS.labels(currency).inc()``); nothing else imports
prometheus_client. Under transientd the figures live in prometheus_client's
multiprocess files (``PROMETHEUS_MULTIPROC_DIR``, made fresh at each start), so
``GET /metrics`` served by any gunicorn worker adds up every worker's counts; in a
CLI process or a unit test they stay in the process.

Label values are always from small, fixed sets (currencies of the config, statuses,
route templates, RPC method names): a client can never add a label value.

Gauges read from the database or the node (outbox backlog, pool size, cursor lag)
are computed when scraped, by :class:`StateCollector`, in the worker that answers.
"""

import os
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.core import GaugeMetricFamily

from . import memory

# The text format every Prometheus reads (2.x too: Debian 12 ships 2.42); the names
# and labels here are all plain ASCII, so it is the same text as format 1.0.0.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Seconds; a sync is milliseconds on a quiet wallet and seconds in a burst.
SYNC_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
RPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

# -- payments -------------------------------------------------------------------
PAYMENTS_CREATED = Counter("transient_payments_created", "Payments created.", ["currency"])
STATUS_CHANGES = Counter(
    "transient_payment_status_changes",
    "Payment status changes, by the status reached and what caused the change.",
    ["currency", "status", "cause"],
)
RECEIVED_UNITS = Counter(
    "transient_received_base_units",
    "Amounts credited to payments (outputs seen, in the coin's base unit: satoshis, litoshis).",
    ["currency"],
)
# -- sync -----------------------------------------------------------------------
SYNC_RUNS = Counter("transient_sync_runs", "Sync rounds that completed.", ["currency"])
SYNC_FAILURES = Counter(
    "transient_sync_failures", "Syncs that failed (reason: node or internal).", ["currency", "reason"]
)
SYNC_DURATION = Histogram(
    "transient_sync_duration_seconds",
    "Time of a sync (lease, listing, ledger, cursor).",
    ["currency"],
    buckets=SYNC_BUCKETS,
)
# -- node RPC -------------------------------------------------------------------
RPC_CALLS = Counter("transient_rpc_calls", "JSON-RPC requests sent to the node.", ["currency", "method"])
RPC_ERRORS = Counter(
    "transient_rpc_errors",
    "JSON-RPC requests that failed (kind: unreachable, auth, busy, rpc, other).",
    ["currency", "method", "kind"],
)
RPC_DURATION = Histogram(
    "transient_rpc_duration_seconds", "Time of a JSON-RPC request.", ["currency", "method"], buckets=RPC_BUCKETS
)
# -- notify pings -----------------------------------------------------------------
NOTIFY_PINGS = Counter("transient_notify_pings", "walletnotify/blocknotify pings accepted.", ["currency", "kind"])
NOTIFY_COALESCED = Counter(
    "transient_notify_coalesced",
    "Pings that started no sync of their own (one was running or queued already).",
    ["currency"],
)
# -- deliveries ---------------------------------------------------------------------
DELIVERIES = Counter(
    "transient_deliveries",
    "Delivery attempts by target kind (webhook, amqp) and outcome: sent, retried (failed,"
    " another attempt is scheduled), failed (given up after the retries).",
    ["kind", "outcome"],
)
# -- reconciliation (reports.reconcile.ReconcileJob: one process of the cluster) ----
RECONCILE_DIFFERENCES = Gauge(
    "transient_reconcile_differences",
    "Differences between the ledger and the node's wallet found by the last scheduled reconciliation.",
    ["currency"],
    multiprocess_mode="mostrecent",  # the last run's figure, whichever worker ran it
)
RECONCILE_LAST_RUN = Gauge(
    "transient_reconcile_last_run_timestamp_seconds",
    "When the last scheduled reconciliation of the coin finished (Unix time).",
    ["currency"],
    multiprocess_mode="mostrecent",
)
RECONCILE_FAILURES = Counter(
    "transient_reconcile_failures",
    "Scheduled reconciliations that could not run (node or database away).",
    ["currency"],
)
# -- HTTP -------------------------------------------------------------------------
HTTP_REQUESTS = Counter(
    "transient_http_requests", "HTTP requests answered, by route template and status.", ["method", "route", "status"]
)
HTTP_DURATION = Histogram(
    "transient_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["method", "route"],
    buckets=HTTP_BUCKETS,
)
# -- the dashboard ------------------------------------------------------------------
SIGN_INS = Counter(
    "transient_dashboard_sign_ins",
    "Dashboard sign-in attempts by outcome: ok, failed (wrong password or code), locked (refused unread).",
    ["outcome"],
)
LOCKOUTS = Counter(
    "transient_dashboard_lockouts",
    "Dashboard sign-in lockouts begun, by what was locked: account or address.",
    ["kind"],
)
# -- the process --------------------------------------------------------------------
MEMORY = Gauge(
    "transient_process_resident_memory_bytes",
    "Resident memory of each live worker process.",
    multiprocess_mode="liveall",
)

DELIVERY_OUTCOMES = ("sent", "retried", "failed")
HTTP_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))


def observe_rss():
    """Set this process's resident memory (a worker calls it on each poll and scrape)."""
    MEMORY.set(memory.rss_mb() * 2**20)


_HTTP_CHILDREN = {}  # (method, route, status) -> (counter, histogram): labels() once each


def http_request(method, route, status, seconds):
    """Count one answered request; ``route`` is the route template (None: no route).
    The labelled children are kept (the keys are bounded: known methods, the routes,
    the status codes), so a request costs two locked writes and no label lookups."""
    method = method if method in HTTP_METHODS else "other"
    children = _HTTP_CHILDREN.get((method, route, status))
    if children is None:
        label = route or "unmatched"
        children = HTTP_REQUESTS.labels(method, label, str(status)), HTTP_DURATION.labels(method, label)
        _HTTP_CHILDREN[(method, route, status)] = children
    children[0].inc()
    children[1].observe(seconds)


def rpc_method(methods):
    """The method label of a request of ``methods``: the name, or ``batch(a,b)`` of the
    distinct names (a batch of 500 gettransaction calls is ``batch(gettransaction)``)."""
    names = sorted(set(methods))
    return names[0] if len(methods) == 1 else "batch(%s)" % ",".join(names)


class Timer:
    """``with Timer() as t: ...``; then ``t.seconds``."""

    def __enter__(self):
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        return False


# -- scrape-time state ------------------------------------------------------------------


class StateCollector:
    """The gauges read when /metrics is scraped (a prometheus_client custom collector).

    ``state()`` returns a dict (computed by the runtime from the database and the nodes):
    ``coins``: ``{currency: {"node_up": bool, "tip_height": int|None, "cursor_height":
    int|None, "seconds_since_sync": float|None, "pool": int|None}}``; ``database_up``;
    ``outbox``: ``{kind: (backlog, oldest age in seconds or None)}``.
    """

    def __init__(self, state):
        self.state = state

    def collect(self):
        state = self.state()
        coins = state.get("coins", {})
        up = _gauge("transient_node_up", "1 when the coin's node answered the scrape's ping.", ["currency"])
        tip = _gauge("transient_node_tip_height", "The node's chain height at the scrape.", ["currency"])
        cursor = _gauge("transient_sync_cursor_height", "The height the last good sync reached.", ["currency"])
        lag = _gauge(
            "transient_sync_cursor_lag_blocks", "Blocks between the node's tip and the sync's cursor.", ["currency"]
        )
        since = _gauge(
            "transient_sync_seconds_since_success",
            "Seconds since the coin's last good sync (in any worker or host).",
            ["currency"],
        )
        pool = _gauge("transient_address_pool_available", "Unused addresses in the coin's pool.", ["currency"])
        for code, coin in sorted(coins.items()):
            up.add_metric([code], 1.0 if coin.get("node_up") else 0.0)
            for family, value in (
                (tip, coin.get("tip_height")),
                (cursor, coin.get("cursor_height")),
                (since, coin.get("seconds_since_sync")),
                (pool, coin.get("pool")),
            ):
                if value is not None:
                    family.add_metric([code], float(value))
            if coin.get("tip_height") is not None and coin.get("cursor_height") is not None:
                lag.add_metric([code], float(max(0, coin["tip_height"] - coin["cursor_height"])))
        database = _gauge("transient_database_up", "1 when the scrape's database queries succeeded.", [])
        database.add_metric([], 1.0 if state.get("database_up") else 0.0)
        backlog = _gauge(
            "transient_outbox_backlog", "Deliveries not yet delivered nor given up, by target kind.", ["kind"]
        )
        oldest = _gauge(
            "transient_outbox_oldest_pending_age_seconds",
            "Age of the oldest undelivered event's delivery, by target kind (0 when none waits).",
            ["kind"],
        )
        for kind, (count, age) in sorted(state.get("outbox", {}).items()):
            backlog.add_metric([kind], float(count))
            oldest.add_metric([kind], float(age or 0.0))
        return [up, tip, cursor, lag, since, pool, database, backlog, oldest]


def _gauge(name, documentation, labels):
    return GaugeMetricFamily(name, documentation, labels=labels)


def multiprocess_dir():
    """The directory of the workers' metric files, or None (one process: in memory)."""
    path = os.environ.get(MULTIPROC_ENV)
    return path if path and os.path.isdir(path) else None


def render(collector=None):
    """Return the text exposition of every family: every worker's figures (multiprocess
    mode) or this process's, and ``collector``'s scrape-time gauges."""
    observe_rss()
    registry = CollectorRegistry(auto_describe=False)
    path = multiprocess_dir()
    if path:
        _multiprocess.MultiProcessCollector(registry, path=path)
    else:
        registry.register(_InProcess())
    if collector is not None:
        registry.register(collector)
    return generate_latest(registry)


class _InProcess:
    """This process's own metrics (no multiprocess directory: a CLI or a test)."""

    def collect(self):
        families = (
            PAYMENTS_CREATED,
            STATUS_CHANGES,
            RECEIVED_UNITS,
            SYNC_RUNS,
            SYNC_FAILURES,
            SYNC_DURATION,
            RPC_CALLS,
            RPC_ERRORS,
            RPC_DURATION,
            NOTIFY_PINGS,
            NOTIFY_COALESCED,
            DELIVERIES,
            RECONCILE_DIFFERENCES,
            RECONCILE_LAST_RUN,
            RECONCILE_FAILURES,
            HTTP_REQUESTS,
            HTTP_DURATION,
            MEMORY,
        )
        for family in families:
            yield from family.collect()
