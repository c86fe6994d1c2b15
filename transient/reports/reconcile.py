"""Reconciliation: the ledger against the node's wallet history, read-only.

Over a range (the wallet's time of an output, the ledger's ``first_seen``: the same
node time), every output the wallet shows must be in the ledger with its amount and,
when its address is a payment's, credited to that payment (an output to an address of
no payment is listed as unmatched: kept, never dropped); every output the ledger
credits must be in the wallet. Anything else is a difference. Outputs are matched over
the whole wallet and only reported when in range, so the ends of the range never make
one on their own. What the daemon has not had time to sync is left out: outputs in
blocks above the stored cursor, and outputs seen in the last ``grace`` seconds.
"""

import datetime
import logging
import threading
from dataclasses import dataclass, field

from ..core.clock import utcnow
from ..core.errors import UnknownCurrency
from ..core.money import format_amount
from ..ops import metrics
from ..store.db import chunks
from ..store.models import ChainState, Payment, Receipt

log = logging.getLogger("transient.reconcile")

MISSING = "missing"  # in the wallet, not in the ledger
AMOUNT = "amount"  # both, with different amounts
PAYMENT = "payment"  # credited to another payment than its address's (or to none)
NOT_CREDITED = "not_credited"  # confirmed in the wallet, reversed in the ledger
NOT_IN_WALLET = "not_in_wallet"  # credited by the ledger, unknown to the wallet


@dataclass
class Result:
    currency: str
    wallet_outputs: int = 0  # in range
    ledger_credits: int = 0  # in range
    matched: int = 0
    unmatched: list = field(default_factory=list)  # outputs to no payment's address: (txid, output, address, amount)
    differences: list = field(default_factory=list)  # dicts: kind, txid, vout, amount, payment_id, detail

    @property
    def ok(self):
        return not self.differences

    def as_dict(self, decimals=8):
        money = lambda units: None if units is None else format_amount(units, decimals)  # noqa: E731
        return {
            "currency": self.currency,
            "ok": self.ok,
            "wallet_outputs": self.wallet_outputs,
            "ledger_credits": self.ledger_credits,
            "matched": self.matched,
            "unmatched": [{"txid": t, "vout": o, "address": a, "amount": money(v)} for t, o, a, v in self.unmatched],
            "differences": [dict(d, amount=money(d["amount"])) for d in self.differences],
        }


class Reconciler:
    """Compares each coin of ``backends`` (``{code: CoinBackend}``) with the ledger."""

    def __init__(self, backends, grace=120, clock=utcnow):
        self.backends = backends
        self.grace = datetime.timedelta(seconds=grace)
        self.clock = clock

    def run(self, currency, period):
        """Return the :class:`Result` of ``currency`` over ``period`` (a reports Period).
        Raises UnknownCurrency, NodeError when the node cannot be read."""
        backend = self.backends.get(currency)
        if backend is None:
            raise UnknownCurrency("is not a configured coin (%s)" % ", ".join(sorted(self.backends)), "currency")
        now = self.clock()
        recent = now - self.grace
        wallet = {o.key: o for o in backend.changes_since(None).outputs if o.confirmations >= 0}
        state = ChainState.get_or_none(ChainState.currency == currency)
        cursor = state.cursor_height if state is not None and state.cursor_height is not None else -1
        owners = _owners(currency, {o.address for o in wallet.values()})
        result = Result(currency)
        in_range = lambda t: t is None or _within(t, period)  # noqa: E731
        query = Receipt.select().where(Receipt.currency == currency).order_by(Receipt.id)
        for row in query.iterator():
            out = wallet.pop((row.txid, row.output), None)
            counted = row.state in Receipt.COUNTED
            if not in_range(row.first_seen if out is None else (out.seen_at or row.first_seen)):
                continue
            if counted and row.payment_id is not None:
                result.ledger_credits += 1
            if out is None:
                if counted and row.first_seen < recent:
                    result.differences.append(_difference(NOT_IN_WALLET, row, "the wallet does not list it"))
                continue
            result.wallet_outputs += 1
            problem = _compare(row, out, owners.get(out.address), counted)
            if problem:
                result.differences.append(_difference(problem[0], row, problem[1]))
            elif row.payment_id is None:
                result.unmatched.append((row.txid, _vout(row.output), row.address, row.amount))
            else:
                result.matched += 1
        for out in wallet.values():  # in the wallet, not in the ledger
            synced = out.block_height <= cursor if out.block_height is not None else (out.seen_at or now) < recent
            if synced and in_range(out.seen_at):
                result.wallet_outputs += 1
                detail = "the ledger has no receipt of it"
                result.differences.append(_difference(MISSING, out, detail, payment=owners.get(out.address)))
        return result


def _compare(row, out, owner, counted):
    """Return (kind, detail) of what is wrong between a receipt and its wallet output, or None."""
    if row.amount != out.amount:
        return AMOUNT, "the ledger has %d base units, the wallet %d" % (row.amount, out.amount)
    if row.payment_id != owner:
        return PAYMENT, "credited to %s, its address is %s's" % (row.payment_id or "no payment", owner or "no payment")
    if not counted and out.confirmations > 0:
        return NOT_CREDITED, "the ledger has it %s, the wallet in a block (%d confirmations)" % (
            row.state,
            out.confirmations,
        )
    return None


def _difference(kind, item, detail, payment=None):
    pid = getattr(item, "payment_id", None) or payment
    return {
        "kind": kind,
        "txid": item.txid,
        "vout": _vout(item.output),
        "address": item.address,
        "amount": item.amount,
        "payment_id": str(pid) if pid is not None else None,
        "detail": detail,
    }


def _vout(output):
    return int(output) if output.isdigit() else output


def _within(moment, period):
    return (period.start is None or moment >= period.start) and (period.end is None or moment < period.end)


def _owners(currency, addresses):
    """``{address: payment id}`` of the payments of ``currency`` at ``addresses``."""
    found = {}
    for part in chunks(sorted(addresses)):
        query = Payment.select(Payment.id, Payment.address).where(
            (Payment.currency == currency) & Payment.address.in_(part)
        )
        found.update({p.address: p.id for p in query})
    return found


class ReconcileJob:
    """The scheduled reconciliation: every ``interval`` seconds, in the one process of the
    cluster holding ``lease`` (a store.leases.ClusterLease), each coin over the last
    ``window`` seconds; the differences go to the transient_reconcile_differences gauge
    (an alert rule fires on it) and a warning line."""

    def __init__(self, reconciler, period_of, interval, lease, first_delay=None):
        self.reconciler = reconciler
        self.period_of = period_of  # now -> the Period to check
        self.interval = interval
        # The first round soon after start (after the start-up sync), not an interval later.
        self.first_delay = min(interval, 30) if first_delay is None else first_delay
        self.lease = lease
        self._stop = threading.Event()
        self._thread = None

    def tick(self):
        """Reconcile every coin if this process holds the lease; return ``{code: Result}``."""
        if not self.lease.claim():
            return {}
        results = {}
        for code in sorted(self.reconciler.backends):
            try:
                result = self.reconciler.run(code, self.period_of(self.reconciler.clock()))
            except Exception as exc:  # noqa: BLE001 - a node away: the next round tries again
                log.warning("reconcile %s: could not run (%s)", code, exc.__class__.__name__)
                metrics.RECONCILE_FAILURES.labels(code).inc()
                continue
            results[code] = result
            metrics.RECONCILE_DIFFERENCES.labels(code).set(len(result.differences))
            metrics.RECONCILE_LAST_RUN.labels(code).set_to_current_time()
            if not result.ok:
                kinds = sorted({d["kind"] for d in result.differences})
                log.warning(
                    "reconcile %s: %d difference(s) between the ledger and the wallet (%s); "
                    "run `transient reconcile %s` for the list",
                    code,
                    len(result.differences),
                    ", ".join(kinds),
                    code,
                    extra={"event": "reconcile.differences", "currency": code},
                )
        return results

    def start(self):
        self._thread = threading.Thread(target=self._loop, name="reconcile", daemon=True)
        self._thread.start()

    def _loop(self):
        wait = self.first_delay
        while not self._stop.wait(wait):
            wait = self.interval
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the database may be down: log, go on
                log.exception("reconcile: the scheduled run failed")

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
