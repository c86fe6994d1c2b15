"""Health report: per coin, node reachable, chain tip, cursor lag, last sync; the AMQP
links; the database. Built once from the process's parts, read on every /healthz."""

from ..core.clock import iso, utcnow
from ..core.errors import NodeError
from ..delivery import admin
from ..store.models import ChainState


class HealthReport:
    """``backends`` and ``pools`` map a currency to its backend and address pool;
    ``sync_counts(currency)`` returns this process's ``{"wakes", "syncs"}``;
    ``last_notify`` maps a currency to when this process last got a ping;
    ``amqp`` has ``report()`` (None without AMQP); ``stale_rates()`` returns ``[(pair,
    reason)]`` of the fiat pairs without a usable rate (None: no fiat configured);
    ``db_outages()`` returns what this process saw of database outages
    (store.db.Outages.report); ``db_problem()`` what keeps the database from taking
    writes (None: nothing; store.db.write_problem)."""

    def __init__(
        self,
        backends,
        pools=None,
        sync_counts=None,
        last_notify=None,
        amqp=None,
        stale_rates=None,
        db_outages=None,
        db_problem=None,
    ):
        self.stale_rates = stale_rates
        self.backends = backends
        self.pools = pools or {}
        self.sync_counts = sync_counts or (lambda code: {})
        self.last_notify = last_notify if last_notify is not None else {}
        self.amqp = amqp
        self.db_outages = db_outages
        self.db_problem = db_problem

    def __call__(self):
        """Return ``{"ok": bool, "database": ..., "coins": {CODE: {...}}}``."""
        out = {"ok": True, "database": "ok", "coins": {}}
        states = self._database(out)
        for code, backend in sorted(self.backends.items()):
            out["coins"][code] = self._coin(code, backend, states.get(code), out)
        if self.stale_rates is not None:
            # Reported, never counted against "ok": payments in coins still work; priced
            # ones answer 503 rate_unavailable until the rate is fresh again.
            try:
                stale = self.stale_rates()
                out["rates"] = {"ok": not stale, "stale": [{"pair": p, "reason": r} for p, r in stale]}
            except Exception as exc:  # noqa: BLE001 - the database error is reported above
                out["rates"] = {"ok": False, "error": exc.__class__.__name__}
        if self.amqp is not None:
            # Reported, never counted against "ok": HTTP keeps working while the broker is
            # away, and the events wait in the outbox for it.
            out["amqp"] = self.amqp.report()
        return out

    def _database(self, out):
        """The coins' ChainState rows by currency; the database's answer goes into ``out``."""
        try:
            states = {s.currency: s for s in ChainState.select()}
        except Exception as exc:  # noqa: BLE001 - report, do not crash the health check
            out["ok"], out["database"], states = False, "error: %s" % exc.__class__.__name__, {}
        if out["database"] == "ok" and self.db_problem is not None:
            # It answers reads but takes no writes (a standby, a full disk): an outage too.
            try:
                problem = self.db_problem()
            except Exception as exc:  # noqa: BLE001 - as above
                problem = "error: %s" % exc.__class__.__name__
            if problem:
                out["ok"], out["database"] = False, problem
        if self.db_outages is not None:
            # Since this process started: {down_since, outages, last_error, last_error_at,
            # last_recovered_at, last_outage_seconds}.
            out["database_outages"] = self.db_outages()
        return states

    def _coin(self, code, backend, state, out):
        """One coin's entry (its node, cursor, syncs, pool); a coin that fails clears ``out["ok"]``."""
        coin = {"backend": backend.name}
        try:
            info = backend.ping()
            coin.update(node="ok", chain=info.get("chain"), tip_height=info.get("blocks"))
        except NodeError as exc:
            coin.update(node="unreachable", error=str(exc))
            out["ok"] = False
        coin["cursor_height"] = state.cursor_height if state else None
        coin["last_sync_at"] = iso(state.last_sync_at) if state else None
        coin["last_error"] = state.last_error if state else None
        # In this worker process: `transient doctor` watches it for its notify round trip.
        coin["last_notify_at"] = iso(self.last_notify.get(code))
        coin.update(self.sync_counts(code))
        coin["address_pool"] = _pool_size(self.pools.get(code))
        behind = _pool_behind(self.pools.get(code))
        if behind:
            # Reported, not counted against "ok": payments still get an address from
            # the node itself, slower; the operator sees the pool cannot keep up.
            coin["address_pool_behind"] = behind
        if getattr(self.pools.get(code), "watch_only", False):
            coin["watch_only"] = _gap(self.pools[code])
            if not coin["watch_only"].get("gap_ok", True):
                out["ok"] = False
        if coin.get("tip_height") is not None and coin["cursor_height"] is not None:
            coin["cursor_lag"] = coin["tip_height"] - coin["cursor_height"]
        return coin

    def metrics_state(self):
        """What /metrics reads at each scrape (ops.metrics.StateCollector): per coin the
        node's tip (one RPC), the stored cursor, the last good sync and the pool; the
        outbox's backlog by target kind; whether the database answered."""
        now = utcnow()
        out = {"database_up": True, "coins": {}, "outbox": {}}
        try:
            states = {s.currency: s for s in ChainState.select()}
            out["outbox"] = admin.backlog(now)
        except Exception:  # noqa: BLE001 - a scrape reports the database as down, never fails
            out["database_up"], states = False, {}
        for code, backend in sorted(self.backends.items()):
            coin = {"node_up": False, "tip_height": None}
            try:
                coin.update(node_up=True, tip_height=backend.tip().height)
            except NodeError:
                pass
            state = states.get(code)
            coin["cursor_height"] = state.cursor_height if state else None
            if state is not None and state.last_sync_at is not None:
                coin["seconds_since_sync"] = max(0.0, (now - state.last_sync_at).total_seconds())
            coin["pool"] = _pool_size(self.pools.get(code)) if out["database_up"] else None
            out["coins"][code] = coin
        return out


def _pool_size(pool):
    try:
        return pool.available() if pool is not None else None
    except Exception:  # noqa: BLE001 - the database error is reported above
        return None


def _pool_behind(pool):
    try:
        return pool.report()["behind"] if pool is not None and hasattr(pool, "report") else None
    except Exception:  # noqa: BLE001 - the database error is reported above
        return None


def _gap(pool):
    """The watch-only key's gap report (fingerprint, next index, registered range, gap)."""
    try:
        report = pool.gap_report()
    except Exception as exc:  # noqa: BLE001 - reported, never crashes the health check
        return {"error": exc.__class__.__name__}
    report.pop("descriptor", None)
    return report
