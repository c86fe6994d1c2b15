"""The merchant's e-mail alerts: what the merchant must hear of before a customer tells them.

Every ``interval`` seconds one process of the cluster (a job lease) looks for:

- ``delivery_given_up``: a delivery (webhook, AMQP, Greenfield, a customer's e-mail)
  given up after its retries;
- ``node_down``: a coin whose sync has failed for ``stall`` seconds (node down, or so
  busy it does not answer);
- ``node_behind``: a coin whose stored sync cursor is more than ``behind`` blocks below
  the node's tip (at most one a day per coin);
- ``rates_failing``: a fiat pair without a usable rate (priced payments are refused);
- ``watch_gap``: a watch-only key whose run of unused addresses passed its gap limit
  (a wallet restored from the seed would stop looking before the later payments);
- ``payout_awaiting_approval``: a payout (a refund claim) waiting for the merchant.

Each alert is an outbox event of its own (``alert.<kind>``, of no payment) with one
``mailto:`` delivery per merchant address, written in one transaction. Its event id is
derived from what it is about (the delivery, the coin and the time its trouble began,
the payout), so an alert is written once, whatever process or restart finds it again.
Each kind can be switched off (``[email] alerts``). Alerts are in ``[email]
merchant_language`` (one of the checkout's five, English by default): each subject and
line below is an English message of the e-mail catalogs (``_m``), translated when the
message is made, in plain text and HTML from one template pair (templates/alert.*).
"""

import datetime
import json
import logging
import threading
import uuid

from ..core.clock import iso
from ..core.errors import NodeError
from ..core.money import format_amount
from ..delivery import queue
from ..store.db import write_transaction
from ..store.models import ChainState, Delivery, Event, Payment
from ..store.payouts import Payout, PullPayment
from . import compose

log = logging.getLogger("transient.email")
NAMESPACE = uuid.UUID("6f1c2a7e-2d0b-4f5e-9a57-3c9e1b0d7a11")  # of the alerts' event ids
RECENT = datetime.timedelta(days=1)
KINDS = ("delivery_given_up", "node_down", "node_behind", "rates_failing", "watch_gap", "payout_awaiting_approval")


class Msg:
    """An English message of the e-mail catalogs and the values of its ``{name}``s (a value
    may be a Msg too), translated when the e-mail is made."""

    __slots__ = ("text", "values")

    def __init__(self, text, values):
        self.text, self.values = text, values

    def say(self, lang):
        values = {k: v.say(lang) if isinstance(v, Msg) else v for k, v in self.values.items()}
        return compose.catalogs()[lang].gettext(self.text).format(**values)


def _m(text, **values):
    return Msg(text, values)


class MerchantAlerts:
    """Finds what to tell the merchant and queues it, in ``language``. ``stale_pairs()`` returns the fiat
    pairs without a usable rate (``[(pair, reason)]``); ``pools`` maps a coin to its
    address pool (a watch-only one has ``gap_report``)."""

    def __init__(
        self,
        db,
        sender,
        merchants,
        kinds,
        stale_pairs=None,
        pools=None,
        stall=600,
        clock=None,
        backends=None,
        behind=6,
        language="en",
    ):
        self.db = db
        self.sender = sender
        self.merchants = list(merchants)
        self.kinds = frozenset(kinds)
        self.stale_pairs = stale_pairs or (lambda: [])
        self.pools = pools or {}
        self.stall = datetime.timedelta(seconds=stall)
        self.backends = backends or {}
        self.behind = behind
        self.clock = clock or datetime.datetime.utcnow
        self.language = compose.language(language)

    def tick(self):
        """Queue the alerts found now; return how many were new."""
        if not self.merchants:
            return 0
        now = self.clock()
        found = []
        for kind in KINDS:
            if kind in self.kinds:
                found += [(kind, key, subject, lines) for key, subject, lines in getattr(self, "_" + kind)(now)]
        return sum(self._queue(kind, key, subject, lines, now) for kind, key, subject, lines in found)

    # -- what is wrong ------------------------------------------------------------

    def _delivery_given_up(self, now):
        query = (
            Delivery.select(Delivery.id, Delivery.url, Delivery.attempts, Delivery.last_error, Event.type)
            .join(Event)
            .where(
                (Delivery.state == Delivery.FAILED)
                & ~Event.type.startswith("alert.")  # an alert given up makes no alert: no loop
                & (Delivery.created_at > now - RECENT)  # not the history of a first start
            )
            .order_by(Delivery.id.desc())
            .limit(100)
        )
        for d in query:
            where = _m("an e-mail to a customer") if d.url.startswith("mailto:") else _target(d.url)
            said = dict(id=d.id, event=d.event.type)
            yield (
                "delivery:%d" % d.id,
                _m("Delivery {id} given up ({event})", **said),
                [
                    _m(
                        "Transient gave up delivery {id} ({event}) to {where} after {attempts} attempt(s).",
                        where=where, attempts=d.attempts, **said,
                    ),
                    _m("Last error: {error}", error=(d.last_error or "-")[:300]),
                    _m(
                        "Send it again: POST /deliveries/{id}/redeliver (or transient webhooks redeliver {id}).",
                        id=d.id,
                    ),
                ],
            )  # fmt: skip

    def _node_down(self, now):
        for state in ChainState.select():
            if state.last_error_at is None or state.last_error is None:
                continue
            since = state.last_sync_at or state.last_error_at
            if now - since < self.stall:
                continue
            said = dict(coin=state.currency, since=iso(since))
            yield (
                "node:%s:%s" % (state.currency, iso(since)),
                _m("{coin}: no good sync since {since}", **said),
                [
                    _m("The {coin} sync has failed since {since}: payments of this coin are not seen.", **said),
                    _m("Last error: {error}", error=state.last_error[:300]),
                    _m("Check the node (transient doctor)."),
                ],
            )

    def _node_behind(self, now):
        cursors = dict(ChainState.select(ChainState.currency, ChainState.cursor_height).tuples())
        for code, backend in sorted(self.backends.items()):
            if cursors.get(code) is None:
                continue
            try:
                lag = backend.tip().height - cursors[code]
            except NodeError:
                continue  # a node that does not answer is node_down's
            if lag > self.behind:
                yield (
                    "behind:%s:%s" % (code, now.date().isoformat()),
                    _m("{coin}: the sync is {lag} blocks behind the node", coin=code, lag=lag),
                    [
                        _m(
                            "Transient's {coin} ledger is {lag} blocks behind the node's tip: payments there are"
                            " seen late. Look at the sync's log lines and transient doctor.",
                            coin=code, lag=lag,
                        )
                    ],
                )  # fmt: skip

    def _rates_failing(self, now):
        hour = now.replace(minute=0, second=0, microsecond=0)
        for pair, reason in self.stale_pairs():
            yield (
                "rates:%s:%s" % (pair, iso(hour.replace(hour=0))),  # at most one a day per pair
                _m("No usable {pair} rate", pair=pair),
                [
                    _m("Payments priced in {fiat} are refused: {reason}", fiat=pair.split("/")[1], reason=reason),
                    _m("See: transient rates"),
                ],
            )

    def _watch_gap(self, now):
        for code, pool in sorted(self.pools.items()):
            report = getattr(pool, "gap_report", None)
            if report is None:
                continue
            gap = report()
            if gap.get("gap") is not None and gap.get("gap_limit") and gap["gap"] > gap["gap_limit"]:
                said = dict(coin=code, gap=gap["gap"], limit=gap["gap_limit"])
                yield (
                    "gap:%s:%s:%s" % (code, gap["fingerprint"], gap.get("last_handed_out")),
                    _m("{coin}: {gap} unused addresses in a row (gap limit {limit})", **said),
                    [
                        _m(
                            "The watch-only key {fingerprint} handed out {gap} addresses in a row that were never"
                            " paid, more than a wallet restored from its seed looks ahead ({limit}).",
                            fingerprint=gap["fingerprint"], **said,
                        ),
                        _m("Raise the gap limit of the wallet you would restore into."),
                    ],
                )  # fmt: skip

    def _payout_awaiting_approval(self, now):
        query = Payout.select().where(Payout.state == "awaiting_approval").order_by(Payout.created_at).limit(100)
        for payout in query:
            backend = self.backends.get(payout.currency)
            amount = compose.numbers(self.language).format(
                format_amount(payout.amount, getattr(backend, "decimals", 8))
            )
            yield (
                "payout:%s" % payout.id,
                _m("Payout {id} awaits your approval", id=payout.id),
                [
                    _m(
                        "A payout of {amount} {currency} to {destination} awaits your approval.",
                        amount=amount, currency=payout.currency, destination=payout.destination,
                    ),
                    _m("Approve it: transient payouts approve {id}", id=payout.id),
                ],
            )  # fmt: skip

    # -- writing it down ----------------------------------------------------------

    def _queue(self, kind, key, subject, lines, now):
        """Write the alert ``kind`` about ``key`` once: its event and one e-mail per
        merchant address (``subject`` and ``lines`` are Msgs, said in the language)."""
        event_id = uuid.uuid5(NAMESPACE, key)
        lang = self.language
        subject, lines = subject.say(lang), [line.say(lang) for line in lines]
        with write_transaction(self.db):
            (
                Event.insert(
                    event_id=event_id,
                    payment=None,
                    payout_id=None,
                    sequence=0,
                    type="alert." + kind,
                    data=json.dumps({"key": key, "subject": subject}),
                    created_at=now,
                )
                .on_conflict_ignore()
                .execute()
            )
            row = Event.get(Event.event_id == event_id)
            if Delivery.select().where(Delivery.event == row.id).exists():
                return 0  # written before (by this process or another, before a restart): once
            rows = [
                dict(event=row.id, payment=None, sequence=0, url="mailto:" + to, body=body)
                for to in self.merchants
                for body in [self._message(subject, lines, to, event_id, now)]
            ]
            queue.queue(rows, now)
        log.warning("alert %s: %s (e-mailed to the merchant)", kind, subject, extra={"event": "alert." + kind})
        return 1

    def _message(self, subject, lines, to, event_id, now):
        return compose.alert(self.language, self.sender, to, subject, lines, str(event_id), now)


class RefundClaims:
    """The customer's ``refund_claim`` e-mail: a refund (a pull payment) of a payment with
    an ``email`` made in the last day, not claimed in full, gets its claim page's link
    once (the refunds service writes no event of its own; this finds them each round)."""

    def __init__(self, db, customer_mail, public_url, clock=None):
        self.db = db
        self.mail = customer_mail
        self.base_url = (public_url or "").rstrip("/")
        self.clock = clock or datetime.datetime.utcnow

    def tick(self):
        if "refund_claim" not in self.mail.kinds:
            return 0
        now = self.clock()
        query = (
            PullPayment.select(PullPayment, Payment)
            .join(Payment, on=(PullPayment.payment_id == Payment.id))
            .where(
                (PullPayment.created_at > now - RECENT)
                & (PullPayment.archived == False)  # noqa: E712 - SQL, not Python
                & (PullPayment.claimed < PullPayment.amount)
                & Payment.email.is_null(False)
            )
            .limit(200)
        )
        made = 0
        for pull in query:
            made += self._one(pull, pull.payment, now)
        return made

    def _one(self, pull, payment, now):
        event_id = uuid.uuid5(NAMESPACE, "claim:%s" % pull.id)
        with write_transaction(self.db):
            Event.insert(
                event_id=event_id, payment=None, payout_id=None, sequence=0, type="email.refund_claim",
                data=json.dumps({"pull_payment_id": pull.id}), created_at=now,
            ).on_conflict_ignore().execute()  # fmt: skip
            row = Event.get(Event.event_id == event_id)
            if Delivery.select().where(Delivery.event == row.id).exists():
                return 0
            values = self.mail.values("refund_claim", payment)
            values.update(
                amount=format_amount(pull.amount - pull.claimed), link="%s/claim/%s" % (self.base_url, pull.id)
            )
            text = self.mail.message("refund_claim", payment, values, "%s.refund_claim" % event_id, now)
            url = "mailto:" + payment.email
            # After the payment's messages so far: its mails reach the customer in order.
            queue.queue([dict(event=row.id, payment=payment.id, sequence=payment.event_seq, url=url, body=text)], now)
        return 1


def _target(url):
    head, sep, rest = url.partition("://")
    return head + sep + rest.split("/")[0].split("?")[0].rpartition("@")[2] if sep else url.split(":")[0]


class AlertJob:
    """Runs each of ``jobs`` (``tick()``: the merchant's alerts, the refund claims) every
    ``interval`` seconds in the process holding ``lease``."""

    def __init__(self, jobs, interval, lease):
        self.jobs = list(jobs)
        self.interval = interval
        self.lease = lease
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._loop, name="email-alerts", daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.wait(self.interval):
            try:
                if self.lease.claim():
                    for job in self.jobs:
                        job.tick()
            except Exception:  # noqa: BLE001 - the database may be down: log, go on
                log.exception("alerts: the round failed")

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
